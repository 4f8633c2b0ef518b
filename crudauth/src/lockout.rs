//! Who is asking: the client address (socket peer, or the trusted proxy's
//! view), used for session metadata, lockout and throttling.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;

/// The client's address: the socket peer, or with `hops = N > 0` the N-th
/// address from the right of `X-Forwarded-For` (each trusted proxy appends
/// the address it saw, so entries further left are client-controlled).
pub(crate) fn client_ip(parts: &Parts, hops: usize) -> Option<IpAddr> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if hops == 0 {
        return peer;
    }
    let forwarded: Vec<IpAddr> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    forwarded
        .len()
        .checked_sub(hops)
        .and_then(|i| forwarded.get(i).copied())
        .or(peer)
}

use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, Statement, Value};

use crate::auth::CrudAuth;
use crate::error::AuthError;
use crate::tokens::now;
use crate::user::LoadedUser;

/// The counter state after an attempt was reserved.
#[derive(Debug, Clone, Copy)]
struct Counter {
    count: i64,
    window_start: i64,
    locked_until: i64,
    locks: i64,
}

/// Counts one attempt for `key` in one atomic statement (an upsert), so that
/// concurrent attempts are numbered exactly as sequential ones would be. A
/// locked key is not counted.
async fn reserve<C: ConnectionTrait>(db: &C, key: &str, window: i64) -> Result<Counter, DbErr> {
    let sql = "INSERT INTO crudauth_attempts (key, count, window_start, locked_until, locks) \
         VALUES ($1, 1, $2, 0, 0) \
         ON CONFLICT (key) DO UPDATE SET \
           count = CASE WHEN crudauth_attempts.locked_until > $2 THEN crudauth_attempts.count \
                        WHEN crudauth_attempts.window_start <= $2 - $3 THEN 1 \
                        ELSE crudauth_attempts.count + 1 END, \
           window_start = CASE WHEN crudauth_attempts.locked_until > $2 THEN crudauth_attempts.window_start \
                        WHEN crudauth_attempts.window_start <= $2 - $3 THEN $2 \
                        ELSE crudauth_attempts.window_start END \
         RETURNING count, window_start, locked_until, locks";
    let at = now();
    let row = db
        .query_one_raw(statement(
            db,
            sql,
            vec![key.into(), at.into(), window.into()],
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("crudauth_attempts upsert returned no row".into()))?;
    Ok(Counter {
        count: row.try_get::<i32>("", "count").map(i64::from)?,
        window_start: row.try_get("", "window_start")?,
        locked_until: row.try_get("", "locked_until")?,
        locks: row.try_get::<i32>("", "locks").map(i64::from)?,
    })
}

/// Locks `key` for `base * 2^locks` (capped), unless another request already
/// did: the condition makes the lock apply once per burst.
async fn lock<C: ConnectionTrait>(db: &C, key: &str, until: i64) -> Result<(), DbErr> {
    let sql = "UPDATE crudauth_attempts SET locked_until = $2, locks = locks + 1, count = 0, window_start = $3 \
         WHERE key = $1 AND locked_until <= $3";
    db.execute_raw(statement(
        db,
        sql,
        vec![key.into(), until.into(), now().into()],
    ))
    .await?;
    Ok(())
}

async fn forget<C: ConnectionTrait>(db: &C, key: &str) -> Result<(), DbErr> {
    db.execute_raw(statement(
        db,
        "DELETE FROM crudauth_attempts WHERE key = $1",
        vec![key.into()],
    ))
    .await?;
    Ok(())
}

async fn uncount<C: ConnectionTrait>(db: &C, key: &str) -> Result<(), DbErr> {
    let sql = "UPDATE crudauth_attempts SET count = count - 1 WHERE key = $1 AND count > 0";
    db.execute_raw(statement(db, sql, vec![key.into()])).await?;
    Ok(())
}

/// PostgreSQL numbers parameters `$n`; SQLite reads the same as `?n`.
fn statement<C: ConnectionTrait>(db: &C, sql: &str, values: Vec<Value>) -> Statement {
    let backend = db.get_database_backend();
    let sql = match backend {
        DatabaseBackend::Postgres => sql.to_owned(),
        _ => sql.replace('$', "?"),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

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
    let policy = &auth.config().lockout;
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
    let policy = &auth.config().lockout;
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
    let db = auth.db();
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
    match auth.check_credentials(identifier, password).await {
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
pub(crate) async fn throttle_registration(auth: &CrudAuth, parts: &Parts) -> Result<(), AuthError> {
    let Some(ip) = client_ip(parts, auth.config().trusted_proxy_hops) else {
        return Ok(());
    };
    const HOUR: i64 = 3600;
    let limit = i64::from(auth.config().register_per_hour);
    let key = format!("reg:{ip}");
    let counter = reserve(auth.db(), &key, HOUR).await?;
    if counter.count > limit {
        let left = (counter.window_start + HOUR - now()).max(1);
        return Err(AuthError::RateLimited(left as u64));
    }
    Ok(())
}
