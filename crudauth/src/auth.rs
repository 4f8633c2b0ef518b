//! [`CrudAuth`]'s public face: its builder and every method an application
//! calls, each delegating to the module that does the work.

use std::any::TypeId;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::FromRef;
use sea_orm::DatabaseConnection;

use crate::config::{CookiePolicy, CrudAuthConfig, LockoutPolicy};
use crate::error::ConfigError;
use crate::events::AuthEvent;
use crate::layer::AuthLayer;
use crate::password::Hasher;
use crate::principal::UserId;
use crate::state::{ChainEntry, CrudAuth, Hook, Inner, Transport};
use crate::store::users::{ModelStore, UserStore};
use crate::store::{self, families, purge, sessions};
use crate::user::AuthUser;
use crate::{jwt, registry, routes};

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

    /// The built-in routes: `/register`, `/me` (unless switched off),
    /// `/logout-all`, `/change-password`, plus `/login`, `/logout`,
    /// `/sessions` with the session transport and `/token`, `/refresh`,
    /// `/revoke` with the bearer transport.
    ///
    /// They read their own bodies (64 KiB at most, JSON or a form); add
    /// [`CrudAuth::layer`] around the whole application for the same duties
    /// on your routes and JSON answers from the router itself (404, 405).
    pub fn router<S>(&self) -> Router<S>
    where
        CrudAuth: FromRef<S>,
        S: Clone + Send + Sync + 'static,
    {
        routes::router(self)
    }

    /// The OpenAPI document of the routes [`router`](Self::router) mounts
    /// for this configuration: bodies, answers, the `{detail, code}` error
    /// body, and the security schemes `session` (the session cookie),
    /// `csrf` (the `X-CSRF-Token` header, with the session on unsafe
    /// methods) and `bearer` (JWT). Merge the application's own document
    /// into it.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn doc(auth: crudauth::CrudAuth) {
    /// let doc = auth.openapi();
    /// assert!(doc.paths.paths.contains_key("/register"));
    /// let json = doc.to_json().unwrap();
    /// # }
    /// ```
    #[cfg(feature = "openapi")]
    pub fn openapi(&self) -> utoipa::openapi::OpenApi {
        crate::openapi::document(self)
    }

    /// A layer for the whole application: bodies over 64 KiB get 413 before
    /// any work, an HTML form's `csrf_token` field satisfies the session
    /// transport's CSRF check, and axum's plain-text 400/404/405/413/415/422
    /// answers become crudauth's JSON errors. Add it as the outermost layer.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn app(auth: crudauth::CrudAuth) -> axum::Router {
    /// axum::Router::new()
    ///     .merge(auth.router())
    ///     .layer(auth.layer())
    ///     .with_state(auth)
    /// # }
    /// ```
    pub fn layer(&self) -> AuthLayer {
        AuthLayer::new(self.clone())
    }

    /// Ends every session and token family of a user, for applications that
    /// deactivate or delete users themselves. Returns how many ended.
    ///
    /// # Errors
    ///
    /// The database's error when a statement fails.
    pub async fn revoke_user(&self, id: impl Into<UserId>) -> Result<u64, sea_orm::DbErr> {
        let owner = id.into().to_string();
        let txn = store::begin_write(&self.inner.db).await?;
        let ended = sessions::revoke_all(&txn, &owner, None).await?
            + families::revoke_user(&txn, &owner).await?;
        txn.commit().await?;
        crate::audit::user_revoked(&owner, "admin", ended);
        Ok(ended)
    }

    /// Deletes the rows no request can use any more: expired sessions, ended
    /// token families and their refresh tokens, idle attempt counters. A
    /// background task does it every
    /// [`purge_interval`](CrudAuthConfig::purge_interval); call it from a
    /// scheduled job instead when that is off. Returns how many rows went.
    ///
    /// # Errors
    ///
    /// The database's error when a statement fails.
    pub async fn purge(&self) -> Result<u64, sea_orm::DbErr> {
        let policy = &self.inner.config.lockout;
        // Counters remember earlier locks (each doubles the next) for as
        // long as the longest lock, and the registration throttle counts
        // per hour.
        let keep = policy.window.max(policy.max).max(Duration::from_secs(3600));
        let purged = purge::purge(&self.inner.db, keep.as_secs() as i64).await?;
        Ok(purged.sessions + purged.families + purged.refresh_tokens + purged.attempts)
    }
}

