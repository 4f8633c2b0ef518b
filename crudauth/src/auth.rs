//! [`CrudAuth`]: the configured state every extractor and route reads, and
//! its builder.

use std::any::TypeId;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use sea_orm::DatabaseConnection;

use crate::config::{CookiePolicy, CrudAuthConfig, LockoutPolicy};
use crate::error::{AuthError, ConfigError};
use crate::password::Hasher;
use crate::principal::UserId;
use crate::transport::{ChainEntry, Mask, Transport};
use crate::user::{AuthUser, LoadedUser, ModelStore, UserStore};
use crate::{guard, jwt};

/// Something that happened to an account, passed to hooks registered with
/// [`CrudAuthBuilder::hook`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthEvent {
    /// A user registered through `POST /register`.
    Registered(UserId),
    /// A user logged in (`/login` or `/token`); the transport's name.
    LoggedIn(UserId, &'static str),
    /// A session ended through `POST /logout`.
    LoggedOut(UserId),
    /// A user changed their password.
    PasswordChanged(UserId),
}

type Hook = Arc<dyn Fn(&AuthEvent) + Send + Sync>;

/// Authentication for an axum application: configuration, the transport
/// chain and the database handle. Cheap to clone; put it in the router state.
///
/// # Examples
///
/// ```no_run
/// # async fn run(db: sea_orm::DatabaseConnection) -> Result<(), Box<dyn std::error::Error>> {
/// # mod user { pub type Model = crudauth::__private::doc_user::Model; }
/// use crudauth::{BearerTransport, CrudAuth, SessionTransport};
///
/// let auth = CrudAuth::builder()
///     .database(db)
///     .user_model::<user::Model>()
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
    inner: Arc<Inner>,
}

struct Inner {
    db: DatabaseConnection,
    users: Box<dyn UserStore>,
    config: CrudAuthConfig,
    secret: Vec<u8>,
    chain: Vec<ChainEntry>,
    hasher: Hasher,
    jwt: jwt::Keys,
    hooks: Vec<Hook>,
}

impl fmt::Debug for CrudAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CrudAuth")
            .field(
                "transports",
                &self
                    .inner
                    .chain
                    .iter()
                    .map(|e| e.transport.name())
                    .collect::<Vec<_>>(),
            )
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl CrudAuth {
    /// Starts a builder with the secure defaults.
    pub fn builder() -> CrudAuthBuilder {
        CrudAuthBuilder::default()
    }

    /// Creates crudauth's own tables (sessions, token families, refresh
    /// tokens, attempts) when they do not exist.
    ///
    /// # Errors
    ///
    /// The database's error when a statement fails.
    pub async fn migrate(&self) -> Result<(), sea_orm::DbErr> {
        crate::store::migration::create_tables_once(&self.inner.db).await
    }

    /// The database connection.
    pub fn db(&self) -> &DatabaseConnection {
        &self.inner.db
    }

    /// The settings in force.
    pub fn config(&self) -> &CrudAuthConfig {
        &self.inner.config
    }

    /// Names of the enabled transports, in precedence order.
    pub fn transport_names(&self) -> Vec<&'static str> {
        self.inner
            .chain
            .iter()
            .map(|e| e.transport.name())
            .collect()
    }

    pub(crate) fn secret(&self) -> &[u8] {
        &self.inner.secret
    }

    pub(crate) fn users(&self) -> &dyn UserStore {
        self.inner.users.as_ref()
    }

    pub(crate) fn hasher(&self) -> &Hasher {
        &self.inner.hasher
    }

    pub(crate) fn jwt(&self) -> &jwt::Keys {
        &self.inner.jwt
    }

    pub(crate) fn chain(&self) -> &[ChainEntry] {
        &self.inner.chain
    }

    pub(crate) fn all_transports(&self) -> Mask {
        (1 << self.inner.chain.len()) - 1
    }

    /// The mask of the chain restricted to the given transport types.
    pub(crate) fn mask_of(&self, accepts: impl Fn(TypeId) -> bool) -> Mask {
        self.inner
            .chain
            .iter()
            .enumerate()
            .filter(|(_, e)| accepts(e.id))
            .fold(0, |mask, (i, _)| mask | (1 << i))
    }

    pub(crate) fn has_transport<T: Transport>(&self) -> bool {
        self.inner.chain.iter().any(|e| e.id == TypeId::of::<T>())
    }

    pub(crate) fn challenges_bearer(&self) -> bool {
        self.has_transport::<crate::BearerTransport>()
    }

    pub(crate) fn emit(&self, event: AuthEvent) {
        for hook in &self.inner.hooks {
            hook(&event);
        }
    }

    /// Loads an active user by the text form of its key, as stored in
    /// crudauth's tables and tokens.
    pub(crate) async fn user_by_stored_id(
        &self,
        raw: &str,
    ) -> Result<Option<LoadedUser>, AuthError> {
        let Some(id) = self.inner.users.parse_id(raw) else {
            return Ok(None);
        };
        let user = self.inner.users.by_id(&self.inner.db, &id).await?;
        Ok(user.filter(|u| u.is_active))
    }
}

/// Builds a [`CrudAuth`]; every setting has a secure default, and
/// [`build`](Self::build) refuses an unsafe or incomplete configuration.
#[derive(Default)]
pub struct CrudAuthBuilder {
    db: Option<DatabaseConnection>,
    users: Option<Box<dyn UserStore>>,
    config: CrudAuthConfig,
    chain: Vec<ChainEntry>,
    hooks: Vec<Hook>,
}

