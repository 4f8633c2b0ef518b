//! crudauth's own tables and the queries on them. Nothing here knows HTTP.

pub(crate) mod attempt;
pub(crate) mod families;
pub(crate) mod family;
pub(crate) mod migration;
pub(crate) mod refresh;
pub(crate) mod session;
pub(crate) mod sessions;

use sea_orm::{
    DatabaseConnection, DatabaseTransaction, DbErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
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
