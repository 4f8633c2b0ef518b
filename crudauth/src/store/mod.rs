//! Every SQL statement crudauth runs: its own tables, the attempt counters,
//! and the hot joins with the application's user table. Nothing here knows
//! HTTP.

pub(crate) mod attempts;
pub(crate) mod entities;
pub(crate) mod families;
#[cfg(feature = "oidc")]
pub(crate) mod identities;
pub(crate) mod mfa;
pub(crate) mod migration;
pub(crate) mod one_time;
pub(crate) mod purge;
pub(crate) mod sessions;
pub(crate) mod users;

use std::future::Future;

use sea_orm::{
    DatabaseBackend, DatabaseConnection, DatabaseTransaction, DbErr, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};

/// Begins a transaction that will write. On SQLite it takes the write lock
/// at `BEGIN` (waiting out the busy timeout) instead of at its first write,
/// where a reader upgrading to writer beside another writer fails at once.
pub(crate) async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    retrying(db, || {
        db.begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        })
    })
    .await
}

/// Serializes the transactions that count a user's credentials (the
/// session and token-family caps) until `txn` ends, so that two logins at
/// the cap cannot both see room for one more. SQLite needs nothing: a
/// writing transaction there holds the database's write lock from `BEGIN`.
pub(crate) async fn lock_user(txn: &DatabaseTransaction, user_id: &str) -> Result<(), DbErr> {
    use sea_orm::{ConnectionTrait, Statement};
    if txn.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    // The first key names crudauth's lock class, the second the user.
    let statement = Statement::from_sql_and_values(
        DatabaseBackend::Postgres,
        "SELECT pg_advisory_xact_lock(1668441441, hashtext($1))::text",
        [user_id.into()],
    );
    txn.query_one_raw(statement).await?;
    Ok(())
}

/// How many dead pooled connections one statement skips at most.
const DEAD_CONNECTIONS_SKIPPED: u32 = 16;

/// Runs `statement` on the pool again when the connection it was given
/// turned out to be dead (closed by a database restart or a cut link).
///
/// A pool that does not ping each connection before handing it out (one
/// round trip less per request, see the README) hands out such connections
/// after an outage; each failed attempt discards one, so the next attempt
/// gets another, or a new one. Only statements that are safe to run twice
/// come here: reads, `BEGIN`, and the attempt counter's upsert (whose
/// answer lost after its commit would count one attempt twice, the safe
/// side of a lockout). PostgreSQL only: a SQLite connection does not die
/// this way.
pub(crate) async fn retrying<T, F, Fut>(db: &DatabaseConnection, statement: F) -> Result<T, DbErr>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, DbErr>>,
{
    let mut left = match db.get_database_backend() {
        DatabaseBackend::Postgres => DEAD_CONNECTIONS_SKIPPED,
        _ => 0,
    };
    loop {
        match statement().await {
            Err(err) if left > 0 && connection_lost(&err) => {
                tracing::debug!(error = %err, "crudauth: a pooled connection was dead; trying another");
                left -= 1;
            }
            result => return result,
        }
    }
}

/// Whether a statement failed because its connection died under it, not
/// for anything the statement did.
#[cfg(feature = "postgres")]
fn connection_lost(err: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    let (DbErr::Conn(RuntimeErr::SqlxError(err))
    | DbErr::Exec(RuntimeErr::SqlxError(err))
    | DbErr::Query(RuntimeErr::SqlxError(err))) = err
    else {
        return false;
    };
    matches!(**err, sea_orm::sqlx::Error::Io(_))
}

/// Only a PostgreSQL connection is retried, and without its driver there
/// is none.
#[cfg(not(feature = "postgres"))]
fn connection_lost(_: &DbErr) -> bool {
    false
}
