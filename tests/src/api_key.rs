//! The custom transport of the tests: no table, no minting.

use axum::http::request::Parts;
use crudauth::{AuthError, CrudAuth, Principal, Transport, TransportFuture, UserId};

/// `X-Api-Key: demo-<user id>`: an absent header falls through to the next
/// transport; anything but that form is a 401 `invalid_token`.
///
/// Not the api-key example's `ApiKeyTransport`: naming that crate links its
/// handler narrowed to its transport into the test binary, and then every
/// `build()` without that transport fails; it also needs its table and a
/// minted key where a test wants a user id.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiKeyTransport;

impl Transport for ApiKeyTransport {
    fn name(&self) -> &'static str {
        "api_key"
    }

    fn authenticate<'a>(&'a self, parts: &'a Parts, _auth: &'a CrudAuth) -> TransportFuture<'a> {
        Box::pin(async move {
            let Some(value) = parts.headers.get("x-api-key") else {
                return Ok(None);
            };
            let id = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("demo-"))
                .and_then(|v| v.parse::<i64>().ok())
                .ok_or(AuthError::InvalidToken("malformed API key"))?;
            Ok(Some(Principal::new(UserId::Int(id), "api_key")))
        })
    }
}
