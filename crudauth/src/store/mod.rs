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
