//! Settings: every tunable of crudauth with its secure default, and
//! [`CrudAuthConfig::from_env`] reading the `CRUDAUTH_*` variables.

use std::time::Duration;

use crate::error::ConfigError;
use crate::origin::Origin;
use crate::route::Route;

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
    /// Key sealing second-factor secrets (exactly 32 bytes, not the secret
    /// key). Unset, the second-factor routes are off.
    pub mfa_key: Option<Vec<u8>>,
    /// Older second-factor keys, during a rotation: they open secrets and
    /// recovery codes sealed under them, never seal
    /// ([`CrudAuthBuilder::mfa_keys`](crate::CrudAuthBuilder::mfa_keys)).
    pub mfa_previous_keys: Vec<Vec<u8>>,
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
    /// The origin browsers see the app at (`https://app.example.com`), when
    /// a proxy in front of it changes the scheme or host: unsafe requests
    /// must then come from exactly this origin (or a trusted one). Unset,
    /// the request's own origin is `https://` (`http://` with insecure
    /// cookies) and its `Host`.
    pub public_origin: Option<String>,
    /// How many reverse proxies in front of the app append to `X-Forwarded-For`.
    pub trusted_proxy_hops: usize,
    /// Registrations allowed per client IP per hour; 0 turns the throttle
    /// off.
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
    /// How long a resolved session or token family is served from memory
    /// (default 10 s; zero turns the cache off). Revocations through
    /// crudauth take effect at once regardless; edits of the user table
    /// outside crudauth, within this time (or at once on PostgreSQL, see
    /// [`CrudAuth::migrate`](crate::CrudAuth::migrate)).
    pub cache_ttl: Duration,
    /// The most sessions, and the most token families, kept in the cache
    /// (default 100 000 each).
    pub cache_capacity: u64,
    /// Whether `migrate()` installs, on PostgreSQL, a trigger on the user
    /// table announcing its updates and deletes to the principal caches of
    /// every instance (default true).
    pub user_table_trigger: bool,
    /// Where mail is delivered (`smtp://host:port`, `smtps://user:pass@host`);
    /// unset, mail goes to the log unless the builder was given a sender.
    pub smtp_url: Option<String>,
    /// The `From` of crudauth's mail (default `crudauth <no-reply@localhost>`).
    pub mail_from: String,
    /// Recovery requests (verify, reset) allowed per client IP per hour;
    /// 0 turns the throttle off.
    pub recovery_per_hour: u32,
    /// The path, on the public origin, of the page that redeems a
    /// verification link (default `/verify-email`); the link is
    /// `{public_origin}{path}?token=…`.
    pub verify_email_path: String,
    /// The path of the page that redeems a password-reset link (default
    /// `/reset-password`).
    pub reset_password_path: String,
    /// The path of the page that redeems an email-change link (default
    /// `/confirm-email`).
    pub confirm_email_path: String,
    /// Where the built-in routes are mounted: `""` (the default) for the
    /// root, or a path such as `/auth`. The mailed links' paths and the
    /// OAuth redirect URI are under it too; cookies keep `Path=/`.
    pub base_path: String,
    /// Built-in routes switched off: each answers 404 and is absent from
    /// the OpenAPI document.
    pub disabled_routes: Vec<Route>,
    /// The largest request body crudauth's own routes read (default
    /// 64 KiB); a larger one is 413 `payload_too_large`. The application's
    /// routes are not limited by crudauth.
    pub body_limit: usize,
    /// The most live sessions a user may hold (unset: no cap); the login
    /// that would make one more ends the oldest.
    pub max_sessions_per_user: Option<u32>,
    /// The most live bearer token families a user may hold (unset: no
    /// cap); the `/token` login that would make one more ends the oldest.
    pub max_token_families_per_user: Option<u32>,
}

