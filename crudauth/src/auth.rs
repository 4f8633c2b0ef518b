//! [`CrudAuth`]'s public face: its builder and every method an application
//! calls, each delegating to the module that does the work.

use std::any::TypeId;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::FromRef;
use sea_orm::{DatabaseBackend, DatabaseConnection};

use crate::cache::PrincipalCache;
use crate::config::{CookiePolicy, CrudAuthConfig, LockoutPolicy};
use crate::enrolment::MfaRequirement;
use crate::error::{AuthError, ConfigError};
use crate::events::AuthEvent;
use crate::layer::{AuthLayer, JsonErrors};
use crate::mail::{EmailSender, Mailer, SmtpSender};
use crate::mfa::MfaKeys;
use crate::password::Hasher;
use crate::password::legacy::{LegacyHash, LegacyHashes};
use crate::password::policy::PasswordPolicy;
use crate::principal::UserId;
use crate::rate::{RateLimitStore, RateLimiter};
use crate::route::Route;
use crate::routes::direct::{IssueTokens, NewAccount, SignIn};
use crate::state::{ChainEntry, CrudAuth, Hook, Inner, Transport};
use crate::store::users::{ModelStore, UserStore};
use crate::store::{self, families, purge, sessions};
use crate::user::AuthUser;
use crate::user::register::{NewUser, NewUserHook};
use crate::{jwt, registry, revocation, routes};

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
    ///
    /// On the application's user table (once it exists) it creates an index
    /// on `lower(email)`, which every email lookup of crudauth uses: without
    /// it those scan the table, and `/register` answers a taken address
    /// sooner than a free one.
    ///
    /// On PostgreSQL with the principal cache on, it also installs a trigger
    /// on the application's user table that announces every update and
    /// delete to all instances, so that edits made outside crudauth reach
    /// the cache at once (turn it off with
    /// [`CrudAuthConfig::user_table_trigger`]).
    ///
    /// Each step is recorded in sea-orm's migration table
    /// (`seaql_migrations`) under the name
    /// `crudauth::migration::migrations()` gives it, so that an
    /// application's own migrator listing those steps sees them applied
    /// (one that does not list them will complain of applied migrations it
    /// has no file for: list them, or do not call `migrate()`). Every step
    /// is safe to run again: a database made by an earlier release upgrades
    /// in place.
    pub async fn migrate(&self) -> Result<(), sea_orm::DbErr> {
        let inner = &self.inner;
        let (table, key) = inner.users.table_and_key();
        let email = inner.users.email_column();
        let announce = inner.config.user_table_trigger && !inner.config.cache_ttl.is_zero();
        let users = crate::store::migration::UserTable {
            name: table,
            key,
            email,
        };
        let announce_on = announce.then_some(revocation::CHANNEL);
        crate::store::migration::migrate(&inner.db, &users, announce_on).await
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

    /// The built-in routes, under the [base path](CrudAuthBuilder::base_path):
    /// `/register`, `/me`, `/logout-all`, `/change-password`, plus
    /// `/login`, `/logout`, `/sessions` with the session transport and
    /// `/token`, `/refresh`, `/revoke` with the bearer transport, and more
    /// with an email column, an MFA key or sign-in providers ([`Route`]
    /// lists them all; [`routes`](Self::routes) says which are mounted).
    ///
    /// They read their own bodies (JSON or a form, at most the
    /// [body limit](CrudAuthBuilder::body_limit)) and answer every error,
    /// a wrong method included, with crudauth's JSON body.
    pub fn router<S>(&self) -> Router<S>
    where
        CrudAuth: FromRef<S>,
        S: Clone + Send + Sync + 'static,
    {
        routes::router(self).route_layer(JsonErrors::limited(self.inner.config.body_limit))
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
    #[cfg_attr(docsrs, doc(cfg(feature = "openapi")))]
    pub fn openapi(&self) -> utoipa::openapi::OpenApi {
        crate::openapi::document(self)
    }

    /// The built-in routes this configuration serves, as `(method, path)`
    /// with the base path: exactly what [`router`](Self::router) mounts and
    /// the OpenAPI document lists (its transports, the user model's
    /// columns, an MFA key, sign-in providers and the disabled routes
    /// decide which).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn doc(auth: crudauth::CrudAuth) {
    /// for (method, path) in auth.routes() {
    ///     println!("{method} {path}");
    /// }
    /// # }
    /// ```
    pub fn routes(&self) -> Vec<(axum::http::Method, String)> {
        let base = &self.inner.config.base_path;
        routes::table::<CrudAuth>(self)
            .into_iter()
            .map(|entry| {
                let route = entry.route;
                (route.method(), format!("{base}{}", route.path()))
            })
            .collect()
    }

    /// A layer for the whole application, outermost. It leaves the
    /// application's routes alone (no body limit, no rewritten answers):
    /// it only reads an HTML form's `csrf_token` field, so that the session
    /// transport's CSRF check accepts it as it accepts the `X-CSRF-Token`
    /// header. crudauth's own routes carry their body limit and JSON
    /// errors themselves; [`JsonErrors`](crate::JsonErrors) gives the
    /// application's routes the same JSON errors, if it wants them.
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

    /// Creates an account from the application's code (an invite, an
    /// import, an admin page): the password policy applies as at
    /// `/register`, and nothing a client could set is. Works with
    /// [`Route::Register`] disabled.
    ///
    /// # Errors
    ///
    /// [`AuthError::EmailTaken`] when another account has the address,
    /// [`AuthError::AlreadyRegistered`] for a taken username,
    /// [`AuthError::Invalid`] for a malformed address or username, a
    /// password the policy refuses, or a flag the user model has no
    /// column for; [`AuthError::Unavailable`] when the database fails.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn doc(auth: crudauth::CrudAuth) -> Result<(), crudauth::AuthError> {
    /// use crudauth::NewAccount;
    ///
    /// let id = auth
    ///     .create_user(NewAccount::email("ada@example.com").password("correct horse battery"))
    ///     .await?;
    /// # let _ = id; Ok(()) }
    /// ```
    pub async fn create_user(&self, account: NewAccount) -> Result<UserId, AuthError> {
        routes::direct::create_user(self, account).await
    }

    /// Checks a password as `/login` does, behind the same lockout: a wrong
    /// password counts against the identifier, the account and `ip`, and a
    /// locked one is refused before any hashing. The account's id when the
    /// password is right (a second factor is the application's to ask for
    /// next, see [`sign_in`](Self::sign_in)).
    ///
    /// # Errors
    ///
    /// [`AuthError::InvalidCredentials`] for a wrong password, an unknown
    /// or inactive account; [`AuthError::Locked`] while locked out.
    pub async fn check_password(
        &self,
        identifier: &str,
        password: &str,
        ip: std::net::IpAddr,
    ) -> Result<UserId, AuthError> {
        routes::direct::check_password(self, identifier, password.to_owned(), ip).await
    }

    /// Signs a user in with a new session from the application's own
    /// handler (after its own check: a magic link, an SSO of its own):
    /// return the [`SessionLogin`](crate::SessionLogin) with the answer to set the cookies.
    ///
    /// An account with a second factor is refused with
    /// [`AuthError::MfaRequired`] unless [`SignIn::with_mfa`] says the
    /// application checked it.
    ///
    /// # Errors
    ///
    /// [`AuthError::InvalidCredentials`] for an unknown or inactive
    /// account, [`AuthError::MfaRequired`] as above,
    /// [`AuthError::Unavailable`] when the database fails.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn doc(auth: crudauth::CrudAuth, id: crudauth::UserId) -> Result<(), crudauth::AuthError> {
    /// let login = auth.sign_in(&id).remember_me().await?;
    /// let response = (login, "signed in");
    /// # let _ = response; Ok(()) }
    /// ```
    pub fn sign_in(&self, user: &UserId) -> SignIn<'_> {
        SignIn::new(self, user.clone())
    }

    /// Issues a token pair for a user from the application's code, granted
    /// the `scopes` the user has among those asked for. An account with a
    /// second factor needs [`IssueTokens::with_mfa`], as for
    /// [`sign_in`](Self::sign_in).
    ///
    /// # Errors
    ///
    /// As [`sign_in`](Self::sign_in).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn doc(auth: crudauth::CrudAuth, id: crudauth::UserId) -> Result<(), crudauth::AuthError> {
    /// let pair = auth.issue_tokens(&id, &["jobs:read"]).await?;
    /// println!("{}", serde_json::to_string(&pair).unwrap());
    /// # Ok(()) }
    /// ```
    pub fn issue_tokens(&self, user: &UserId, scopes: &[&str]) -> IssueTokens<'_> {
        let scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
        IssueTokens::new(self, user.clone(), scopes)
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
        revocation::user(self, &owner).await;
        crate::audit::user_revoked(&owner, "admin", ended);
        Ok(ended)
    }

    /// How many sessions and token families the principal cache holds.
    pub fn cached_principals(&self) -> u64 {
        self.inner.cache.len()
    }

    /// Sets the principal cache's figures in the `metrics` facade, for an
    /// exporter to show; call it before each scrape (it reads counters, it
    /// does not reset them):
    /// `crudauth_principal_cache_entries` (a gauge: sessions and token
    /// families held) and `crudauth_principal_cache_lookups_total` with
    /// `result="hit"` or `"miss"` (counters since the start). crudauth's
    /// events are counted as they happen, in `crudauth_events_total` by
    /// `event` (`login_failed`, `locked`, `token_reuse_detected`,
    /// … as in the audit trail).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn doc(auth: crudauth::CrudAuth, handle: fn() -> String) {
    /// // In the handler of an internal /metrics route:
    /// auth.publish_metrics();
    /// let text = handle(); // e.g. a PrometheusHandle's render()
    /// # }
    /// ```
    pub fn publish_metrics(&self) {
        let (hits, misses) = self.inner.cache.lookups();
        metrics::gauge!("crudauth_principal_cache_entries").set(self.inner.cache.len() as f64);
        metrics::counter!("crudauth_principal_cache_lookups_total", "result" => "hit")
            .absolute(hits);
        metrics::counter!("crudauth_principal_cache_lookups_total", "result" => "miss")
            .absolute(misses);
    }

    /// Makes an edit of a user's row that the application made itself
    /// (deactivation, new scopes, superuser) take effect on the next
    /// request: the principal cache forgets the user, here and, on
    /// PostgreSQL, on every instance sharing the database. Without it such
    /// an edit is seen within
    /// [`cache_ttl`](CrudAuthConfig::cache_ttl) (at once on PostgreSQL when
    /// `migrate()` installed the user-table trigger).
    pub async fn invalidate_user(&self, id: impl Into<UserId>) {
        revocation::user(self, &id.into().to_string()).await;
    }

    /// The names of the sign-in providers, in the order they were added:
    /// each has its `/oauth/{name}/authorize` (for a "Sign in with" link).
    #[cfg(feature = "oidc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "oidc")))]
    pub fn oidc_providers(&self) -> Vec<&str> {
        self.inner.oidc.iter().map(|p| p.name()).collect()
    }

    /// Seals every stored second-factor secret under the first of
    /// [`mfa_keys`](CrudAuthBuilder::mfa_keys), in batches of 500: after
    /// it, the older keys are needed only for the recovery codes handed
    /// out under them. Safe to run while the application serves (a secret
    /// changed meanwhile is left to its own re-seal at next use) and to
    /// run again.
    ///
    /// # Errors
    ///
    /// [`AuthError::NotFound`] without an MFA key; the database's error as
    /// [`AuthError::Unavailable`].
    pub async fn rotate_mfa_key(&self) -> Result<MfaRotation, AuthError> {
        const BATCH: u64 = 500;
        let keys = self.inner.mfa.as_ref().ok_or(AuthError::NotFound)?;
        let db = &self.inner.db;
        let mut report = MfaRotation::default();
        let mut after: Option<String> = None;
        loop {
            let rows = store::mfa::page(db, after.as_deref(), BATCH).await?;
            let Some(last) = rows.last() else { break };
            after = Some(last.user_id.clone());
            for row in &rows {
                match keys.open(&row.user_id, &row.secret) {
                    None => report.unreadable += 1,
                    Some(opened) => match opened.resealed {
                        None => report.current += 1,
                        Some(resealed) => {
                            if store::mfa::reseal(db, &row.user_id, &row.secret, &resealed).await? {
                                report.resealed += 1;
                            } else {
                                report.current += 1;
                            }
                        }
                    },
                }
            }
        }
        Ok(report)
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
        Ok(purged.sessions
            + purged.families
            + purged.refresh_tokens
            + purged.attempts
            + purged.one_time_tokens
            + purged.challenges)
    }
}

