//! What `#[authed(...)]` expands to: a [`GuardSpec`] per handler and the
//! gates run in order (authenticate → rate → required second factor →
//! superuser → verified → mfa → fresh → scopes → check). The extractor itself is in `extract.rs`.

use std::any::TypeId;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

use axum::http::request::Parts;

use crate::client::client_ip;
use crate::error::AuthError;
use crate::principal::Principal;
use crate::rate::Rate;
use crate::state::{CrudAuth, Transport};
use crate::transport::{self, resolve_shared};

/// A transport named in `#[authed(transport = ..)]`.
#[derive(Debug, Clone, Copy)]
pub enum TransportRef {
    /// A built-in, by name (`"session"`, `"bearer"`).
    Named(&'static str),
    /// A custom transport, by type.
    Type {
        /// `std::any::type_name` of the type, for messages.
        name: &'static str,
        /// Its `TypeId`.
        id: fn() -> TypeId,
    },
}

impl TransportRef {
    pub(crate) fn type_id(&self) -> Option<TypeId> {
        match self {
            Self::Named(name) => transport::builtin(name),
            Self::Type { id, .. } => Some(id()),
        }
    }

    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Named(name) => format!("\"{name}\""),
            Self::Type { name, .. } => format!("`{name}`"),
        }
    }
}

/// The `TypeId` of a custom transport; fails to compile, on the user's type,
/// when the type is not a [`Transport`].
pub fn transport_id<T: Transport>() -> TypeId {
    TypeId::of::<T>()
}

/// The freshness gate: the principal's last password or second-factor proof
/// is at most `secs` old.
pub(crate) fn require_fresh(principal: &Principal, secs: i64) -> Result<(), AuthError> {
    let age = principal
        .authenticated_at
        .map(|at| crate::tokens::now().saturating_sub(at));
    if age.is_some_and(|age| (0..=secs).contains(&age)) {
        Ok(())
    } else {
        Err(AuthError::ReauthenticationRequired)
    }
}

/// The verdict of a `check` gate.
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = bool> + Send + 'a>>;

/// The options of one `#[authed(...)]` attribute, as a type.
pub trait GuardSpec: Send + Sync + 'static {
    /// `module::path::handler`, for messages.
    const HANDLER: &'static str;
    /// Anonymous requests reach the handler (with `None`).
    const OPTIONAL: bool = false;
    /// The superuser gate.
    const SUPERUSER: bool = false;
    /// The verified-email gate.
    const VERIFIED: bool = false;
    /// The second-factor gate.
    const MFA: bool = false;
    /// The freshness gate: the last password or second-factor proof at most this many seconds old; 0 means no gate.
    const FRESH_SECS: u64 = 0;
    /// The scopes gate.
    const SCOPES: &'static [&'static str] = &[];
    /// The accepted transports; empty means every enabled one.
    const TRANSPORTS: &'static [TransportRef] = &[];
    /// The `rate` gate: requests per period for each principal (or each
    /// client address, when anonymous).
    const RATE: Option<Rate> = None;

    /// The `check = path` gate.
    fn check(principal: &Principal) -> CheckFuture<'_> {
        let _ = principal;
        Box::pin(std::future::ready(true))
    }
}

/// Marker for a synchronous `check` function.
#[derive(Debug)]
pub enum SyncCheck {}
/// Marker for an asynchronous `check` function.
#[derive(Debug)]
pub enum AsyncCheck {}

/// What a `check` function may return: `bool`, or a future of `bool`.
#[diagnostic::on_unimplemented(
    message = "a `check` function must return `bool` or a future of `bool`, found `{Self}`",
    label = "expected `fn(&Principal) -> bool` or `async fn(&Principal) -> bool`"
)]
pub trait CheckOutput<'a, Marker> {
    /// The verdict as a future.
    fn into_verdict(self) -> CheckFuture<'a>;
}

impl<'a> CheckOutput<'a, SyncCheck> for bool {
    fn into_verdict(self) -> CheckFuture<'a> {
        Box::pin(std::future::ready(self))
    }
}

