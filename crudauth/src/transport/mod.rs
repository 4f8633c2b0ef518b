//! The [`Transport`] trait and the ordered chain: first present credential
//! wins, a present but invalid one stops the request.

use std::any::TypeId;
use std::future::Future;
use std::pin::Pin;

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use crate::auth::CrudAuth;
use crate::error::AuthError;
use crate::guard::Guarded;
use crate::principal::Principal;

pub(crate) mod bearer;
pub(crate) mod session;

/// The future a [`Transport`] returns.
pub type TransportFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Option<Principal>, AuthError>> + Send + 'a>>;

/// A way of carrying credentials on a request (cookie session, bearer token,
/// or your own, such as an API key).
///
/// `authenticate` returns `Ok(None)` when its credential is absent (or dead:
/// an unknown session, an expired token, a deleted user), so the next
/// transport is tried; `Ok(Some(principal))` when valid; and `Err(..)` when a
/// credential is present but invalid, which fails the request even on
/// optional routes.
///
/// # Examples
///
/// ```
/// use axum::http::request::Parts;
/// use crudauth::{AuthError, CrudAuth, Principal, Transport, TransportFuture, UserId};
///
/// /// `X-Api-Key: demo-<user id>` (a toy: real keys are looked up, hashed).
/// struct ApiKeyTransport;
///
/// impl Transport for ApiKeyTransport {
///     fn name(&self) -> &'static str {
///         "api_key"
///     }
///     fn authenticate<'a>(&'a self, parts: &'a Parts, _auth: &'a CrudAuth) -> TransportFuture<'a> {
///         Box::pin(async move {
///             let Some(value) = parts.headers.get("x-api-key") else { return Ok(None) };
///             let id = value
///                 .to_str()
///                 .ok()
///                 .and_then(|v| v.strip_prefix("demo-"))
///                 .and_then(|v| v.parse::<i64>().ok())
///                 .ok_or(AuthError::InvalidToken("malformed API key"))?;
///             Ok(Some(Principal::new(UserId::Int(id), "api_key")))
///         })
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a crudauth transport",
    label = "`transport = {Self}` names a type that does not implement `crudauth::Transport`",
    note = "implement `crudauth::Transport` for it, or use a built-in name: \"session\" or \"bearer\""
)]
pub trait Transport: Send + Sync + 'static {
    /// The name reported in [`Principal::transport`].
    fn name(&self) -> &'static str;

    /// Looks for this transport's credential on the request.
    fn authenticate<'a>(&'a self, parts: &'a Parts, auth: &'a CrudAuth) -> TransportFuture<'a>;
}

/// Which transports of the chain a route accepts: a bit per chain position.
pub(crate) type Mask = u64;

/// Results already resolved for this request, per mask.
#[derive(Clone, Default)]
struct Resolved(Vec<(Mask, Result<Option<Principal>, AuthError>)>);

/// Runs the chain (restricted to `mask`) once per request and mask, caching
/// the outcome in the request's extensions.
pub(crate) async fn resolve(
    parts: &mut Parts,
    auth: &CrudAuth,
    mask: Mask,
) -> Result<Option<Principal>, AuthError> {
    if let Some(hit) = parts
        .extensions
        .get::<Resolved>()
        .and_then(|r| r.0.iter().find(|(m, _)| *m == mask))
    {
        return hit.1.clone();
    }
    let mut outcome = Ok(None);
    for (index, entry) in auth.chain().iter().enumerate() {
        if mask & (1 << index) == 0 {
            continue;
        }
        match entry.transport.authenticate(parts, auth).await {
            Ok(None) => continue,
            other => {
                outcome = other;
                break;
            }
        }
    }
    let mut cache = parts.extensions.remove::<Resolved>().unwrap_or_default();
    cache.0.push((mask, outcome.clone()));
    parts.extensions.insert(cache);
    outcome
}

/// One link of the chain.
pub(crate) struct ChainEntry {
    pub id: TypeId,
    pub transport: Box<dyn Transport>,
}

impl<S> FromRequestParts<S> for Principal
where
    CrudAuth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(guarded) = parts.extensions.get::<Guarded>() {
            return Ok(guarded.0.clone());
        }
        let auth = CrudAuth::from_ref(state);
        match resolve(parts, &auth, auth.all_transports()).await {
            Ok(Some(principal)) => Ok(principal),
            Ok(None) => Err(auth.reject(AuthError::Unauthenticated)),
            Err(err) => Err(auth.reject(err)),
        }
    }
}

impl<S> OptionalFromRequestParts<S> for Principal
where
    CrudAuth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        if let Some(guarded) = parts.extensions.get::<Guarded>() {
            return Ok(Some(guarded.0.clone()));
        }
        let auth = CrudAuth::from_ref(state);
        resolve(parts, &auth, auth.all_transports())
            .await
            .map_err(|err| auth.reject(err))
    }
}

impl CrudAuth {
    /// Renders a refusal with the bearer challenge when bearer is enabled.
    pub(crate) fn reject(&self, err: AuthError) -> Response {
        if self.challenges_bearer() {
            err.into_response_with(true)
        } else {
            err.into_response()
        }
    }
}
