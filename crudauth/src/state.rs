//! The state every request reads ([`CrudAuth`]) and the [`Transport`] trait
//! its chain is made of. A transport is called with the state that holds it,
//! so the two types refer to each other and live together; everything else
//! about `CrudAuth` (its builder and public methods) is in `auth.rs`.

use std::any::TypeId;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::http::request::Parts;
use sea_orm::DatabaseConnection;

use crate::cache::PrincipalCache;
use crate::config::CrudAuthConfig;
use crate::enrolment::MfaRequirement;
use crate::error::AuthError;
use crate::events::AuthEvent;
use crate::jwt;
use crate::mfa::MfaKeys;
use crate::password::Hasher;
use crate::password::policy::PasswordPolicy;
use crate::principal::Principal;
use crate::rate::RateLimiter;
use crate::store::users::UserStore;

/// Authentication for an axum application: configuration, the transport
/// chain and the database handle. Cheap to clone; put it in the router state.
///
/// # Examples
///
/// ```no_run
/// # use sea_orm::entity::prelude::*;
/// # #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, crudauth::AuthUser)]
/// # #[sea_orm(table_name = "users")]
/// # pub struct Model { #[sea_orm(primary_key)] pub id: i64, pub email: String, pub password_hash: String }
/// # #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
/// # pub enum Relation {}
/// # impl ActiveModelBehavior for ActiveModel {}
/// # async fn run(db: sea_orm::DatabaseConnection) -> Result<(), Box<dyn std::error::Error>> {
/// use crudauth::{BearerTransport, CrudAuth, SessionTransport};
///
/// let auth = CrudAuth::builder()
///     .database(db)
///     .user_model::<Model>()
///     .secret_key(std::env::var("CRUDAUTH_SECRET_KEY")?)
///     .transport(SessionTransport::new())
///     .transport(BearerTransport::new())
///     .build()?;
/// auth.migrate().await?;
/// let app: axum::Router = auth.router().with_state(auth);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct CrudAuth {
    pub(crate) inner: Arc<Inner>,
}

/// What a [`CrudAuth`] holds, read by the modules of the request path.
pub(crate) struct Inner {
    pub db: DatabaseConnection,
    pub users: Box<dyn UserStore>,
    pub config: CrudAuthConfig,
    pub secret: Vec<u8>,
    pub chain: Vec<ChainEntry>,
    pub hasher: Hasher,
    pub password_policy: PasswordPolicy,
    pub jwt: jwt::Keys,
    pub hooks: Vec<Hook>,
    pub cache: PrincipalCache,
    pub mail: crate::mail::Mailer,
    /// The sign-in providers, by name.
    #[cfg(feature = "oidc")]
    pub oidc: Vec<crate::oidc::OidcProvider>,
    /// The key sealing second-factor secrets; `None` turns MFA off.
    pub mfa: Option<MfaKeys>,
    /// The counters of `#[authed(rate = ..)]`.
    pub rates: RateLimiter,
    /// Who must have a second factor (`.require_mfa(..)`).
    pub require_mfa: Option<MfaRequirement>,
}

/// A function called after an account event.
pub(crate) type Hook = Arc<dyn Fn(&AuthEvent) + Send + Sync>;

impl fmt::Debug for CrudAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = self
            .inner
            .chain
            .iter()
            .map(|e| e.transport.name())
            .collect();
        f.debug_struct("CrudAuth")
            .field("transports", &names)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// One link of the chain.
pub(crate) struct ChainEntry {
    pub id: TypeId,
    pub transport: Box<dyn Transport>,
}

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
