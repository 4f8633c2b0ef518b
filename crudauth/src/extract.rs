//! Every extractor crudauth offers: [`Principal`], `Option<Principal>` and
//! the `#[authed]` guard for the application's handlers, and the body,
//! client and principal extractors the built-in routes are written with.
//! The principal is resolved once per request; what a guard decided is
//! kept so that later extractors of the same request agree with it.

use std::marker::PhantomData;
use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequest, FromRequestParts, OptionalFromRequestParts, Request};
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::body;
use crate::client::client_ip;
use crate::error::{AuthError, AuthRejection};
use crate::guard::{Authed, GuardSpec, require_enrolment, run_guard};
use crate::principal::Principal;
use crate::state::CrudAuth;
use crate::transport::{self, Mask, resolve};

/// What a guard decided for this request, anonymous included: a later
/// `Principal` or `Option<Principal>` extractor (a renamed import the macro
/// did not recognise, a middleware) sees the guard's outcome, not a fresh
/// resolution over every transport without the guard's gates.
#[derive(Clone)]
struct Guarded(Option<Arc<Principal>>);

fn reject(auth: &CrudAuth, error: AuthError) -> AuthRejection {
    AuthRejection::new(error, transport::challenges_bearer(auth))
}

impl<S> FromRequestParts<S> for Principal
where
    CrudAuth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = CrudAuth::from_ref(state);
        let outcome = match parts.extensions.get::<Guarded>() {
            Some(guarded) => Ok(guarded.0.as_deref().cloned()),
            None => resolve(parts, &auth, transport::all(&auth)).await,
        };
        match outcome {
            Ok(Some(principal)) => Ok(principal),
            Ok(None) => Err(reject(&auth, AuthError::Unauthenticated)),
            Err(err) => Err(reject(&auth, err)),
        }
    }
}

impl<S> OptionalFromRequestParts<S> for Principal
where
    CrudAuth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        if let Some(guarded) = parts.extensions.get::<Guarded>() {
            return Ok(guarded.0.as_deref().cloned());
        }
        let auth = CrudAuth::from_ref(state);
        resolve(parts, &auth, transport::all(&auth))
            .await
            .map_err(|err| reject(&auth, err))
    }
}

impl<S, G> FromRequestParts<S> for Authed<G>
where
    G: GuardSpec,
    CrudAuth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = CrudAuth::from_ref(state);
        match run_guard::<G>(parts, &auth).await {
            Ok(principal) => {
                parts.extensions.insert(Guarded(principal.clone()));
                Ok(Self(principal, PhantomData))
            }
            Err(err) => Err(reject(&auth, err)),
        }
    }
}

/// A built-in route's body: JSON or a urlencoded form, at most the
/// configured body limit.
pub(crate) struct Body<T>(pub T);

impl<S, T> FromRequest<S> for Body<T>
where
    T: DeserializeOwned,
    CrudAuth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let limit = CrudAuth::from_ref(state).inner.config.body_limit;
        let (mut parts, body) = request.into_parts();
        body::read(&parts.headers, &mut parts.extensions, body, limit)
            .await
            .map(Body)
    }
}

/// Which transports a built-in route accepts.
pub(crate) trait Accepts {
    fn mask(auth: &CrudAuth) -> Mask;
    /// Whether the route is one of the second factor's enrolment, which a
    /// user `.require_mfa(..)` applies to reaches before enrolling.
    const ENROLMENT: bool = false;
}

/// Every enabled transport.
pub(crate) enum AnyTransport {}

impl Accepts for AnyTransport {
    fn mask(auth: &CrudAuth) -> Mask {
        transport::all(auth)
    }
}

/// Every enabled transport, on an enrolment route (open to a user who
/// must enrol a second factor and has not yet).
pub(crate) enum Enrolling {}

impl Accepts for Enrolling {
    fn mask(auth: &CrudAuth) -> Mask {
        transport::all(auth)
    }
    const ENROLMENT: bool = true;
}

/// The session transport only.
pub(crate) enum SessionOnly {}

impl Accepts for SessionOnly {
    fn mask(auth: &CrudAuth) -> Mask {
        transport::session_only(auth)
    }
}

/// A built-in route's body, then the principal of the transports `M`
/// (`None` when anonymous). The body is read first so that a form's
/// `csrf_token` field counts for the session transport's check.
pub(crate) struct Submitted<T, M> {
    pub principal: Option<Principal>,
    pub body: T,
    /// Why a signed-in caller may not use the route yet (a second factor
    /// to enrol first).
    refusal: Option<AuthError>,
    accepts: PhantomData<fn() -> M>,
}

impl<T, M> Submitted<T, M> {
    /// The principal, or 401 (or 403 when a second factor must be enrolled
    /// first).
    pub(crate) fn signed_in(self) -> Result<(Principal, T), AuthError> {
        let principal = self.principal.ok_or(AuthError::Unauthenticated)?;
        match self.refusal {
            Some(refusal) => Err(refusal),
            None => Ok((principal, self.body)),
        }
    }
}

impl<S, T, M> FromRequest<S> for Submitted<T, M>
where
    T: DeserializeOwned + Send,
    M: Accepts,
    CrudAuth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let auth = CrudAuth::from_ref(state);
        let (mut parts, raw) = request.into_parts();
        let limit = auth.inner.config.body_limit;
        let body = body::read(&parts.headers, &mut parts.extensions, raw, limit).await?;
        let principal = resolve(&mut parts, &auth, M::mask(&auth)).await?;
        let refusal = match &principal {
            Some(principal) if !M::ENROLMENT => require_enrolment(&auth, principal).err(),
            _ => None,
        };
        Ok(Self {
            principal,
            body,
            refusal,
            accepts: PhantomData,
        })
    }
}

/// The signed-in principal of a built-in route without a body.
pub(crate) struct Current<M>(pub Principal, pub PhantomData<fn() -> M>);

impl<S, M> FromRequestParts<S> for Current<M>
where
    M: Accepts,
    CrudAuth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = CrudAuth::from_ref(state);
        let principal = resolve(parts, &auth, M::mask(&auth))
            .await?
            .ok_or(AuthError::Unauthenticated)?;
        if !M::ENROLMENT {
            require_enrolment(&auth, &principal)?;
        }
        Ok(Self(principal, PhantomData))
    }
}

/// Who is asking: the client address (per the trusted proxy hops) and the
/// `User-Agent`, for session metadata, lockout and throttling.
pub(crate) struct Client {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

impl<S> FromRequestParts<S> for Client
where
    CrudAuth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = CrudAuth::from_ref(state);
        let user_agent = parts
            .headers
            .get(USER_AGENT)
            .and_then(|ua| ua.to_str().ok())
            .map(|ua| ua.chars().take(256).collect());
        Ok(Self {
            ip: client_ip(parts, auth.inner.config.trusted_proxy_hops),
            user_agent,
        })
    }
}
