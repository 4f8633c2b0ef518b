//! The lockout policy: failures counted per identifier and per client IP
//! in the database, so that every instance shares them, and the per-IP
//! registration throttle.

use std::net::IpAddr;

use crate::credentials;
use crate::error::AuthError;
use crate::principal::LoadedUser;
use crate::state::CrudAuth;
use crate::store::attempts::{forget, lock, reserve, uncount};
use crate::tokens::now;

/// The identifier under which failures are counted: trimmed, and lower-cased
/// when it is an email address (as the lookup is case-insensitive there).
fn canonical(identifier: &str) -> String {
    // PostgreSQL text cannot hold NUL (the key would fail as a 503), and no
    // account identifier contains one.
    let trimmed = identifier.trim().replace('\0', "\u{fffd}");
    if trimmed.contains('@') {
        trimmed.to_lowercase()
    } else {
        trimmed
    }
}

struct Limit {
    key: String,
    attempts: i64,
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

/// The credential check of `/login` and `/token`, behind the lockout: per
/// identifier and per client IP, counted in the database so that every
/// instance shares it. Unknown identifiers are counted like known ones.
pub(crate) async fn guarded_login(
    auth: &CrudAuth,
    ip: Option<IpAddr>,
    identifier: &str,
    password: String,
) -> Result<LoadedUser, AuthError> {
    let policy = &auth.inner.config.lockout;
    let window = policy.window.as_secs() as i64;
    let mut limits = vec![Limit {
        key: format!("id:{}", canonical(identifier)),
        attempts: i64::from(policy.attempts),
    }];
    if let Some(ip) = ip {
        limits.push(Limit {
            key: format!("ip:{ip}"),
            attempts: i64::from(policy.ip_attempts),
        });
    }
    let db = &auth.inner.db;
    let at = now();
    let mut counters = Vec::with_capacity(limits.len());
    for limit in &limits {
        counters.push(reserve(db, &limit.key, window).await?);
    }
    for (limit, counter) in limits.iter().zip(&counters) {
        if counter.locked_until > at {
            return Err(AuthError::Locked((counter.locked_until - at) as u64));
        }
        // More attempts than allowed in one window, and no lock yet: the
        // attempt that reached the limit is still being checked, and will
        // lock. Refuse as a sequential attempt would be.
        if counter.count > limit.attempts {
            return Err(AuthError::Locked(lock_secs(auth, counter.locks) as u64));
        }
    }
    match credentials::check_login(auth, identifier, password).await {
        Ok(user) => {
            forget(db, &limits[0].key).await?;
            for limit in &limits[1..] {
                uncount(db, &limit.key).await?;
            }
            Ok(user)
        }
        Err(AuthError::InvalidCredentials) => {
            for (limit, counter) in limits.iter().zip(&counters) {
                if counter.count >= limit.attempts {
                    lock(db, &limit.key, now() + lock_secs(auth, counter.locks)).await?;
                }
            }
            Err(AuthError::InvalidCredentials)
        }
        Err(other) => Err(other),
    }
}

/// The per-IP registration throttle.
pub(crate) async fn throttle_registration(
    auth: &CrudAuth,
    ip: Option<IpAddr>,
) -> Result<(), AuthError> {
    let Some(ip) = ip else {
        return Ok(());
    };
    const HOUR: i64 = 3600;
    let limit = i64::from(auth.inner.config.register_per_hour);
    let key = format!("reg:{ip}");
    let counter = reserve(&auth.inner.db, &key, HOUR).await?;
    if counter.count > limit {
        let left = (counter.window_start + HOUR - now()).max(1);
        return Err(AuthError::RateLimited(left as u64));
    }
    Ok(())
}
