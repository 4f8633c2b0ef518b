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

use sea_orm::sqlx;
use sea_orm::{
    DatabaseBackend, DatabaseConnection, DatabaseTransaction, DbErr, RuntimeErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

/// Begins a transaction that will write. On SQLite it takes the write lock
/// at `BEGIN` (waiting out the busy timeout) instead of at its first write,
/// where a reader upgrading to writer beside another writer fails at once.
pub(crate) async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
}

/// Whether `err` says that the connection died under the statement (the
/// database restarted, a link was cut) rather than that the database
/// refused it or could not be reached at all.
fn lost_connection(err: &DbErr) -> bool {
    let (DbErr::Query(RuntimeErr::SqlxError(err))
    | DbErr::Exec(RuntimeErr::SqlxError(err))
    | DbErr::Conn(RuntimeErr::SqlxError(err))) = err
    else {
        return false;
    };
    matches!(**err, sqlx::Error::Io(_))
}

/// Runs a read (which may safely run twice), again on another connection
/// when the pooled one turns out to be dead.
///
/// The pool does not ping connections before use (that would cost a round
/// trip per request), so after a database restart its idle connections
/// are dead until used. A dead one fails at once and the pool discards it;
/// the read then runs on the next, at most once per pooled connection,
/// until one is live or a new one has to be opened (whose failure, the
/// database being really down, ends the attempts).
pub(crate) async fn read<T, F, Fut>(db: &DatabaseConnection, mut run: F) -> Result<T, DbErr>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, DbErr>>,
{
    let mut left = match db.get_database_backend() {
        DatabaseBackend::Postgres => db
            .get_postgres_connection_pool()
            .options()
            .get_max_connections(),
        _ => 0,
    };
    loop {
        match run().await {
            Err(err) if left > 0 && lost_connection(&err) => {
                tracing::debug!(error = %err, "crudauth: a pooled connection was dead; reading again");
                left -= 1;
            }
            outcome => return outcome,
        }
    }
}
