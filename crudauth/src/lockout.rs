//! The lockout policy: failures counted per client IP, per typed identifier
//! and per resolved account, in the database so that every instance shares
//! them; and the per-IP registration throttle. Counter keys are hashed, so
//! a row's size is bounded whatever a client sends.

use std::net::{IpAddr, Ipv6Addr};

use crate::error::AuthError;
use crate::principal::{LoadedUser, UserId};
use crate::state::CrudAuth;
use crate::store::attempts::{Counter, forget, lock, reserve, uncount};
use crate::tokens::{digest, now};
use crate::{audit, credentials, store};

/// The identifier under which failures are counted: trimmed, and lower-cased
/// when it is an email address (as the lookup is case-insensitive there).
fn canonical(identifier: &str) -> String {
    let trimmed = identifier.trim();
    if trimmed.contains('@') {
        trimmed.to_lowercase()
    } else {
        trimmed.to_owned()
    }
}

/// The address a client is counted under: IPv4-mapped IPv6 is the IPv4
/// address, and IPv6 clients are grouped by /64 (one host commonly holds a
/// whole /64, and could otherwise rotate through it).
pub(crate) fn ip_group(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                format!("{}/64", Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
            }
        },
    }
}

/// One counter and its threshold.
struct Limit {
    key: String,
    attempts: i64,
    /// Cleared by a success (identifier and account); an IP's counter only
    /// gives the attempt back.
    forgotten_on_success: bool,
    /// What is counted, and whose, for the `locked` audit event.
    scope: &'static str,
    user_id: Option<UserId>,
    ip: Option<IpAddr>,
}

impl Limit {
    fn ip(auth: &CrudAuth, ip: IpAddr) -> Self {
        Self {
            key: format!("ip:{}", ip_group(ip)),
            attempts: i64::from(auth.inner.config.lockout.ip_attempts),
            forgotten_on_success: false,
            scope: "ip",
            user_id: None,
            ip: Some(ip),
        }
    }

    fn identifier(auth: &CrudAuth, identifier: &str) -> Self {
        Self {
            key: format!("id:{}", &digest(&canonical(identifier))[..32]),
            attempts: i64::from(auth.inner.config.lockout.attempts),
            forgotten_on_success: true,
            scope: "identifier",
            user_id: None,
            ip: None,
        }
    }

    fn account(auth: &CrudAuth, id: &UserId) -> Self {
        Self {
            key: format!("acct:{}", &digest(&id.to_string())[..32]),
            attempts: i64::from(auth.inner.config.lockout.attempts),
            forgotten_on_success: true,
            scope: "account",
            user_id: Some(id.clone()),
            ip: None,
        }
    }

    /// Wrong second-factor codes of an account. Only a code that passes
    /// clears it, not a password: otherwise someone holding the password
    /// could sign in again before each lock and guess codes without end.
    fn second_factor(auth: &CrudAuth, id: &UserId) -> Self {
        Self {
            key: format!("2fa:{}", &digest(&id.to_string())[..32]),
            ..Self::account(auth, id)
        }
    }
}

/// The lock length after `locks` earlier locks: base, doubling, capped.
fn lock_secs(auth: &CrudAuth, locks: i64) -> i64 {
    let policy = &auth.inner.config.lockout;
    let base = policy.base.as_secs() as i64;
    let max = policy.max.as_secs() as i64;
    base.saturating_mul(1_i64 << locks.clamp(0, 30))
        .min(max)
        .max(1)
}

/// Counts one attempt for `key` in a `window` of seconds (see [`reserve`]),
/// on a live connection.
async fn count(auth: &CrudAuth, key: &str, window: i64) -> Result<Counter, sea_orm::DbErr> {
    let db = &auth.inner.db;
    store::retrying(db, || reserve(db, key, window)).await
}

/// Counts one attempt against `limit`, refusing it when the key is locked.
async fn admit(auth: &CrudAuth, limit: Limit) -> Result<(Limit, Counter), AuthError> {
    let window = auth.inner.config.lockout.window.as_secs() as i64;
    let at = now();
    let counter = count(auth, &limit.key, window).await?;
    if counter.locked_until > at {
        return Err(AuthError::Locked((counter.locked_until - at) as u64));
    }
    // More attempts than allowed in one window, and no lock yet: the attempt
    // that reached the limit is still being checked, and will lock. Refuse
    // as a sequential attempt would be.
    if counter.count > limit.attempts {
        return Err(AuthError::Locked(lock_secs(auth, counter.locks) as u64));
    }
    Ok((limit, counter))
}