impl std::fmt::Debug for CrudAuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrudAuthConfig")
            .field(
                "secret_key",
                &self.secret_key.as_ref().map(|_| "<redacted>"),
            )
            .field("mfa_key", &self.mfa_key.as_ref().map(|_| "<redacted>"))
            .field("mfa_previous_keys", &self.mfa_previous_keys.len())
            .field("cookies", &self.cookies)
            .field("access_ttl", &self.access_ttl)
            .field("session_idle", &self.session_idle)
            .field("session_absolute", &self.session_absolute)
            .field("lockout", &self.lockout)
            .field("trusted_origins", &self.trusted_origins)
            .field("public_origin", &self.public_origin)
            .field("trusted_proxy_hops", &self.trusted_proxy_hops)
            .field("base_path", &self.base_path)
            .field("disabled_routes", &self.disabled_routes)
            .field("body_limit", &self.body_limit)
            .finish_non_exhaustive()
    }
}

impl Default for CrudAuthConfig {
    fn default() -> Self {
        Self {
            secret_key: None,
            mfa_key: None,
            mfa_previous_keys: Vec::new(),
            cookies: CookiePolicy::default(),
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            session_idle: Duration::from_secs(30 * 60),
            session_absolute: Duration::from_secs(24 * 3600),
            remember_me: Duration::from_secs(30 * 24 * 3600),
            lockout: LockoutPolicy::default(),
            trusted_origins: Vec::new(),
            public_origin: None,
            trusted_proxy_hops: 0,
            register_per_hour: 5,
            purge_interval: Duration::from_secs(600),
            cache_ttl: Duration::from_secs(10),
            cache_capacity: 100_000,
            user_table_trigger: true,
            issuer: "crudauth".to_owned(),
            audience: "crudauth".to_owned(),
            me_route: true,
            smtp_url: None,
            mail_from: "crudauth <no-reply@localhost>".to_owned(),
            recovery_per_hour: 20,
            verify_email_path: "/verify-email".to_owned(),
            reset_password_path: "/reset-password".to_owned(),
            confirm_email_path: "/confirm-email".to_owned(),
            base_path: String::new(),
            disabled_routes: Vec::new(),
            body_limit: 64 * 1024,
            max_sessions_per_user: None,
            max_token_families_per_user: None,
        }
    }
}

/// The longest duration a setting may hold. Durations become signed
/// seconds added to the current time in SQL; a century keeps every sum far
/// from wrapping.
const MAX_SECS: u64 = 100 * 365 * 24 * 3600;

/// The `CRUDAUTH_*` variables, read through `lookup` (the process
/// environment, or a map in the tests).
struct Env<F>(F);