/// Runs [`CrudAuth::purge`] every `interval` for as long as the `CrudAuth`
/// lives, when built inside a Tokio runtime.
fn spawn_purge(auth: &CrudAuth) {
    let interval = auth.inner.config.purge_interval;
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    if interval.is_zero() {
        return;
    }
    let weak = Arc::downgrade(&auth.inner);
    runtime.spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let Some(inner) = weak.upgrade() else { return };
            let auth = CrudAuth { inner };
            if let Err(err) = auth.purge().await {
                tracing::warn!(error = %err, "crudauth: purging expired rows failed; retrying at the next interval");
            }
        }
    });
}

/// A signing key for a process that was given none.
fn random_secret() -> Vec<u8> {
    tracing::warn!(
        "crudauth: no secret key was given (CRUDAUTH_SECRET_KEY or `.secret_key(..)`): using a \
         random key; sessions and tokens will not survive a restart"
    );
    let mut key = vec![0u8; 48];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
    key
}

/// Settings that are allowed but leave a defence off: said once, at start.
fn warn_about_relaxed_settings(config: &CrudAuthConfig) {
    if !config.cookies.secure {
        tracing::warn!(
            "crudauth: insecure cookies (no `Secure`, no `__Host-` prefix): for plain-http \
             development only"
        );
    }
    if config.register_per_hour == 0 {
        tracing::warn!("crudauth: the registration throttle is off (register_per_hour = 0)");
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
    /// [`CrudAuthConfig::from_env`].
    ///
    /// The secret key is the exception: a key set before with
    /// [`secret_key`](Self::secret_key) is kept when `config` has none (as
    /// `from_env` has none when `CRUDAUTH_SECRET_KEY` is unset), and is
    /// replaced only by a key `config` holds. Whichever key is given last
    /// wins; a given key is never dropped for a generated one.
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

    /// The origin browsers see the app at (`https://app.example.com`): unsafe
    /// requests on a session must then come from it or a trusted origin.
    /// Needed when a proxy in front changes the scheme or host.
    pub fn public_origin(mut self, origin: impl Into<String>) -> Self {
        self.config.public_origin = Some(origin.into());
        self
    }

    /// Reverse proxies in front of the app; `0` uses the socket peer.
    pub fn trusted_proxy_hops(mut self, hops: usize) -> Self {
        self.config.trusted_proxy_hops = hops;
        self
    }

    /// Registrations allowed per client IP per hour; `0` turns the throttle
    /// off (with a warning at [`build`](Self::build)).
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
    /// Without any secret key (neither [`secret_key`](Self::secret_key) nor
    /// one in a [`config`](Self::config)), a random key is used for this
    /// process, with a warning: sessions and tokens then die with it. Also
    /// warned about: insecure cookies, and the registration throttle off.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] saying what to fix: no database, no user model, a
    /// secret under 32 bytes, no transport or a duplicate one, `#[authed]`
    /// handlers narrowed to a transport that is not enabled, a lockout
    /// count, window or base lock of 0, a zero lifetime or timeout, a
    /// duration over 100 years, and a public origin that is not
    /// `scheme://host[:port]`.
    pub fn build(self) -> Result<CrudAuth, ConfigError> {
        let db = self.db.ok_or(ConfigError::MissingDatabase)?;
        let users = self.users.ok_or(ConfigError::MissingUserModel)?;
        let mut config = self.config;
        config.validate()?;
        let secret = config.secret_key.get_or_insert_with(random_secret).clone();
        if secret.len() < 32 {
            return Err(ConfigError::WeakSecret(secret.len()));
        }
        if self.chain.is_empty() {
            return Err(ConfigError::NoTransport);
        }
        if self.chain.len() > 63 {
            return Err(ConfigError::Invalid {
                setting: "transport",
                reason: "at most 63 transports",
            });
        }
        for (i, entry) in self.chain.iter().enumerate() {
            if self.chain[..i].iter().any(|e| e.id == entry.id) {
                return Err(ConfigError::DuplicateTransport(entry.transport.name()));
            }
        }
        let handlers = registry::unknown_transports(&self.chain);
        if !handlers.is_empty() {
            return Err(ConfigError::UnknownTransports { handlers });
        }
        warn_about_relaxed_settings(&config);
        let jwt = jwt::Keys::new(&secret, &config)?;
        let auth = CrudAuth {
            inner: Arc::new(Inner {
                db,
                users,
                config,
                secret,
                chain: self.chain,
                hasher: Hasher::new().map_err(|_| ConfigError::Invalid {
                    setting: "password hashing",
                    reason: "could not start the hashing threads",
                })?,
                jwt,
                hooks: self.hooks,
            }),
        };
        spawn_purge(&auth);
        Ok(auth)
    }
}