/// Settles the counters of a checked attempt.
async fn settle<T>(
    auth: &CrudAuth,
    held: &[(Limit, Counter)],
    outcome: Result<T, AuthError>,
) -> Result<T, AuthError> {
    let db = &auth.inner.db;
    match outcome {
        Ok(value) => {
            for (limit, _) in held {
                if limit.forgotten_on_success {
                    forget(db, &limit.key).await?;
                } else {
                    uncount(db, &limit.key).await?;
                }
            }
            Ok(value)
        }
        Err(failed @ (AuthError::InvalidCredentials | AuthError::InvalidCode)) => {
            for (limit, counter) in held {
                if counter.count >= limit.attempts {
                    let secs = lock_secs(auth, counter.locks);
                    lock(db, &limit.key, now() + secs).await?;
                    audit::locked(limit.user_id.as_ref(), limit.ip, limit.scope, secs);
                }
            }
            Err(failed)
        }
        Err(other) => Err(other),
    }
}

/// The credential check of `/login` and `/token`, behind the lockout. The
/// IP budget is checked first, so that a locked address never touches an
/// identifier's counter; then the typed identifier's, then the account's
/// (so that an email and a username of one account share one budget).
/// Unknown identifiers are counted like known ones.
pub(crate) async fn guarded_login(
    auth: &CrudAuth,
    ip: Option<IpAddr>,
    identifier: &str,
    password: String,
) -> Result<LoadedUser, AuthError> {
    let mut account = None;
    let outcome = check_login(auth, ip, identifier, password, &mut account).await;
    let reason = match &outcome {
        Err(AuthError::InvalidCredentials) => Some("invalid_credentials"),
        Err(AuthError::Locked(_)) => Some("locked"),
        _ => None,
    };
    if let Some(reason) = reason {
        audit::login_failed(account.as_ref(), ip, reason);
    }
    outcome
}

/// [`guarded_login`] less the audit; `account` is set once the identifier
/// resolves.
async fn check_login(
    auth: &CrudAuth,
    ip: Option<IpAddr>,
    identifier: &str,
    password: String,
    account: &mut Option<UserId>,
) -> Result<LoadedUser, AuthError> {
    let mut held = Vec::with_capacity(3);
    if let Some(ip) = ip {
        held.push(admit(auth, Limit::ip(auth, ip)).await?);
    }
    held.push(admit(auth, Limit::identifier(auth, identifier)).await?);
    let user = credentials::find_login(auth, identifier).await?;
    if let Some(user) = &user {
        *account = Some(user.id.clone());
        held.push(admit(auth, Limit::account(auth, &user.id)).await?);
    }
    let outcome = credentials::check_password(auth, user, password).await;
    settle(auth, &held, outcome).await
}

/// A check of a signed-in user's current password (password change, email
/// change, sudo), counted against the account's lockout: a stolen cookie or
/// token must not brute-force the password behind it.
pub(crate) async fn guarded_password(
    auth: &CrudAuth,
    user: Option<LoadedUser>,
    id: &UserId,
    password: String,
) -> Result<LoadedUser, AuthError> {
    let held = [admit(auth, Limit::account(auth, id)).await?];
    let outcome = credentials::check_password(auth, user, password).await;
    let outcome = settle(auth, &held, outcome).await;
    if matches!(outcome, Err(AuthError::InvalidCredentials)) {
        audit::password_check_failed(id);
    }
    outcome
}

/// A second-factor code check behind the account's lockout and the
/// account's own budget of wrong codes; `InvalidCode` counts against both.
pub(crate) async fn guarded_code<T>(
    auth: &CrudAuth,
    id: &UserId,
    check: impl Future<Output = Result<T, AuthError>>,
) -> Result<T, AuthError> {
    let held = [
        admit(auth, Limit::account(auth, id)).await?,
        admit(auth, Limit::second_factor(auth, id)).await?,
    ];
    let outcome = check.await;
    settle(auth, &held, outcome).await
}