impl<F: Fn(&'static str) -> Option<String>> Env<F> {
    fn var(&self, name: &'static str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }

    fn number<T: std::str::FromStr>(
        &self,
        name: &'static str,
        default: T,
    ) -> Result<T, ConfigError> {
        match self.var(name) {
            None => Ok(default),
            Some(value) => value.trim().parse().map_err(|_| ConfigError::BadEnv {
                name,
                value,
                reason: "expected a non-negative whole number",
            }),
        }
    }

    /// A count that must be at least one.
    fn count(&self, name: &'static str, default: u32) -> Result<u32, ConfigError> {
        let count = self.number(name, default)?;
        if count == 0 {
            return Err(ConfigError::BadEnv {
                name,
                value: count.to_string(),
                reason: "must be at least 1",
            });
        }
        Ok(count)
    }

    fn seconds(&self, name: &'static str, default: Duration) -> Result<Duration, ConfigError> {
        let secs = self.number(name, default.as_secs())?;
        if secs > MAX_SECS {
            return Err(ConfigError::BadEnv {
                name,
                value: secs.to_string(),
                reason: "too long: at most 3153600000 seconds (100 years)",
            });
        }
        Ok(Duration::from_secs(secs))
    }

    /// A duration that must be at least one second.
    fn positive_seconds(
        &self,
        name: &'static str,
        default: Duration,
    ) -> Result<Duration, ConfigError> {
        let duration = self.seconds(name, default)?;
        if duration.is_zero() {
            return Err(ConfigError::BadEnv {
                name,
                value: "0".to_owned(),
                reason: "must be at least 1 second",
            });
        }
        Ok(duration)
    }
}

impl CrudAuthConfig {
    /// Reads the `CRUDAUTH_*` environment variables over the defaults.
    ///
    /// `CRUDAUTH_MFA_KEY` (32 bytes in base64) turns the second factor on.
    /// `CRUDAUTH_SECRET_KEY` unset leaves [`secret_key`](Self::secret_key)
    /// `None`: a key given to the builder before or after
    /// [`CrudAuthBuilder::config`](crate::CrudAuthBuilder::config) is then
    /// kept, and without any, `build()` uses a random key for this process
    /// (with a warning: sessions and tokens die with the process).
    ///
    /// # Errors
    ///
    /// [`ConfigError::BadEnv`] naming the variable when it holds something
    /// unusable: not a number, a lockout count, window or base lock of 0, a
    /// duration over 100 years, or an MFA key that is not 32 bytes of base64.
    ///
    /// # Examples
    ///
    /// ```
    /// let config = crudauth::CrudAuthConfig::from_env().unwrap();
    /// assert!(config.lockout.attempts >= 1);
    /// ```
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    fn from_lookup(lookup: impl Fn(&'static str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(lookup);
        let defaults = Self::default();
        let secret_key = env.var("CRUDAUTH_SECRET_KEY").map(String::into_bytes);
        // `new,old,...` during a rotation: the first seals, all open.
        let mut mfa_keys = match env.var("CRUDAUTH_MFA_KEY") {
            None => Vec::new(),
            Some(value) => value
                .split(',')
                .map(|key| {
                    use base64::Engine;
                    base64::engine::general_purpose::STANDARD
                        .decode(key.trim())
                        .ok()
                        .filter(|key| key.len() == 32)
                        .ok_or(ConfigError::BadEnv {
                            name: "CRUDAUTH_MFA_KEY",
                            value: "<redacted>".to_owned(),
                            reason: "expected 32 bytes in base64, or several comma-separated, the sealing one first (generate one with `openssl rand -base64 32`)",
                        })
                })
                .collect::<Result<Vec<_>, _>>()?,
        }
        .into_iter();
        let mfa_key = mfa_keys.next();
        let mfa_previous_keys = mfa_keys.collect();
        let insecure = match env
            .var("CRUDAUTH_INSECURE_COOKIES")
            .as_deref()
            .map(str::trim)
        {
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
            attempts: env.count("CRUDAUTH_LOCKOUT_ATTEMPTS", defaults.lockout.attempts)?,
            ip_attempts: env.count("CRUDAUTH_LOCKOUT_IP_ATTEMPTS", defaults.lockout.ip_attempts)?,
            window: env
                .positive_seconds("CRUDAUTH_LOCKOUT_WINDOW_SECS", defaults.lockout.window)?,
            base: env.positive_seconds("CRUDAUTH_LOCKOUT_BASE_SECS", defaults.lockout.base)?,
            max: defaults.lockout.max,
        };
        let public_origin = match env.var("CRUDAUTH_PUBLIC_ORIGIN") {
            Some(origin) if Origin::parse(&origin).is_none() => {
                return Err(ConfigError::BadEnv {
                    name: "CRUDAUTH_PUBLIC_ORIGIN",
                    value: origin,
                    reason: "expected scheme://host[:port], such as https://app.example.com",
                });
            }
            origin => origin.map(|o| o.trim().trim_end_matches('/').to_owned()),
        };
        let trusted_origins = env
            .var("CRUDAUTH_TRUSTED_ORIGINS")
            .map(|v| {
                v.split(',')
                    .map(|o| o.trim().trim_end_matches('/').to_owned())
                    .filter(|o| !o.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            secret_key,
            mfa_key,
            mfa_previous_keys,
            cookies: if insecure {
                CookiePolicy::insecure()
            } else {
                CookiePolicy::default()
            },
            access_ttl: env.seconds("CRUDAUTH_ACCESS_TTL_SECS", defaults.access_ttl)?,
            session_idle: env.seconds("CRUDAUTH_SESSION_IDLE_SECS", defaults.session_idle)?,
            session_absolute: env
                .seconds("CRUDAUTH_SESSION_ABSOLUTE_SECS", defaults.session_absolute)?,
            lockout,
            trusted_origins,
            public_origin,
            trusted_proxy_hops: env.number("CRUDAUTH_TRUSTED_PROXY_HOPS", 0)?,
            register_per_hour: env
                .number("CRUDAUTH_REGISTER_PER_HOUR", defaults.register_per_hour)?,
            cache_ttl: env.seconds("CRUDAUTH_CACHE_TTL_SECS", defaults.cache_ttl)?,
            smtp_url: env.var("CRUDAUTH_SMTP_URL").map(|u| u.trim().to_owned()),
            mail_from: env
                .var("CRUDAUTH_MAIL_FROM")
                .unwrap_or(defaults.mail_from.clone()),
            ..defaults
        })
    }

    /// Refuses settings that would disable a defence or overflow: the
    /// rules [`CrudAuthBuilder::build`](crate::CrudAuthBuilder::build) applies.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |setting, reason| Err(ConfigError::Invalid { setting, reason });
        // A zero would lock on no failure at all, or never count.
        if self.lockout.attempts == 0 {
            return invalid("lockout.attempts", "must be at least 1");
        }
        if self.lockout.ip_attempts == 0 {
            return invalid("lockout.ip_attempts", "must be at least 1");
        }
        // A cap of 0 would end the session a login just opened.
        if self.max_sessions_per_user == Some(0) {
            return invalid("max_sessions_per_user", "must be at least 1");
        }
        if self.max_token_families_per_user == Some(0) {
            return invalid("max_token_families_per_user", "must be at least 1");
        }
        let durations = [
            ("lockout.window", self.lockout.window, true),
            ("lockout.base", self.lockout.base, true),
            ("lockout.max", self.lockout.max, true),
            ("session_idle", self.session_idle, true),
            ("session_absolute", self.session_absolute, true),
            ("access_ttl", self.access_ttl, true),
            ("refresh_ttl", self.refresh_ttl, true),
            ("remember_me", self.remember_me, true),
            ("purge_interval", self.purge_interval, false),
        ];
        for (setting, duration, positive) in durations {
            if positive && duration.as_secs() == 0 {
                return invalid(setting, "must be at least 1 second");
            }
            if duration.as_secs() > MAX_SECS {
                return invalid(setting, "too long: at most 100 years");
            }
        }
        if self
            .public_origin
            .as_deref()
            .is_some_and(|o| Origin::parse(o).is_none())
        {
            return invalid(
                "public_origin",
                "expected scheme://host[:port], such as https://app.example.com",
            );
        }
        if !crate::route::valid_base_path(&self.base_path) {
            return invalid(
                "base_path",
                "expected \"\" or a path such as /auth: segments of letters, digits and -._~, \
                 no trailing slash",
            );
        }
        if self.body_limit < 1024 {
            return invalid("body_limit", "must be at least 1024 bytes");
        }
        let paths = [
            ("verify_email_path", &self.verify_email_path),
            ("reset_password_path", &self.reset_password_path),
            ("confirm_email_path", &self.confirm_email_path),
        ];
        for (setting, path) in paths {
            // The token is appended as `?token=`: a query or fragment of
            // the path's own would swallow it, and `//` would make the link
            // point at another host.
            let plain = path.starts_with('/')
                && !path.starts_with("//")
                && !path
                    .chars()
                    .any(|c| matches!(c, '?' | '#' | '\\') || c.is_whitespace() || c.is_control());
            if !plain {
                return invalid(
                    setting,
                    "expected a path starting with one `/`, without query, fragment or spaces, \
                     such as /verify-email",
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::CrudAuthConfig;
    use crate::error::ConfigError;

    fn from(vars: &[(&'static str, &str)]) -> Result<CrudAuthConfig, ConfigError> {
        CrudAuthConfig::from_lookup(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    fn refused_variable(vars: &[(&'static str, &str)]) -> &'static str {
        match from(vars) {
            Err(ConfigError::BadEnv { name, .. }) => name,
            other => panic!("expected BadEnv for {vars:?}, got {other:?}"),
        }
    }

    #[test]
    fn zero_lockout_settings_are_refused_by_name() {
        for name in [
            "CRUDAUTH_LOCKOUT_ATTEMPTS",
            "CRUDAUTH_LOCKOUT_IP_ATTEMPTS",
            "CRUDAUTH_LOCKOUT_WINDOW_SECS",
            "CRUDAUTH_LOCKOUT_BASE_SECS",
        ] {
            assert_eq!(refused_variable(&[(name, "0")]), name);
            assert_eq!(refused_variable(&[(name, "-1")]), name);
        }
    }

    #[test]
    fn durations_that_would_wrap_are_refused_by_name() {
        for name in [
            "CRUDAUTH_ACCESS_TTL_SECS",
            "CRUDAUTH_SESSION_IDLE_SECS",
            "CRUDAUTH_SESSION_ABSOLUTE_SECS",
            "CRUDAUTH_LOCKOUT_WINDOW_SECS",
            "CRUDAUTH_LOCKOUT_BASE_SECS",
        ] {
            assert_eq!(refused_variable(&[(name, "18446744073709551615")]), name);
            assert_eq!(refused_variable(&[(name, "9223372036854775808")]), name);
        }
    }

    #[test]
    fn a_zero_registration_limit_is_accepted_as_off() {
        let config = from(&[("CRUDAUTH_REGISTER_PER_HOUR", "0")]).unwrap();
        assert_eq!(config.register_per_hour, 0);
    }

    #[test]
    fn an_unset_secret_key_is_left_to_the_builder() {
        assert_eq!(from(&[]).unwrap().secret_key, None);
        let config = from(&[("CRUDAUTH_SECRET_KEY", "k".repeat(40).as_str())]).unwrap();
        assert_eq!(config.secret_key, Some(b"k".repeat(40)));
    }

    #[test]
    fn the_mfa_key_is_32_bytes_of_base64() {
        let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let config = from(&[("CRUDAUTH_MFA_KEY", key)]).unwrap();
        assert_eq!(config.mfa_key, Some((0u8..32).collect::<Vec<_>>()));
        for bad in ["AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd", "not base64!"] {
            assert_eq!(
                refused_variable(&[("CRUDAUTH_MFA_KEY", bad)]),
                "CRUDAUTH_MFA_KEY"
            );
        }
    }

    #[test]
    fn a_list_of_mfa_keys_seals_with_the_first() {
        let (new, old) = (
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=",
        );
        let config = from(&[("CRUDAUTH_MFA_KEY", &format!("{new}, {old}"))]).unwrap();
        assert_eq!(config.mfa_key, Some((0u8..32).collect::<Vec<_>>()));
        assert_eq!(
            config.mfa_previous_keys,
            vec![(32u8..64).collect::<Vec<_>>()]
        );
        assert_eq!(
            refused_variable(&[("CRUDAUTH_MFA_KEY", &format!("{new},not base64"))]),
            "CRUDAUTH_MFA_KEY"
        );
        assert_eq!(
            refused_variable(&[("CRUDAUTH_MFA_KEY", &format!("{new},"))]),
            "CRUDAUTH_MFA_KEY"
        );
    }

    #[test]
    fn the_public_origin_must_be_an_origin() {
        let config = from(&[("CRUDAUTH_PUBLIC_ORIGIN", "https://app.example.com/")]).unwrap();
        assert_eq!(
            config.public_origin.as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(
            refused_variable(&[("CRUDAUTH_PUBLIC_ORIGIN", "app.example.com")]),
            "CRUDAUTH_PUBLIC_ORIGIN"
        );
    }
}
