//! Cookie sessions: server-side rows, `__Host-` cookies, CSRF on unsafe
//! methods.

use std::sync::Arc;

use axum::http::request::Parts;

use crate::cache::SessionEntry;
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
            let cache = &auth.inner.cache;
            let key = tokens::raw_digest(&token);
            let at = tokens::now();
            let entry = match cache.session(&key) {
                Some(entry) => entry,
                None => {
                    let read = cache.generation();
                    // One round trip: the session row and its user together.
                    let hash = tokens::hex(&key);
                    let Some((user, row)) = auth.inner.users.by_session(db, &hash).await? else {
                        return Ok(None);
                    };
                    // A deactivated user's sessions end rather than wait
                    // for a reactivation; a session from before a password
                    // change is dead. Both are fixed while an entry is
                    // cached: a change of either invalidates it. A row that
                    // crudauth did not write (no uuid id) names no session.
                    let stale = row.password_epoch != tokens::password_epoch(&user.password_hash);
                    let live = user.is_active && !stale && !sessions::is_expired(&row, at);
                    let entry = SessionEntry::new(Arc::new(user.share()), &row);
                    let Some(entry) = entry.filter(|_| live) else {
                        sessions::delete(db, &row.id).await?;
                        return Ok(None);
                    };
                    let entry = Arc::new(entry);
                    cache.keep_session(read, key, entry.clone());
                    entry
                }
            };
            if entry.is_expired(at) {
                cache.forget_session(&key);
                sessions::delete(db, &entry.id.to_string()).await?;
                return Ok(None);
            }
            if !csrf::is_safe(&parts.method) {
                let expected = csrf::token_for(&auth.inner.secret, &token);
                csrf::verify(parts, &expected, &auth.inner.config)?;
            }
            // The request that slides the idle timeout writes it, behind the
            // response: a cached session must not wait for a write.
            if entry.slide(at) {
                let db = db.clone();
                let id = entry.id.to_string();
                tokio::spawn(async move {
                    if let Err(err) = sessions::touch(&db, &id, at).await {
                        tracing::warn!(error = %err, "crudauth: could not record a session's last use");
                    }
                });
            }
            let scopes = entry.user.row.scopes().into_iter().collect();
            let mut principal = Principal::for_shared(entry.user.clone(), Self::NAME, scopes);
            principal.session_id = Some(entry.id.to_string());
            principal.mfa = entry.mfa;
            principal.authenticated_at = Some(entry.authenticated_at);
            Ok(Some(principal))
        })
    }
}