/// The per-IP registration throttle; a limit of 0 turns it off.
pub(crate) async fn throttle_registration(
    auth: &CrudAuth,
    ip: Option<IpAddr>,
) -> Result<(), AuthError> {
    let limit = i64::from(auth.inner.config.register_per_hour);
    let Some(ip) = ip.filter(|_| limit > 0) else {
        return Ok(());
    };
    throttle_hourly(auth, &format!("reg:{}", ip_group(ip)), limit).await
}

/// Sign-ins started with a provider per client IP per hour: each one makes
/// the provider (and us, at the callback) do work.
#[cfg(feature = "oidc")]
pub(crate) const OAUTH_PER_HOUR: i64 = 30;

/// Refuses the client's 31st sign-in with a provider within an hour.
#[cfg(feature = "oidc")]
pub(crate) async fn throttle_oauth(auth: &CrudAuth, ip: Option<IpAddr>) -> Result<(), AuthError> {
    let Some(ip) = ip else {
        return Ok(());
    };
    throttle_hourly(auth, &format!("oauth:{}", ip_group(ip)), OAUTH_PER_HOUR).await
}

async fn throttle_hourly(auth: &CrudAuth, key: &str, limit: i64) -> Result<(), AuthError> {
    const HOUR: i64 = 3600;
    let counter = count(auth, key, HOUR).await?;
    if counter.count > limit {
        let left = (counter.window_start + HOUR - now()).max(1);
        return Err(AuthError::RateLimited(left as u64));
    }
    Ok(())
}

/// Counts one use of `key` in the current hour; the time left in the hour
/// when `limit` (0 = off) is exceeded.
async fn hourly(auth: &CrudAuth, key: &str, limit: u32) -> Result<Option<u64>, AuthError> {
    const HOUR: i64 = 3600;
    if limit == 0 {
        return Ok(None);
    }
    let counter = count(auth, key, HOUR).await?;
    if counter.count > i64::from(limit) {
        return Ok(Some((counter.window_start + HOUR - now()).max(1) as u64));
    }
    Ok(None)
}

/// Mails about one address per hour (SPEC section 8: 3); more are silently
/// not sent, so that nobody can flood a mailbox through crudauth.
pub(crate) const MAILS_PER_ADDRESS_HOUR: u32 = 3;

/// The per-IP throttle of the recovery requests: 429 when exceeded.
pub(crate) async fn throttle_recovery(
    auth: &CrudAuth,
    ip: Option<IpAddr>,
) -> Result<(), AuthError> {
    let Some(ip) = ip else { return Ok(()) };
    let key = format!("mail-ip:{}", ip_group(ip));
    match hourly(auth, &key, auth.inner.config.recovery_per_hour).await? {
        Some(left) => Err(AuthError::RateLimited(left)),
        None => Ok(()),
    }
}

/// Counts a mail to `address` (counted whether or not an account has it,
/// so that the work is the same); whether it may be sent.
pub(crate) async fn mail_allowed(auth: &CrudAuth, address: &str) -> Result<bool, AuthError> {
    let key = format!("mail-to:{}", &digest(&canonical(address))[..32]);
    Ok(hourly(auth, &key, MAILS_PER_ADDRESS_HOUR).await?.is_none())
}

/// Clears every lockout counter of an account (its id, email and
/// username), after its owner proved control of it another way.
pub(crate) async fn clear_account(auth: &CrudAuth, user: &LoadedUser) -> Result<(), AuthError> {
    let mut keys = vec![Limit::account(auth, &user.id).key];
    for identifier in [user.email.as_deref(), user.username.as_deref()]
        .into_iter()
        .flatten()
    {
        keys.push(Limit::identifier(auth, identifier).key);
    }
    for key in keys {
        forget(&auth.inner.db, &key).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_grouped_as_the_lockout_counts_them() {
        let group = |s: &str| ip_group(s.parse().unwrap());
        assert_eq!(group("203.0.113.7"), "203.0.113.7");
        assert_eq!(group("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(group("2001:db8:1:2:aaaa::1"), group("2001:db8:1:2:ffff::9"));
        assert_eq!(group("2001:db8:1:2::1"), "2001:db8:1:2::/64");
        assert_ne!(group("2001:db8:1:2::1"), group("2001:db8:1:3::1"));
    }
}