impl fmt::Debug for CrudAuthBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CrudAuthBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl CrudAuthBuilder {
    /// The database holding the users and crudauth's tables.
    pub fn database(mut self, db: DatabaseConnection) -> Self {
        self.db = Some(db);
        self
    }

    /// The application's user model (a SeaORM `Model` implementing [`AuthUser`]).
    pub fn user_model<U: AuthUser>(mut self) -> Self {
        self.users = Some(Box::new(ModelStore::<U>::new()));
        self
    }

    /// The signing secret: at least 32 bytes.
    pub fn secret_key(mut self, key: impl AsRef<[u8]>) -> Self {
        self.config.secret_key = Some(key.as_ref().to_vec());
        self
    }

    /// Appends a transport; the order of calls is the precedence.
    pub fn transport<T: Transport>(mut self, transport: T) -> Self {
        self.chain.push(ChainEntry {
            id: TypeId::of::<T>(),
            transport: Box::new(transport),
        });
        self
    }

    /// Replaces every setting at once, for instance with
    /// [`CrudAuthConfig::from_env`]. A secret key set before is kept when the
    /// config has none.
    pub fn config(mut self, config: CrudAuthConfig) -> Self {
        let secret = self.config.secret_key.take();
        self.config = config;
        if self.config.secret_key.is_none() {
            self.config.secret_key = secret;
        }
        self
    }

    /// Cookie attributes.
    pub fn cookie_policy(mut self, policy: CookiePolicy) -> Self {
        self.config.cookies = policy;
        self
    }

    /// Access-token lifetime.
    pub fn access_ttl(mut self, ttl: Duration) -> Self {
        self.config.access_ttl = ttl;
        self
    }

    /// Refresh-token family lifetime.
    pub fn refresh_ttl(mut self, ttl: Duration) -> Self {
        self.config.refresh_ttl = ttl;
        self
    }

    /// Session idle (sliding) and absolute timeouts.
    pub fn session_timeouts(mut self, idle: Duration, absolute: Duration) -> Self {
        self.config.session_idle = idle;
        self.config.session_absolute = absolute;
        self
    }

    /// Lockout thresholds.
    pub fn lockout(mut self, policy: LockoutPolicy) -> Self {
        self.config.lockout = policy;
        self
    }

    /// Origins besides the request's own allowed to send unsafe requests
    /// (for instance `https://app.example.com`).
    pub fn trusted_origins<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        origins: I,
    ) -> Self {
        self.config.trusted_origins = origins.into_iter().map(Into::into).collect();
        self
    }

    /// Reverse proxies in front of the app; `0` uses the socket peer.
    pub fn trusted_proxy_hops(mut self, hops: usize) -> Self {
        self.config.trusted_proxy_hops = hops;
        self
    }

    /// Registrations allowed per client IP per hour.
    pub fn register_per_hour(mut self, limit: u32) -> Self {
        self.config.register_per_hour = limit;
        self
    }

    /// Whether `auth.router()` serves the built-in `GET /me` (default true).
    pub fn me_route(mut self, enabled: bool) -> Self {
        self.config.me_route = enabled;
        self
    }

    /// Calls `hook` after every register, login, logout and password change.
    pub fn hook(mut self, hook: impl Fn(&AuthEvent) + Send + Sync + 'static) -> Self {
        self.hooks.push(Arc::new(hook));
        self
    }

    /// Validates the configuration.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] saying what to fix: no database, no user model, a
    /// secret under 32 bytes, no transport or a duplicate one, and
    /// `#[authed]` handlers narrowed to a transport that is not enabled.
    pub fn build(self) -> Result<CrudAuth, ConfigError> {
        let db = self.db.ok_or(ConfigError::MissingDatabase)?;
        let users = self.users.ok_or(ConfigError::MissingUserModel)?;
        let secret = self.config.secret_key.clone().unwrap_or_default();
        if secret.len() < 32 {
            return Err(ConfigError::WeakSecret(secret.len()));
        }
        if self.chain.is_empty() {
            return Err(ConfigError::NoTransport);
        }
        if self.chain.len() > 63 {
            return Err(ConfigError::Invalid("transport", "at most 63 transports"));
        }
        for (i, entry) in self.chain.iter().enumerate() {
            if self.chain[..i].iter().any(|e| e.id == entry.id) {
                return Err(ConfigError::DuplicateTransport(entry.transport.name()));
            }
        }
        if self.config.session_idle.is_zero() || self.config.session_absolute.is_zero() {
            return Err(ConfigError::Invalid(
                "session timeouts",
                "must be at least one second",
            ));
        }
        if self.config.access_ttl.is_zero() {
            return Err(ConfigError::Invalid(
                "access_ttl",
                "must be at least one second",
            ));
        }
        let missing = guard::unknown_transports(&self.chain);
        if !missing.is_empty() {
            return Err(ConfigError::UnknownTransports(missing));
        }
        let jwt = jwt::Keys::new(&secret, &self.config)?;
        Ok(CrudAuth {
            inner: Arc::new(Inner {
                db,
                users,
                config: self.config,
                secret,
                chain: self.chain,
                hasher: Hasher::new().map_err(|_| {
                    ConfigError::Invalid("password hashing", "could not start the hashing threads")
                })?,
                jwt,
                hooks: self.hooks,
            }),
        })
    }
}
