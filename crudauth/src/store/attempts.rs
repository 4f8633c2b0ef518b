//! `crudauth_attempts`: the counters behind the login lockout and the
//! registration throttle, each updated in one atomic statement.

use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, Statement, Value};

use crate::tokens::now;

/// The counter state after an attempt was reserved.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Counter {
    pub count: i64,
    pub window_start: i64,
    pub locked_until: i64,
    pub locks: i64,
}

/// Counts one attempt for `key` in one atomic statement (an upsert), so that
/// concurrent attempts are numbered exactly as sequential ones would be. A
/// locked key is not counted.
pub(crate) async fn reserve<C: ConnectionTrait>(
    db: &C,
    key: &str,
    window: i64,
) -> Result<Counter, DbErr> {
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
pub(crate) async fn lock<C: ConnectionTrait>(db: &C, key: &str, until: i64) -> Result<(), DbErr> {
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

pub(crate) async fn forget<C: ConnectionTrait>(db: &C, key: &str) -> Result<(), DbErr> {
    db.execute_raw(statement(
        db,
        "DELETE FROM crudauth_attempts WHERE key = $1",
        vec![key.into()],
    ))
    .await?;
    Ok(())
}

pub(crate) async fn uncount<C: ConnectionTrait>(db: &C, key: &str) -> Result<(), DbErr> {
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