impl<'a, F: Future<Output = bool> + Send + 'a> CheckOutput<'a, AsyncCheck> for F {
    fn into_verdict(self) -> CheckFuture<'a> {
        Box::pin(self)
    }
}

/// The extractor `#[authed]` puts in place of the principal parameter.
///
/// The principal is shared with the request's record of the guard's
/// outcome, which is usually gone by the time the handler runs: handing
/// it over then costs no copy.
pub struct Authed<G>(
    pub(crate) Option<Arc<Principal>>,
    pub(crate) PhantomData<fn() -> G>,
);

impl<G> std::fmt::Debug for Authed<G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Authed").field(&self.0).finish()
    }
}

impl<G> Authed<G> {
    /// The principal of a required guard.
    pub fn into_principal(self) -> Principal {
        self.into_option()
            .expect("a required guard only extracts with a principal")
    }

    /// The principal of an optional guard.
    pub fn into_option(self) -> Option<Principal> {
        self.0.map(Arc::unwrap_or_clone)
    }
}

/// The `rate` gate. A signed-in request spends its user's budget; an
/// anonymous one (on an `optional` route) its client address's, and a
/// required route's anonymous requests are refused before they count.
async fn check_rate<G: GuardSpec>(
    parts: &Parts,
    auth: &CrudAuth,
    principal: Option<&Principal>,
    rate: Rate,
) -> Result<(), AuthError> {
    let who = match principal {
        Some(principal) => format!("u:{}", principal.user_id),
        None if G::OPTIONAL => match client_ip(parts, auth.inner.config.trusted_proxy_hops) {
            Some(ip) => format!("ip:{ip}"),
            None => "ip:unknown".to_owned(),
        },
        None => return Ok(()),
    };
    auth.inner
        .rates
        .check(G::HANDLER, &who, rate)
        .await
        .map_err(AuthError::RateLimited)
}

/// The `.require_mfa(..)` gate: a principal it applies to needs a
/// credential established with a second factor.
pub(crate) fn require_enrolment(auth: &CrudAuth, principal: &Principal) -> Result<(), AuthError> {
    match &auth.inner.require_mfa {
        Some(requirement) if !principal.mfa && requirement.applies(principal) => {
            Err(AuthError::MfaEnrolmentRequired)
        }
        _ => Ok(()),
    }
}

/// Runs the gates of `G` on a request; the principal is shared with the
/// request's record of it.
pub async fn run_guard<G: GuardSpec>(
    parts: &mut Parts,
    auth: &CrudAuth,
) -> Result<Option<Arc<Principal>>, AuthError> {
    let mask = if G::TRANSPORTS.is_empty() {
        transport::all(auth)
    } else {
        transport::mask_of(auth, |id| {
            G::TRANSPORTS.iter().any(|t| t.type_id() == Some(id))
        })
    };
    let principal = resolve_shared(parts, auth, mask).await?;
    // Before every other gate: a refused request costs no database work.
    if let Some(rate) = G::RATE {
        check_rate::<G>(parts, auth, principal.as_deref(), rate).await?;
    }
    let Some(principal) = principal else {
        return if G::OPTIONAL {
            Ok(None)
        } else {
            Err(AuthError::Unauthenticated)
        };
    };
    require_enrolment(auth, &principal)?;
    if G::SUPERUSER && !principal.is_superuser {
        return Err(AuthError::InsufficientPrivileges);
    }
    if G::VERIFIED && !principal.email_verified {
        return Err(AuthError::NotVerified);
    }
    if G::MFA && !principal.mfa {
        return Err(AuthError::MfaRequired);
    }
    if G::FRESH_SECS > 0 {
        require_fresh(&principal, G::FRESH_SECS as i64)?;
    }
    if !principal.has_scopes(G::SCOPES) {
        return Err(AuthError::InsufficientScope(G::SCOPES.join(" ")));
    }
    if !G::check(&principal).await {
        return Err(AuthError::AccessDenied);
    }
    Ok(Some(principal))
}
