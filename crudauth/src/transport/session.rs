//! Cookie sessions: server-side rows, `__Host-` cookies, CSRF on unsafe
//! methods.

use std::sync::Arc;

use axum::http::request::Parts;

use crate::principal::Principal;
use crate::state::{CrudAuth, Transport, TransportFuture};
use crate::store::sessions;
use crate::{cookies, csrf, tokens};

/// The cookie-session transport, for browsers.
///
/// # Examples
///
/// ```
/// use crudauth::{SessionTransport, Transport};
/// assert_eq!(SessionTransport::new().name(), "session");
/// ```
#[derive(Debug, Clone, Default)]
pub struct SessionTransport {
    _private: (),
}

impl SessionTransport {
    /// The transport's name in `#[authed(transport = "session")]`.
    pub const NAME: &'static str = "session";

    /// A session transport with the `CrudAuth`'s cookie and timeout settings.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Transport for SessionTransport {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn authenticate<'a>(&'a self, parts: &'a Parts, auth: &'a CrudAuth) -> TransportFuture<'a> {
        Box::pin(async move {
            let Some(token) =
                cookies::find(&parts.headers, &auth.inner.config.cookies.session_name())
            else {
                return Ok(None);
            };
            // A cookie of the wrong shape cannot name a session: treat it as
            // absent rather than spend a query on it.
            if !tokens::well_formed(&token) {
                return Ok(None);
            }
            let db = &auth.inner.db;
            let hash = tokens::digest(&token);
            let at = tokens::now();
            let (user, row, cached) = match auth.inner.cache.session(&hash) {
                Some(entry) => (entry.user.clone(), entry.row(), Some(entry)),
                None => {
                    // One round trip: the session row and its user together.
                    let Some((user, row)) = auth.inner.users.by_session(db, &hash).await? else {
                        return Ok(None);
                    };
                    // A deactivated user's sessions end rather than wait
                    // for a reactivation; a session from before a password
                    // change is dead. Both are fixed while an entry is
                    // cached: a change of either invalidates it.
                    let stale = row.password_epoch != tokens::password_epoch(&user.password_hash);
                    if !user.is_active || stale || sessions::is_expired(&row, at) {
                        sessions::delete(db, &row.id).await?;
                        return Ok(None);
                    }
                    let user = Arc::new(user);
                    let entry =
                        auth.inner
                            .cache
                            .keep_session(hash.clone(), user.clone(), row.clone());
                    (user, row, entry)
                }
            };
            if sessions::is_expired(&row, at) {
                auth.inner.cache.forget_session(&hash);
                sessions::delete(db, &row.id).await?;
                return Ok(None);
            }
            if !csrf::is_safe(&parts.method) {
                let expected = csrf::token_for(&auth.inner.secret, &token);
                csrf::verify(parts, &expected, &auth.inner.config)?;
            }
            if sessions::due_for_touch(&row, at) {
                // The first request to see the slide writes it, behind the
                // response: a cached session must not wait for a write.
                let first = cached
                    .as_ref()
                    .is_none_or(|e| e.slide(row.last_seen_at, at));
                if first {
                    let db = db.clone();
                    let id = row.id.clone();
                    tokio::spawn(async move {
                        if let Err(err) = sessions::touch(&db, &id, at).await {
                            tracing::warn!(error = %err, "crudauth: could not record a session's last use");
                        }
                    });
                }
            }
            let mut principal = Principal::for_shared(user, Self::NAME);
            principal.session_id = Some(row.id);
            principal.mfa = row.mfa;
            principal.authenticated_at = Some(row.authenticated_at);
            Ok(Some(principal))
        })
    }
}
