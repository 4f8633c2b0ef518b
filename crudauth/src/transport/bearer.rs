//! Bearer tokens: `Authorization: Bearer <jwt>`, HS256 access tokens whose
//! family (`sid`) is checked on every request.

use std::sync::Arc;

use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::cache::FamilyEntry;
use crate::error::AuthError;
use crate::jwt::Rejected;
use crate::principal::Principal;
use crate::revocation;
use crate::state::{CrudAuth, Transport, TransportFuture};
use crate::store::families;
use crate::tokens::{now, password_epoch};

/// The bearer-token transport, for API clients.
///
/// # Examples
///
/// ```
/// use crudauth::{BearerTransport, Transport};
/// assert_eq!(BearerTransport::new().name(), "bearer");
/// ```
#[derive(Debug, Clone, Default)]
pub struct BearerTransport {
    _private: (),
}

impl BearerTransport {
    /// The transport's name in `#[authed(transport = "bearer")]`.
    pub const NAME: &'static str = "bearer";

    /// A bearer transport with the `CrudAuth`'s token settings.
    pub fn new() -> Self {
        Self::default()
    }
}

/// The token of an `Authorization: Bearer` header; `None` when the header is
/// absent or uses another scheme (that credential is not ours).
pub(crate) fn bearer_token(parts: &Parts) -> Option<Result<&str, AuthError>> {
    let value = parts.headers.get(AUTHORIZATION)?;
    let Ok(value) = value.to_str() else {
        return Some(Err(AuthError::InvalidToken(
            "malformed Authorization header",
        )));
    };
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = rest.trim();
    if token.is_empty() {
        return Some(Err(AuthError::InvalidToken("empty bearer token")));
    }
    Some(Ok(token))
}

impl Transport for BearerTransport {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn authenticate<'a>(&'a self, parts: &'a Parts, auth: &'a CrudAuth) -> TransportFuture<'a> {
        Box::pin(async move {
            let token = match bearer_token(parts) {
                None => return Ok(None),
                Some(token) => token?,
            };
            let claims = match auth.inner.jwt.verify(token) {
                Ok(claims) => claims,
                Err(Rejected::Expired) => return Ok(None),
                Err(Rejected::Invalid(why)) => return Err(AuthError::InvalidToken(why)),
            };
            let Some(id) = auth.inner.users.parse_id(&claims.sub) else {
                return Ok(None);
            };
            let cache = &auth.inner.cache;
            let cached = cache
                .family(&claims.sid)
                .filter(|entry| entry.user.id == id);
            let family = match cached {
                Some(entry) => entry,
                None => {
                    let read = cache.generation();
                    // One round trip: the user row and its token family
                    // together.
                    let Some((user, state)) = auth
                        .inner
                        .users
                        .by_id_with_family(&auth.inner.db, &id, &claims.sid)
                        .await?
                    else {
                        return Ok(None);
                    };
                    let stale = state.password_epoch != password_epoch(&user.password_hash);
                    if !state.exists || state.revoked || stale {
                        return Err(AuthError::InvalidToken("token revoked"));
                    }
                    if !user.is_active {
                        // Deactivation ends the login rather than suspend it.
                        families::revoke(&auth.inner.db, &claims.sid).await?;
                        revocation::family(auth, &claims.sid).await;
                        return Ok(None);
                    }
                    let entry = Arc::new(FamilyEntry::new(Arc::new(user.share()), &state));
                    cache.keep_family(read, &claims.sid, entry.clone());
                    entry
                }
            };
            if family.expires_at <= now() {
                return Err(AuthError::InvalidToken("token revoked"));
            }
            // The token's scopes, less any the user has lost since.
            let granted = family.user.row.scopes();
            let scopes = claims
                .scope
                .split_whitespace()
                .filter(|s| granted.iter().any(|u| u == s))
                .map(str::to_owned)
                .collect();
            let mut principal = Principal::for_shared(family.user.clone(), Self::NAME, scopes);
            principal.mfa = family.mfa;
            principal.authenticated_at = Some(family.authenticated_at);
            principal.token_family = Some(claims.sid.clone());
            Ok(Some(principal))
        })
    }
}