/// What [`CrudAuth::rotate_mfa_key`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MfaRotation {
    /// Secrets an older key opened, now sealed under the first.
    pub resealed: u64,
    /// Secrets already sealed under the first key.
    pub current: u64,
    /// Secrets no listed key opens (altered, or sealed under a key no
    /// longer listed): their owners cannot pass the second factor.
    pub unreadable: u64,
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

/// No mail sender: the mailed links (verification, reset) are written to
/// the log. Said once per process, however many instances are built.
fn warn_mail_to_log() {
    static WARNED: std::sync::Once = std::sync::Once::new();
    WARNED.call_once(|| {
        tracing::warn!(
            "crudauth: no mail sender (CRUDAUTH_SMTP_URL or `.email_sender(..)`): verification \
             and reset links go to the log, where anyone who reads it can use them; \
             configure SMTP before production"
        );
    });
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

/// A connection to a database whose feature (`sqlite`, `postgres`) this
/// build of crudauth left out, possible when the application enables
/// sea-orm's driver itself: on PostgreSQL it would run without the
/// listener that carries revocations between instances.
fn check_driver(backend: DatabaseBackend) -> Result<(), ConfigError> {
    let reason = match backend {
        DatabaseBackend::Sqlite if !cfg!(feature = "sqlite") => {
            "a SQLite connection needs crudauth's `sqlite` feature (it is in the default features)"
        }
        DatabaseBackend::Postgres if !cfg!(feature = "postgres") => {
            "a PostgreSQL connection needs crudauth's `postgres` feature (it is in the default features)"
        }
        _ => return Ok(()),
    };
    Err(ConfigError::Invalid {
        setting: "database",
        reason,
    })
}

/// Sign-in providers need a session to end in, a public origin for their
/// redirect URI, an email column to link by, and names of their own.
#[cfg(feature = "oidc")]
fn check_oidc(
    providers: &[crate::oidc::OidcProvider],
    chain: &[ChainEntry],
    config: &CrudAuthConfig,
    has_email: bool,
) -> Result<(), ConfigError> {
    if providers.is_empty() {
        return Ok(());
    }
    let invalid = |reason| ConfigError::Invalid {
        setting: "oidc_provider",
        reason,
    };
    let session = TypeId::of::<crate::transport::session::SessionTransport>();
    if !chain.iter().any(|e| e.id == session) {
        return Err(invalid(
            "sign-in providers need the session transport: add `.transport(SessionTransport::new())`",
        ));
    }
    if config.public_origin.is_none() {
        return Err(invalid(
            "sign-in providers need `.public_origin(..)` (CRUDAUTH_PUBLIC_ORIGIN): their redirect URI is built from it",
        ));
    }
    if !has_email {
        return Err(invalid(
            "sign-in providers link accounts by email: the user model needs an email field",
        ));
    }
    for (i, provider) in providers.iter().enumerate() {
        if providers[..i].iter().any(|p| p.name() == provider.name()) {
            return Err(invalid("two sign-in providers have the same name"));
        }
    }
    Ok(())
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
    email_sender: Option<Arc<dyn EmailSender>>,
    password_policy: PasswordPolicy,
    legacy_hashes: LegacyHashes,
    register_fields: Vec<String>,
    new_user: Option<NewUserHook>,
    rate_limits: RateLimitStore,
    require_mfa: Option<MfaRequirement>,
    #[cfg(feature = "oidc")]
    oidc: Vec<crate::oidc::OidcProvider>,
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

    /// Requires a second factor of some users ([`MfaRequirement`]): one
    /// without an enrolment still signs in, but gets 403
    /// `mfa_enrolment_required` from every guarded route except the
    /// enrolment routes until the enrolment is confirmed, which makes that
    /// credential's `principal.mfa` true. Needs an MFA key.
    ///
    /// # Examples
    ///
    /// ```
    /// use crudauth::MfaRequirement;
    /// let builder = crudauth::CrudAuth::builder().require_mfa(MfaRequirement::Superusers);
    /// ```
    pub fn require_mfa(mut self, requirement: MfaRequirement) -> Self {
        self.require_mfa = Some(requirement);
        self
    }

    /// At most `n` live sessions per user: the login that would open one
    /// more ends the oldest (audit `session_revoked`, reason
    /// `session_cap`). Two logins at the cap at the same moment leave
    /// exactly `n`. Bearer token families count apart
    /// ([`max_token_families_per_user`](Self::max_token_families_per_user)).
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = crudauth::CrudAuth::builder().max_sessions_per_user(5);
    /// ```
    pub fn max_sessions_per_user(mut self, n: u32) -> Self {
        self.config.max_sessions_per_user = Some(n);
        self
    }

    /// At most `n` live bearer token families (one per `/token` login) per
    /// user: the login that would start one more revokes the oldest, whose
    /// refresh token then stops working (audit `token_revoked`, reason
    /// `family_cap`).
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = crudauth::CrudAuth::builder().max_token_families_per_user(10);
    /// ```
    pub fn max_token_families_per_user(mut self, n: u32) -> Self {
        self.config.max_token_families_per_user = Some(n);
        self
    }

    /// Where `#[authed(rate = "..")]` keeps its counters: in this process
    /// (the default), or in a Redis server every instance shares (feature
    /// `redis`). A store that cannot be reached lets requests through and
    /// warns, at most once a minute.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "redis")] {
    /// let builder = crudauth::CrudAuth::builder()
    ///     .rate_limits(crudauth::RateLimitStore::Redis("redis://127.0.0.1:6379".into()));
    /// # }
    /// ```
    pub fn rate_limits(mut self, store: RateLimitStore) -> Self {
        self.rate_limits = store;
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
        let mfa_key = self.config.mfa_key.take();
        let previous = std::mem::take(&mut self.config.mfa_previous_keys);
        self.config = config;
        if self.config.secret_key.is_none() {
            self.config.secret_key = secret;
        }
        if self.config.mfa_key.is_none() {
            self.config.mfa_key = mfa_key;
            self.config.mfa_previous_keys = previous;
        }
        self
    }

    /// The key that seals second-factor (TOTP) secrets at rest: exactly 32
    /// bytes, and not the secret key. With it, the `/mfa` routes are
    /// served and enrolled accounts must pass their second factor at login.
    /// Like the secret key, it is kept across a later
    /// [`config`](Self::config) that holds none.
    pub fn mfa_key(self, key: impl AsRef<[u8]>) -> Self {
        self.mfa_keys([key])
    }

    /// Second-factor keys during a rotation: the first seals, every one
    /// opens. A secret an older key opens is sealed again under the first
    /// when next used, and the CLI's `rotate-mfa-key` does it for every
    /// secret at once; recovery codes handed out under an older key work
    /// for as long as that key is listed. Each key is 32 bytes, none the
    /// secret key.
    ///
    /// # Examples
    ///
    /// ```
    /// let (new, old) = ([1u8; 32], [2u8; 32]);
    /// let builder = crudauth::CrudAuth::builder().mfa_keys([new, old]);
    /// ```
    pub fn mfa_keys<K: AsRef<[u8]>>(mut self, keys: impl IntoIterator<Item = K>) -> Self {
        let mut keys = keys.into_iter().map(|key| key.as_ref().to_vec());
        self.config.mfa_key = keys.next();
        self.config.mfa_previous_keys = keys.collect();
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

    /// The principal cache: how long a resolved session or token family is
    /// served from memory (zero turns it off) and how many of each are kept.
    pub fn principal_cache(mut self, ttl: Duration, capacity: u64) -> Self {
        self.config.cache_ttl = ttl;
        self.config.cache_capacity = capacity;
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

    /// Delivers crudauth's mail (verification, password reset, email
    /// change) with `sender`, such as an [`SmtpSender`].
    ///
    /// Without one, a `smtp_url` in the config (`CRUDAUTH_SMTP_URL`) makes
    /// an [`SmtpSender`]; otherwise mail goes to the log ([`LogSender`](crate::LogSender)).
    /// Only a configured sender (this call or `smtp_url`) makes `/register`
    /// non-enumerable (202 for new and taken emails alike): with the log
    /// default it keeps 201/409, as nobody would receive the notice.
    pub fn email_sender(mut self, sender: impl EmailSender) -> Self {
        self.email_sender = Some(Arc::new(sender));
        self
    }

    /// The rules every new password must pass, at `/register`,
    /// `/change-password`, `/password/reset-confirm`, `/set-password` and
    /// the `create-user` command (default: 8 to 256 characters).
    ///
    /// # Examples
    ///
    /// ```
    /// use crudauth::{CrudAuth, PasswordPolicy};
    ///
    /// let builder = CrudAuth::builder()
    ///     .password_policy(PasswordPolicy::default().min_len(12).require_digit());
    /// # let _ = builder;
    /// ```
    pub fn password_policy(mut self, policy: PasswordPolicy) -> Self {
        self.password_policy = policy;
        self
    }

    /// Also accepts the password hashes of users brought from another
    /// framework: bcrypt, Django's `pbkdf2_sha256`, PHC strings of
    /// pbkdf2-sha256 and scrypt (see [`LegacyHash`] for the forms). Such a
    /// hash verifies wherever a password is checked (`/login`, `/token`,
    /// `/change-password`, …), behind the same lockout as an argon2id hash,
    /// and the first check it passes replaces it with argon2id in the same
    /// request. None is accepted by default (without this call such a hash
    /// fails to verify); the last call's formats are the ones accepted.
    ///
    /// # Examples
    ///
    /// ```
    /// use crudauth::{CrudAuth, LegacyHash};
    ///
    /// let builder =
    ///     CrudAuth::builder().legacy_hashes([LegacyHash::Bcrypt, LegacyHash::DjangoPbkdf2]);
    /// # let _ = builder;
    /// ```
    pub fn legacy_hashes(mut self, formats: impl IntoIterator<Item = LegacyHash>) -> Self {
        self.legacy_hashes = formats.into_iter().collect();
        self
    }

    /// The extra columns of the user entity a client may set at
    /// `/register` (a `display_name`, a locale); other fields of the body
    /// are ignored. Each value is read as its column's type: a JSON value
    /// of another type is refused with 422 `invalid` naming the field.
    ///
    /// [`build`](Self::build) fails on a column crudauth manages (the key,
    /// the password hash, `is_active`, `is_superuser`, `email_verified`,
    /// the scopes), on email and username (already read), and on a column
    /// the entity does not have.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = crudauth::CrudAuth::builder().register_fields(["display_name", "locale"]);
    /// # let _ = builder;
    /// ```
    pub fn register_fields<I, S>(mut self, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.register_fields = fields.into_iter().map(Into::into).collect();
        self
    }

    /// Sets server-side values on every new user, whatever made it
    /// (`/register`, a sign-in provider, the `create-user` command):
    /// `hook` gets who the user is and the entity's `ActiveModel`, after
    /// crudauth's own columns and the client's
    /// [`register_fields`](Self::register_fields), so what it sets wins.
    /// [`build`](Self::build) fails when the `ActiveModel` is not the user
    /// model's.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # mod user {
    /// # use sea_orm::entity::prelude::*;
    /// # #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, crudauth::AuthUser)]
    /// # #[sea_orm(table_name = "users")]
    /// # pub struct Model { #[sea_orm(primary_key)] pub id: i64, pub email: String,
    /// #   pub password_hash: String, pub display_name: Option<String> }
    /// # #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    /// # pub enum Relation {}
    /// # impl ActiveModelBehavior for ActiveModel {}
    /// # }
    /// use sea_orm::ActiveValue::Set;
    ///
    /// let builder = crudauth::CrudAuth::builder()
    ///     .user_model::<user::Model>()
    ///     .new_user(|new, row: &mut user::ActiveModel| {
    ///         // Until they choose one, the part of the email before the `@`.
    ///         let name = new.email.and_then(|e| e.split('@').next());
    ///         if row.display_name.is_not_set() {
    ///             row.display_name = Set(name.map(str::to_owned));
    ///         }
    ///     });
    /// # let _ = builder;
    /// ```
    pub fn new_user<A: std::any::Any>(
        mut self,
        hook: impl Fn(&NewUser<'_>, &mut A) + Send + Sync + 'static,
    ) -> Self {
        self.new_user = Some(NewUserHook::new(hook));
        self
    }

    /// The paths, on the [`public_origin`](Self::public_origin), of the
    /// pages that redeem the mailed links (defaults `/verify-email`,
    /// `/reset-password`, `/confirm-email`): each link is
    /// `{public_origin}{base_path}{path}?token=…`, under the
    /// [`base_path`](Self::base_path) as the routes are. [`build`](Self::build) refuses a
    /// path that does not start with one `/` or holds a query, a fragment
    /// or spaces.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = crudauth::CrudAuth::builder()
    ///     .link_paths("/account/verify", "/account/reset", "/account/confirm-email");
    /// # let _ = builder;
    /// ```
    pub fn link_paths(
        mut self,
        verify_email: impl Into<String>,
        reset_password: impl Into<String>,
        confirm_email: impl Into<String>,
    ) -> Self {
        self.config.verify_email_path = verify_email.into();
        self.config.reset_password_path = reset_password.into();
        self.config.confirm_email_path = confirm_email.into();
        self
    }

    /// Mounts the built-in routes under `path` (`/auth`: `/auth/login`,
    /// `/auth/token`, …), with the mailed links' paths (see
    /// [`link_paths`](Self::link_paths)), the OAuth redirect URI and the
    /// OpenAPI document's paths; cookies keep `Path=/`. A trailing `/` is
    /// dropped (`"/"` is the root, the default). [`build`](Self::build)
    /// refuses a path that is not segments of letters, digits and `-._~`.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = crudauth::CrudAuth::builder().base_path("/auth");
    /// # let _ = builder;
    /// ```
    pub fn base_path(mut self, path: impl Into<String>) -> Self {
        let mut path = path.into();
        if path.ends_with('/') {
            path.pop();
        }
        self.config.base_path = path;
        self
    }

    /// Switches a built-in route off: it answers 404 (the application's
    /// fallback) and is absent from the OpenAPI document. An invite-only
    /// application drops [`Route::Register`], for instance, and creates
    /// accounts with [`CrudAuth::create_user`].
    ///
    /// # Examples
    ///
    /// ```
    /// use crudauth::Route;
    ///
    /// let builder = crudauth::CrudAuth::builder()
    ///     .disable(Route::Register)
    ///     .disable(Route::Sessions);
    /// # let _ = builder;
    /// ```
    pub fn disable(mut self, route: Route) -> Self {
        if !self.config.disabled_routes.contains(&route) {
            self.config.disabled_routes.push(route);
        }
        self
    }

    /// The largest request body crudauth's own routes read (default
    /// 64 KiB, at least 1 KiB): a larger one is refused with 413
    /// `payload_too_large` before it is read. The application's own routes
    /// keep whatever limit the application sets.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.config.body_limit = bytes;
        self
    }

    /// Recovery requests (`/email/verify-request`,
    /// `/password/reset-request`) allowed per client IP per hour (default
    /// 20); `0` turns the throttle off.
    pub fn recovery_per_hour(mut self, limit: u32) -> Self {
        self.config.recovery_per_hour = limit;
        self
    }

    /// Offers sign-in with an OpenID provider, GitHub or Google at
    /// `/oauth/{name}/authorize` (SPEC section 9). Needs the session
    /// transport (the sign-in ends in a session) and a
    /// [`public_origin`](Self::public_origin) (the redirect URI registered
    /// with the provider is `<public origin>/oauth/{name}/callback`).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(builder: crudauth::CrudAuthBuilder) -> Result<(), Box<dyn std::error::Error>> {
    /// use crudauth::OidcProvider;
    ///
    /// let provider = OidcProvider::discover("acme", "https://id.acme.example", "app", Some("secret")).await?;
    /// let auth = builder
    ///     .public_origin("https://app.example.com")
    ///     .oidc_provider(provider)
    ///     .build()?;
    /// # let _ = auth; Ok(()) }
    /// ```
    #[cfg(feature = "oidc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "oidc")))]
    pub fn oidc_provider(mut self, provider: crate::oidc::OidcProvider) -> Self {
        self.oidc.push(provider);
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
    /// A [`ConfigError`] saying what to fix: no database, a database whose
    /// feature (`sqlite`, `postgres`) is off, no user model, a secret under
    /// 32 bytes, no transport or a duplicate one, `#[authed]`
    /// handlers narrowed to a transport that is not enabled, a lockout
    /// count, window or base lock of 0, a zero lifetime or timeout, a
    /// duration over 100 years, a mail sender without a public origin (the
    /// links need it), an unusable `smtp_url`, a public origin that is not
    /// `scheme://host[:port]`, an MFA key that is not 32 bytes or is the
    /// secret key, a `register_fields` column that is privileged or unknown,
    /// a `new_user` hook for another entity, a password policy no password
    /// can pass, and a link path that is not a plain path.
    pub fn build(self) -> Result<CrudAuth, ConfigError> {
        let db = self.db.ok_or(ConfigError::MissingDatabase)?;
        check_driver(db.get_database_backend())?;
        let mut users = self.users.ok_or(ConfigError::MissingUserModel)?;
        users.set_registration(self.register_fields, self.new_user)?;
        let mut config = self.config;
        config.validate()?;
        self.password_policy.validate()?;
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
        // Before the narrowed handlers: a sign-in provider without the
        // session transport is the more specific mistake to name.
        #[cfg(feature = "oidc")]
        check_oidc(&self.oidc, &self.chain, &config, users.has_email())?;
        let handlers = registry::unknown_transports(&self.chain);
        if !handlers.is_empty() {
            return Err(ConfigError::UnknownTransports { handlers });
        }
        warn_about_relaxed_settings(&config);
        let email_sender = match (self.email_sender, config.smtp_url.as_deref()) {
            (Some(sender), _) => Some(sender),
            (None, Some(url)) => Some(Arc::new(SmtpSender::new(url, &config.mail_from)?) as _),
            (None, None) => {
                warn_mail_to_log();
                None
            }
        };
        if email_sender.is_some() && config.public_origin.is_none() {
            return Err(ConfigError::Invalid {
                setting: "public_origin",
                reason: "mail links need the app's public origin: set CRUDAUTH_PUBLIC_ORIGIN or \
                         `.public_origin(..)` when a mail sender is configured",
            });
        }
        let mfa = match config.mfa_key.as_deref() {
            None if config.mfa_previous_keys.is_empty() => None,
            None => {
                return Err(ConfigError::Invalid {
                    setting: "mfa_keys",
                    reason: "older second-factor keys are listed without a current one: the first of `.mfa_keys(..)` seals",
                });
            }
            Some(key) => {
                let keys: Vec<&[u8]> = std::iter::once(key)
                    .chain(config.mfa_previous_keys.iter().map(Vec::as_slice))
                    .collect();
                // A key shared with token signing would let one leak open both.
                if keys
                    .iter()
                    .any(|key| *key == secret.as_slice() || secret.starts_with(key))
                {
                    return Err(ConfigError::Invalid {
                        setting: "mfa_key",
                        reason: "must differ from the secret key (generate one with `openssl rand -base64 32`)",
                    });
                }
                Some(MfaKeys::new(keys).ok_or(ConfigError::Invalid {
                    setting: "mfa_key",
                    reason: "must be exactly 32 bytes",
                })?)
            }
        };
        let jwt = jwt::Keys::new(&secret, &config)?;
        if self.require_mfa.is_some() && mfa.is_none() {
            return Err(ConfigError::Invalid {
                setting: "require_mfa",
                reason: "a required second factor needs the key that seals it: set `.mfa_key(..)` (CRUDAUTH_MFA_KEY)",
            });
        }
        let rates =
            RateLimiter::new(&self.rate_limits, &db).map_err(ConfigError::RateLimitStore)?;
        let cache = PrincipalCache::new(config.cache_ttl, config.cache_capacity);
        let auth = CrudAuth {
            inner: Arc::new(Inner {
                db,
                users,
                config,
                secret,
                chain: self.chain,
                hasher: Hasher::new(self.legacy_hashes).map_err(|_| ConfigError::Invalid {
                    setting: "password hashing",
                    reason: "could not start the hashing threads",
                })?,
                password_policy: self.password_policy,
                jwt,
                hooks: self.hooks,
                cache,
                mail: Mailer::new(email_sender),
                #[cfg(feature = "oidc")]
                oidc: self.oidc,
                mfa,
                rates,
                require_mfa: self.require_mfa,
            }),
        };
        spawn_purge(&auth);
        #[cfg(feature = "postgres")]
        revocation::spawn_listener(&auth);
        Ok(auth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_is_accepted_exactly_when_its_feature_is_on() {
        let accepted = |backend| check_driver(backend).is_ok();
        assert_eq!(accepted(DatabaseBackend::Sqlite), cfg!(feature = "sqlite"));
        assert_eq!(
            accepted(DatabaseBackend::Postgres),
            cfg!(feature = "postgres")
        );
    }
}
