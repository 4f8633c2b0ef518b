//! The ordered chain of transports: the first present credential wins, a
//! present but invalid one stops the request. Also the table of built-in
//! transport names that `#[authed(transport = "..")]` may use.

use std::any::TypeId;
use std::sync::Arc;

use axum::http::request::Parts;

use crate::error::AuthError;
use crate::principal::Principal;
use crate::state::{CrudAuth, Transport};

pub(crate) mod bearer;
pub(crate) mod session;

use bearer::BearerTransport;
use session::SessionTransport;

/// Which transports of the chain a route accepts: a bit per chain position.
pub(crate) type Mask = u64;

/// The `TypeId` of a built-in transport, by the name the DSL uses.
pub(crate) fn builtin(name: &str) -> Option<TypeId> {
    match name {
        SessionTransport::NAME => Some(TypeId::of::<SessionTransport>()),
        BearerTransport::NAME => Some(TypeId::of::<BearerTransport>()),
        _ => None,
    }
}

/// Every transport of the chain.
pub(crate) fn all(auth: &CrudAuth) -> Mask {
    (1 << auth.inner.chain.len()) - 1
}

/// The chain restricted to the given transport types.
pub(crate) fn mask_of(auth: &CrudAuth, accepts: impl Fn(TypeId) -> bool) -> Mask {
    auth.inner
        .chain
        .iter()
        .enumerate()
        .filter(|(_, e)| accepts(e.id))
        .fold(0, |mask, (i, _)| mask | (1 << i))
}

/// The session transport alone.
pub(crate) fn session_only(auth: &CrudAuth) -> Mask {
    mask_of(auth, |id| id == TypeId::of::<SessionTransport>())
}

/// Whether the chain has transport `T`.
pub(crate) fn enabled<T: Transport>(auth: &CrudAuth) -> bool {
    auth.inner.chain.iter().any(|e| e.id == TypeId::of::<T>())
}

/// Whether 401 answers carry the RFC 6750 challenge.
pub(crate) fn challenges_bearer(auth: &CrudAuth) -> bool {
    enabled::<BearerTransport>(auth)
}

/// What the chain made of a request: the principal is shared between the
/// request's record and whoever takes it.
pub(crate) type Outcome = Result<Option<Arc<Principal>>, AuthError>;

/// Results already resolved for this request, per mask.
#[derive(Clone, Default)]
struct Resolved(Vec<(Mask, Outcome)>);

/// Runs the chain (restricted to `mask`) once per request and mask, caching
/// the outcome in the request's extensions.
pub(crate) async fn resolve(
    parts: &mut Parts,
    auth: &CrudAuth,
    mask: Mask,
) -> Result<Option<Principal>, AuthError> {
    let outcome = resolve_shared(parts, auth, mask).await?;
    // The request's record still holds the principal: this is a copy.
    Ok(outcome.map(Arc::unwrap_or_clone))
}

/// [`resolve`] with the principal shared with the request's record, for a
/// caller that keeps it past the request's parts (when it becomes the only
/// holder and takes the principal over without a copy).
pub(crate) async fn resolve_shared(parts: &mut Parts, auth: &CrudAuth, mask: Mask) -> Outcome {
    if let Some(hit) = parts
        .extensions
        .get::<Resolved>()
        .and_then(|r| r.0.iter().find(|(m, _)| *m == mask))
    {
        return hit.1.clone();
    }
    let mut outcome = Ok(None);
    for (index, entry) in auth.inner.chain.iter().enumerate() {
        if mask & (1 << index) == 0 {
            continue;
        }
        match entry.transport.authenticate(parts, auth).await {
            Ok(None) => continue,
            other => {
                outcome = other.map(|found| found.map(Arc::new));
                break;
            }
        }
    }
    let mut cache = parts.extensions.remove::<Resolved>().unwrap_or_default();
    cache.0.push((mask, outcome.clone()));
    parts.extensions.insert(cache);
    outcome
}
