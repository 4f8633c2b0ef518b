//! Settings: every tunable of crudauth with its secure default, and
//! [`CrudAuthConfig::from_env`] reading the `CRUDAUTH_*` variables.

use std::time::Duration;

use rand::RngCore;

use crate::error::ConfigError;

/// How crudauth's cookies are issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookiePolicy {
    /// `Secure` attribute, and with it the `__Host-` name prefix. Turn off
    /// only for plain-http development.
    pub secure: bool,
}

impl Default for CookiePolicy {
    fn default() -> Self {
        Self { secure: true }
    }
}

impl CookiePolicy {
    /// Cookies without `Secure` and without the `__Host-` prefix, for
    /// plain-http development only.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!crudauth::CookiePolicy::insecure().secure);
    /// ```
    pub fn insecure() -> Self {
        Self { secure: false }
    }
}

/// Login lockout thresholds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures per identifier within `window` that lock it.
    pub attempts: u32,
    /// Failures per client IP within `window` that lock that IP.
    pub ip_attempts: u32,
    /// The counting window.
    pub window: Duration,
    /// The first lock's length; each further lock doubles it.
    pub base: Duration,
    /// The longest lock.
    pub max: Duration,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            ip_attempts: 20,
            window: Duration::from_secs(60),
            base: Duration::from_secs(60),
            max: Duration::from_secs(3600),
        }
    }
}

/// Every setting of a [`CrudAuth`](crate::CrudAuth), with secure defaults.
///
/// Apply one to a builder with
/// [`CrudAuthBuilder::config`](crate::CrudAuthBuilder::config).
#[derive(Clone)]
#[non_exhaustive]
pub struct CrudAuthConfig {
    /// Key for signing tokens and deriving CSRF tokens (at least 32 bytes).
    pub secret_key: Option<Vec<u8>>,
    /// Cookie attributes.
    pub cookies: CookiePolicy,
    /// Access-token lifetime (default 15 min).
    pub access_ttl: Duration,
    /// Refresh-token family lifetime (default 30 days).
    pub refresh_ttl: Duration,
    /// Session idle timeout, sliding (default 30 min).
    pub session_idle: Duration,
    /// Session absolute timeout (default 24 h).
    pub session_absolute: Duration,
    /// Lifetime of a `remember_me` session (default 30 days).
    pub remember_me: Duration,
    /// Lockout thresholds.
    pub lockout: LockoutPolicy,
    /// Origins besides the request's own that may send unsafe requests.
    pub trusted_origins: Vec<String>,
    /// How many reverse proxies in front of the app append to `X-Forwarded-For`.
    pub trusted_proxy_hops: usize,
    /// Registrations allowed per client IP per hour.
    pub register_per_hour: u32,
    /// JWT `iss` claim.
    pub issuer: String,
    /// JWT `aud` claim.
    pub audience: String,
    /// Whether `auth.router()` serves the built-in `GET /me`.
    pub me_route: bool,
    /// How often a background task deletes expired rows (default 10 min;
    /// zero turns the task off, leaving it to [`CrudAuth::purge`](crate::CrudAuth::purge)).
    pub purge_interval: Duration,
}

impl std::fmt::Debug for CrudAuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrudAuthConfig")
            .field(
                "secret_key",
                &self.secret_key.as_ref().map(|_| "<redacted>"),
            )
            .field("cookies", &self.cookies)
            .field("access_ttl", &self.access_ttl)
            .field("session_idle", &self.session_idle)
            .field("session_absolute", &self.session_absolute)
            .field("lockout", &self.lockout)
            .field("trusted_origins", &self.trusted_origins)
            .field("trusted_proxy_hops", &self.trusted_proxy_hops)
            .finish_non_exhaustive()
    }
}

