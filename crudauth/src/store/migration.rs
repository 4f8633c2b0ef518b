//! crudauth's schema as three ordered steps (its tables; the index on the
//! user table's `lower(email)`; on PostgreSQL, the trigger announcing edits
//! of the user table), which `auth.migrate()` runs and records in
//! sea-orm's migration table, and which `crudauth::migration::migrations()`
//! hands to an application's own `sea-orm-migration` migrator.

use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, EntityTrait, Schema, Statement,
    TransactionTrait,
};

use super::entities::{
    attempt, family, identity, mfa, mfa_challenge, one_time_token, recovery_code, refresh_token,
    session, unlinked_identity,
};

/// Creates every crudauth table and index that does not exist yet.
pub(crate) async fn create_tables<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    let schema = Schema::new(db.get_database_backend());
    async fn one<C: ConnectionTrait, E: EntityTrait>(
        db: &C,
        schema: &Schema,
        entity: E,
    ) -> Result<(), DbErr> {
        let mut table = schema.create_table_from_entity(entity);
        table.if_not_exists();
        db.execute(&table).await?;
        for mut index in schema.create_index_from_entity(entity) {
            index.if_not_exists();
            db.execute(&index).await?;
        }
        Ok(())
    }
    one(db, &schema, session::Entity).await?;
    one(db, &schema, family::Entity).await?;
    one(db, &schema, refresh_token::Entity).await?;
    one(db, &schema, attempt::Entity).await?;
    one(db, &schema, one_time_token::Entity).await?;
    one(db, &schema, identity::Entity).await?;
    one(db, &schema, unlinked_identity::Entity).await?;
    one(db, &schema, mfa::Entity).await?;
    one(db, &schema, recovery_code::Entity).await?;
    one(db, &schema, mfa_challenge::Entity).await?;
    for (table, column, definition) in ADDED_COLUMNS {
        add_column(db, table, column, definition).await?;
    }
    Ok(())
}

/// The application's user table, as the steps after the first prepare it.
#[derive(Debug, Clone)]
pub struct UserTable {
    pub(crate) name: String,
    pub(crate) key: String,
    /// The email column, indexed on `lower(email)`; `None` when the entity
    /// has none.
    pub(crate) email: Option<String>,
}

impl UserTable {
    /// The table of the user model `U`.
    pub(crate) fn of<U: crate::user::AuthUser>() -> Self {
        use sea_orm::{EntityName, IdenStatic};
        let columns = U::auth_columns();
        Self {
            name: U::Entity::default().table_name().to_owned(),
            key: columns.id.as_str().to_owned(),
            email: columns.email.map(|c| c.as_str().to_owned()),
        }
    }
}

/// The steps, in order, by the names they are recorded under in
/// `seaql_migrations`. The first keeps the name of the single step of
/// earlier releases.
pub(crate) const TABLES: &str = "m20261128_000001_crudauth_tables";
pub(crate) const EMAIL_INDEX: &str = "m20261204_000002_crudauth_email_index";
pub(crate) const USER_TRIGGER: &str = "m20261204_000003_crudauth_user_trigger";

/// Everything `auth.migrate()` makes: crudauth's tables, and on the user
/// table (once it exists) the email index and, when `announce_on` names a
/// channel, the trigger. Each step that ran is recorded in
/// `seaql_migrations` (created if missing), as an application's migrator
/// would record it; every step is safe to run again, so a database made by
/// an earlier release, or by the application's migrator, upgrades in place.
///
/// On PostgreSQL this runs in one transaction under an advisory lock held
/// until it ends: instances that start together take turns (`IF NOT
/// EXISTS` does not guard against a concurrent `CREATE`), and a failure
/// leaves nothing half made. SQLite runs the statements as they are: a
/// deferred transaction there turns concurrent migrations into "database
/// is locked".
pub(crate) async fn migrate(
    db: &DatabaseConnection,
    users: &UserTable,
    announce_on: Option<&str>,
) -> Result<(), DbErr> {
    if db.get_database_backend() != DatabaseBackend::Postgres {
        return migrate_on(db, users, announce_on).await;
    }
    let txn = db.begin().await?;
    // The key is "crudauth" in ASCII.
    txn.execute_unprepared("SELECT pg_advisory_xact_lock(7165919031092147304)")
        .await?;
    migrate_on(&txn, users, announce_on).await?;
    txn.commit().await
}

async fn migrate_on<C: ConnectionTrait>(
    db: &C,
    users: &UserTable,
    announce_on: Option<&str>,
) -> Result<(), DbErr> {
    create_tables(db).await?;
    record(db, TABLES).await?;
    if !table_exists(db, &users.name).await? {
        // The application creates its table after crudauth's: the index
        // and the trigger wait for a later `migrate()`; until then, edits
        // outside crudauth are seen within the cache's TTL.
        tracing::warn!(
            table = users.name,
            "crudauth: the user table does not exist yet; call migrate() again after creating \
             it, to index its emails and to announce its edits to the principal cache"
        );
        return Ok(());
    }
    if let Some(email) = &users.email {
        create_email_index(db, &users.name, email).await?;
    }
    record(db, EMAIL_INDEX).await?;
    if let Some(channel) = announce_on {
        install_user_trigger(db, &users.name, &users.key, channel).await?;
        record(db, USER_TRIGGER).await?;
    }
    Ok(())
}

