//! crudauth's schema as `sea-orm-migration` migrations (feature
//! `migration`), for an application's own migrator: the same three steps
//! `auth.migrate()` runs and records.

use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr};
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager};

use crate::registry::UserModelRegistration;
use crate::revocation::CHANNEL;
use crate::store::migration::{
    self as schema, EMAIL_INDEX, TABLES, USER_TRIGGER, UserTable, create_tables, quote,
};

/// crudauth's tables: the first of [`migrations`], and the whole of
/// what earlier releases offered.
#[derive(Debug, Clone, Copy, Default)]
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        TABLES
    }
}

// The trait is declared with an elided lifetime; naming it here would
// make the impl's lifetimes early-bound and no longer match.
#[allow(elided_lifetimes_in_paths)]
#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_tables(manager.get_connection()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for table in [
            "crudauth_one_time_tokens",
            "crudauth_identities",
            "crudauth_unlinked_identities",
            "crudauth_mfa_challenges",
            "crudauth_recovery_codes",
            "crudauth_mfa",
            "crudauth_attempts",
            "crudauth_refresh_tokens",
            "crudauth_token_families",
            "crudauth_sessions",
        ] {
            db.execute_unprepared(&format!("DROP TABLE IF EXISTS {table}"))
                .await?;
        }
        Ok(())
    }
}

/// The user table, or why the steps cannot find it.
type Users = Result<UserTable, String>;

/// The user table must exist before the steps that work on it.
async fn existing(manager: &SchemaManager<'_>, users: &Users) -> Result<UserTable, DbErr> {
    let users = users.clone().map_err(DbErr::Migration)?;
    if !schema::table_exists(manager.get_connection(), &users.name).await? {
        return Err(DbErr::Migration(format!(
            "crudauth: the user table {:?} does not exist: list crudauth's migrations after \
             the one that creates it",
            users.name
        )));
    }
    Ok(users)
}

/// The index on `lower(email)` of the user table.
struct EmailIndex(Users);

impl MigrationName for EmailIndex {
    fn name(&self) -> &str {
        EMAIL_INDEX
    }
}

#[allow(elided_lifetimes_in_paths)]
#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for EmailIndex {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let users = existing(manager, &self.0).await?;
        match &users.email {
            Some(email) => {
                schema::create_email_index(manager.get_connection(), &users.name, email).await
            }
            None => Ok(()),
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let Ok(users) = &self.0 else {
            return Ok(());
        };
        let name = quote(&format!("crudauth_{}_email_lower", users.name));
        manager
            .get_connection()
            .execute_unprepared(&format!("DROP INDEX IF EXISTS {name}"))
            .await
            .map(|_| ())
    }
}

/// On PostgreSQL, the trigger announcing edits of the user table to the
/// principal caches of every instance.
struct UserTrigger(Users);

impl MigrationName for UserTrigger {
    fn name(&self) -> &str {
        USER_TRIGGER
    }
}

#[allow(elided_lifetimes_in_paths)]
#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for UserTrigger {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let users = existing(manager, &self.0).await?;
        schema::install_user_trigger(manager.get_connection(), &users.name, &users.key, CHANNEL)
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let Ok(users) = &self.0 else {
            return Ok(());
        };
        if db.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        db.execute_unprepared(&format!(
            "DROP TRIGGER IF EXISTS crudauth_announce_user ON {}",
            quote(&users.name)
        ))
        .await?;
        db.execute_unprepared("DROP FUNCTION IF EXISTS crudauth_announce_user()")
            .await
            .map(|_| ())
    }
}

fn steps(users: Users) -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(Migration),
        Box::new(EmailIndex(users.clone())),
        Box::new(UserTrigger(users)),
    ]
}

/// crudauth's schema as ordered steps for an application's own
/// `MigratorTrait`, for the user model derived with `#[derive(AuthUser)]`
/// in this program: its tables, the index on `lower(email)` of the user
/// table, and on PostgreSQL the trigger that announces edits of the user
/// table to the principal cache. List them after the migration that
/// creates the user table; `auth.migrate()` runs and records the same
/// steps, so the two can be mixed.
///
/// With no derived user model, or several, the second step fails and
/// says so: use [`migrations_for`] then.
///
/// # Examples
///
/// ```ignore
/// impl MigratorTrait for Migrator {
///     fn migrations() -> Vec<Box<dyn MigrationTrait>> {
///         let mut steps: Vec<Box<dyn MigrationTrait>> =
///             vec![Box::new(m20240101_create_users::Migration)];
///         steps.extend(crudauth::migration::migrations());
///         steps
///     }
/// }
/// ```
pub fn migrations() -> Vec<Box<dyn MigrationTrait>> {
    let mut tables: Vec<UserTable> = Vec::new();
    for registration in inventory::iter::<UserModelRegistration> {
        let table = (registration.table)();
        if !tables.iter().any(|t| t.name == table.name) {
            tables.push(table);
        }
    }
    let users = match tables.len() {
        1 => Ok(tables.remove(0)),
        0 => Err(
            "crudauth: no #[derive(AuthUser)] model in this program: use \
                  crudauth::migration::migrations_for::<user::Model>()"
                .to_owned(),
        ),
        n => Err(format!(
            "crudauth: {n} #[derive(AuthUser)] models in this program: name the user \
             model with crudauth::migration::migrations_for::<user::Model>()"
        )),
    };
    steps(users)
}

/// [`migrations`] for the user model `U`.
pub fn migrations_for<U: crate::user::AuthUser>() -> Vec<Box<dyn MigrationTrait>> {
    steps(Ok(UserTable::of::<U>()))
}