impl Default for CrudAuthConfig {
    fn default() -> Self {
        Self {
            secret_key: None,
            cookies: CookiePolicy::default(),
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            session_idle: Duration::from_secs(30 * 60),
            session_absolute: Duration::from_secs(24 * 3600),
            remember_me: Duration::from_secs(30 * 24 * 3600),
            lockout: LockoutPolicy::default(),
            trusted_origins: Vec::new(),
            trusted_proxy_hops: 0,
            register_per_hour: 5,
            purge_interval: Duration::from_secs(600),
            issuer: "crudauth".to_owned(),
            audience: "crudauth".to_owned(),
            me_route: true,
        }
    }
}

fn var(name: &'static str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn number<T: std::str::FromStr>(name: &'static str, default: T) -> Result<T, ConfigError> {
    match var(name) {
        None => Ok(default),
        Some(value) => value.trim().parse().map_err(|_| ConfigError::BadEnv {
            name,
            value,
            reason: "expected a non-negative whole number",
        }),
    }
}

fn seconds(name: &'static str, default: Duration) -> Result<Duration, ConfigError> {
    number(name, default.as_secs()).map(Duration::from_secs)
}

impl CrudAuthConfig {
    /// Reads the `CRUDAUTH_*` environment variables over the defaults.
    ///
    /// `CRUDAUTH_SECRET_KEY` unset means a random key for this process (logged
    /// as a warning: sessions and tokens die with the process).
    ///
    /// # Errors
    ///
    /// [`ConfigError::BadEnv`] when a variable holds something unusable.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = crudauth::CrudAuthConfig::from_env().unwrap();
    /// assert!(config.secret_key.is_some());
    /// ```
    pub fn from_env() -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let secret_key = match var("CRUDAUTH_SECRET_KEY") {
            Some(key) => key.into_bytes(),
            None => {
                tracing::warn!(
                    "CRUDAUTH_SECRET_KEY is not set: using a random key; sessions and tokens will not survive a restart"
                );
                let mut key = vec![0u8; 48];
                rand::rng().fill_bytes(&mut key);
                key
            }
        };
        let insecure = match var("CRUDAUTH_INSECURE_COOKIES").as_deref().map(str::trim) {
            None | Some("0" | "false" | "no") => false,
            Some("1" | "true" | "yes") => true,
            Some(other) => {
                return Err(ConfigError::BadEnv {
                    name: "CRUDAUTH_INSECURE_COOKIES",
                    value: other.to_owned(),
                    reason: "expected 1/true/yes or 0/false/no",
                });
            }
        };
        let lockout = LockoutPolicy {
            attempts: number("CRUDAUTH_LOCKOUT_ATTEMPTS", defaults.lockout.attempts)?,
            ip_attempts: number("CRUDAUTH_LOCKOUT_IP_ATTEMPTS", defaults.lockout.ip_attempts)?,
            window: seconds("CRUDAUTH_LOCKOUT_WINDOW_SECS", defaults.lockout.window)?,
            base: seconds("CRUDAUTH_LOCKOUT_BASE_SECS", defaults.lockout.base)?,
            max: defaults.lockout.max,
        };
        let trusted_origins = var("CRUDAUTH_TRUSTED_ORIGINS")
            .map(|v| {
                v.split(',')
                    .map(|o| o.trim().trim_end_matches('/').to_owned())
                    .filter(|o| !o.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            secret_key: Some(secret_key),
            cookies: if insecure {
                CookiePolicy::insecure()
            } else {
                CookiePolicy::default()
            },
            access_ttl: seconds("CRUDAUTH_ACCESS_TTL_SECS", defaults.access_ttl)?,
            session_idle: seconds("CRUDAUTH_SESSION_IDLE_SECS", defaults.session_idle)?,
            session_absolute: seconds("CRUDAUTH_SESSION_ABSOLUTE_SECS", defaults.session_absolute)?,
            lockout,
            trusted_origins,
            trusted_proxy_hops: number("CRUDAUTH_TRUSTED_PROXY_HOPS", 0)?,
            register_per_hour: number("CRUDAUTH_REGISTER_PER_HOUR", defaults.register_per_hour)?,
            ..defaults
        })
    }
}