/// Records `version` as applied in sea-orm's migration table, as
/// sea-orm-migration's migrator does (the table has its columns).
async fn record<C: ConnectionTrait>(db: &C, version: &str) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    db.execute_unprepared(
        "CREATE TABLE IF NOT EXISTS seaql_migrations \
         (version VARCHAR NOT NULL PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .await?;
    let placeholders = match backend {
        DatabaseBackend::Postgres => "($1, $2)",
        _ => "(?, ?)",
    };
    let insert = Statement::from_sql_and_values(
        backend,
        format!(
            "INSERT INTO seaql_migrations (version, applied_at) VALUES {placeholders} \
             ON CONFLICT (version) DO NOTHING"
        ),
        [version.into(), chrono::Utc::now().timestamp().into()],
    );
    db.execute_raw(insert).await.map(|_| ())
}

/// Creates the index that crudauth's email lookups use, on
/// `lower(<email>)` of the user table.
///
/// Without it every login, registration and recovery request scans the
/// whole table. A scan that stops at the first match also answers sooner
/// for a taken address than for a free one, and that gap grows with the
/// table, so `/register` would tell them apart by its timing.
pub(crate) async fn create_email_index<C: ConnectionTrait>(
    db: &C,
    table: &str,
    email: &str,
) -> Result<(), DbErr> {
    if !matches!(
        db.get_database_backend(),
        DatabaseBackend::Postgres | DatabaseBackend::Sqlite
    ) {
        return Ok(());
    }
    let index = format!(
        "CREATE INDEX IF NOT EXISTS {name} ON {table} (lower({email}))",
        name = quote(&format!("crudauth_{table}_email_lower")),
        table = quote(table),
        email = quote(email),
    );
    db.execute_unprepared(&index).await.map(|_| ())
}

/// Installs (or replaces) the trigger that announces updates and deletes of
/// the user table on `channel`, as `u:<key>`. PostgreSQL only.
pub(crate) async fn install_user_trigger<C: ConnectionTrait>(
    db: &C,
    table: &str,
    key: &str,
    channel: &str,
) -> Result<(), DbErr> {
    if db.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    let function = format!(
        "CREATE OR REPLACE FUNCTION crudauth_announce_user() RETURNS trigger AS $$ \
         BEGIN PERFORM pg_notify('{channel}', 'u:' || OLD.{key}::text); RETURN NULL; END; \
         $$ LANGUAGE plpgsql",
        key = quote(key),
    );
    let trigger = format!(
        "CREATE OR REPLACE TRIGGER crudauth_announce_user AFTER UPDATE OR DELETE ON {table} \
         FOR EACH ROW EXECUTE FUNCTION crudauth_announce_user()",
        table = quote(table),
    );
    db.execute_unprepared(&function).await?;
    db.execute_unprepared(&trigger).await.map(|_| ())
}

/// A table or column name as a quoted SQL identifier.
pub(crate) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Whether `table` exists, on PostgreSQL (in the search path) or SQLite.
pub(crate) async fn table_exists<C: ConnectionTrait>(db: &C, table: &str) -> Result<bool, DbErr> {
    let backend = db.get_database_backend();
    let probe = match backend {
        DatabaseBackend::Postgres => Statement::from_sql_and_values(
            backend,
            "SELECT to_regclass($1) IS NOT NULL AS present",
            [quote(table).into()],
        ),
        _ => Statement::from_sql_and_values(
            backend,
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?) \
             AS present",
            [table.into()],
        ),
    };
    match db.query_one_raw(probe).await? {
        Some(row) => row.try_get::<bool>("", "present"),
        None => Ok(false),
    }
}

/// Columns added after a table's first release, with their definitions, so
/// that tables created by an older version gain them. Each default reads as
/// "from before the column": an epoch of `''` and an `authenticated_at` of
/// 0 match nothing live, so such credentials are neither current nor fresh.
const ADDED_COLUMNS: [(&str, &str, &str); 7] = [
    (
        "crudauth_sessions",
        "password_epoch",
        "TEXT NOT NULL DEFAULT ''",
    ),
    (
        "crudauth_token_families",
        "password_epoch",
        "TEXT NOT NULL DEFAULT ''",
    ),
    ("crudauth_sessions", "mfa", "BOOLEAN NOT NULL DEFAULT FALSE"),
    ("crudauth_mfa_challenges", "pending_link", "TEXT"),
    (
        "crudauth_token_families",
        "mfa",
        "BOOLEAN NOT NULL DEFAULT FALSE",
    ),
    (
        "crudauth_sessions",
        "authenticated_at",
        "BIGINT NOT NULL DEFAULT 0",
    ),
    (
        "crudauth_token_families",
        "authenticated_at",
        "BIGINT NOT NULL DEFAULT 0",
    ),
];

async fn add_column<C: ConnectionTrait>(
    db: &C,
    table: &str,
    column: &str,
    definition: &str,
) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    if backend == DatabaseBackend::Postgres {
        let sql = format!("ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {definition}");
        db.execute_unprepared(&sql).await?;
        return Ok(());
    }
    let probe =
        format!("SELECT COUNT(*) AS n FROM pragma_table_info('{table}') WHERE name = '{column}'");
    let present = match db
        .query_one_raw(Statement::from_string(backend, probe))
        .await?
    {
        Some(row) => row.try_get::<i32>("", "n")? > 0,
        None => false,
    };
    if !present {
        let sql = format!("ALTER TABLE {table} ADD COLUMN {column} {definition}");
        db.execute_unprepared(&sql).await?;
    }
    Ok(())
}
