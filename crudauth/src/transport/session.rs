//! Cookie sessions: server-side rows, `__Host-` cookies, CSRF on unsafe
//! methods.

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
            // One round trip: the session row and its user together.
            let Some((user, row)) = auth
                .inner
                .users
                .by_session(db, &tokens::digest(&token))
                .await?
            else {
                return Ok(None);
            };
            if sessions::is_expired(&row, tokens::now()) {
                sessions::delete(db, &row.id).await?;
                return Ok(None);
            }
            // A deactivated user's sessions end rather than wait for a
            // reactivation; a session from before a password change is dead.
            if !user.is_active || row.password_epoch != tokens::password_epoch(&user.password_hash)
            {
                sessions::delete(db, &row.id).await?;
                return Ok(None);
            }
            if !csrf::is_safe(&parts.method) {
                let expected = csrf::token_for(&auth.inner.secret, &token);
                csrf::verify(parts, &expected, &auth.inner.config)?;
            }
            sessions::touch(db, &row).await?;
            let mut principal = Principal::for_user(user, Self::NAME);
            principal.session_id = Some(row.id);
            principal.mfa = row.mfa;
            principal.authenticated_at = Some(row.authenticated_at);
            Ok(Some(principal))
        })
    }
}
