//! The application's user table behind an object-safe store, and the hot
//! queries that join it with crudauth's own tables in one round trip.

use std::any::TypeId;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, SelectStatement};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, DbBackend, DbErr, EntityName, EntityTrait, FromQueryResult, IdenStatic,
    Iterable, QueryFilter, QueryTrait, SqlErr, Statement, Value,
};

use super::entities::{family, session};
use crate::error::ConfigError;
use crate::principal::{LoadedUser, UserId};
use crate::user::AuthUser;
use crate::user::key::UserKey;
use crate::user::key::sealed::{Cast, JoinCast};
use crate::user::register::{self, FieldError, NewUser, NewUserHook};

/// What a bearer request needs to know of its token family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FamilyState {
    pub exists: bool,
    pub revoked: bool,
    pub expires_at: i64,
    pub password_epoch: String,
    pub mfa: bool,
    pub authenticated_at: i64,
}

/// Adds `table.column AS <prefix><column>` for every column of `E`.
fn select_prefixed<E: EntityTrait + Default>(query: &mut SelectStatement, prefix: &str) {
    for column in E::Column::iter() {
        query.expr_as(
            Expr::col((E::default(), column)),
            Alias::new(format!("{prefix}{}", column.as_str())),
        );
    }
}

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What registration may fail with.
#[derive(Debug)]
pub(crate) enum CreateError {
    Duplicate,
    Db(DbErr),
}

/// Object-safe access to the application's user table.
pub(crate) trait UserStore: Send + Sync {
    fn by_id<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        id: &'a UserId,
    ) -> BoxFuture<'a, Result<Option<LoadedUser>, DbErr>>;
    /// The user of a session and the session row, in one round trip.
    fn by_session<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        token_hash: &'a str,
    ) -> BoxFuture<'a, Result<Option<(LoadedUser, session::Model)>, DbErr>>;
    /// The user and the state of token family `family`, in one round trip.
    fn by_id_with_family<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        id: &'a UserId,
        family: &'a str,
    ) -> BoxFuture<'a, Result<Option<(LoadedUser, FamilyState)>, DbErr>>;
    fn by_login<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        identifier: &'a str,
    ) -> BoxFuture<'a, Result<Option<LoadedUser>, DbErr>>;
    fn exists<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        email: Option<&'a str>,
        username: Option<&'a str>,
    ) -> BoxFuture<'a, Result<bool, DbErr>>;
    /// Takes the columns a client may set at `/register` and the
    /// application's `new_user` hook, refusing a privileged, unknown or
    /// unreadable column and a hook for another entity.
    fn set_registration(
        &mut self,
        fields: Vec<String>,
        hook: Option<NewUserHook>,
    ) -> Result<(), ConfigError>;
    /// The JSON schema of each allowlisted column, for the OpenAPI
    /// document.
    #[cfg(feature = "openapi")]
    fn register_schema(&self) -> Vec<(String, serde_json::Value)>;
    /// The allowlisted columns among `given`, read as their types; the
    /// other entries are ignored.
    fn register_values(
        &self,
        given: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Vec<(String, Value)>, FieldError>;
    /// Creates a user with `fields` (from [`register_values`](Self::register_values))
    /// set, then the `new_user` hook's values, inside the caller's
    /// transaction (registration commits the user and its first token once).
    fn create<'a>(
        &'a self,
        db: &'a DatabaseTransaction,
        email: Option<String>,
        username: Option<String>,
        hash: String,
        fields: Vec<(String, Value)>,
    ) -> BoxFuture<'a, Result<LoadedUser, CreateError>>;
    /// Replaces the password hash only if it is still `current`; whether it
    /// did.
    fn replace_password_hash<'a>(
        &'a self,
        db: &'a DatabaseTransaction,
        id: &'a UserId,
        current: &'a str,
        hash: String,
    ) -> BoxFuture<'a, Result<bool, DbErr>>;
    fn parse_id(&self, raw: &str) -> Option<UserId>;
    /// The user table's name and its key column's.
    fn table_and_key(&self) -> (String, String);
    /// The email column's name, if the entity has one.
    fn email_column(&self) -> Option<String>;
    fn has_email(&self) -> bool;
    /// Creates a user inside a transaction with no client-set columns: an
    /// account made by the application ([`CrudAuth::create_user`](crate::CrudAuth::create_user),
    /// the CLI) or by a sign-in provider that vouched for the address.
    fn create_account<'a>(
        &'a self,
        db: &'a DatabaseTransaction,
        account: Account,
    ) -> BoxFuture<'a, Result<LoadedUser, CreateError>>;
    /// Whether the model has an `is_superuser` column.
    fn has_superuser(&self) -> bool;
    #[cfg(feature = "oidc")]
    /// Marks the user's email verified (no-op without that column).
    fn set_email_verified<'a>(
        &'a self,
        db: &'a DatabaseTransaction,
        id: &'a UserId,
    ) -> BoxFuture<'a, Result<(), DbErr>>;
    /// Whether the model has an `email_verified` column.
    fn has_email_verified(&self) -> bool;
    /// Sets `email_verified` only if the email is still `email`; whether it
    /// did.
    fn mark_email_verified<'a>(
        &'a self,
        db: &'a DatabaseTransaction,
        id: &'a UserId,
        email: &'a str,
    ) -> BoxFuture<'a, Result<bool, DbErr>>;
    /// Replaces the email (and marks it verified: a redeemed link proved
    /// it) only if it is still `current`; whether it did.
    fn replace_email<'a>(
        &'a self,
        db: &'a DatabaseTransaction,
        id: &'a UserId,
        current: &'a str,
        new: String,
    ) -> BoxFuture<'a, Result<bool, CreateError>>;
}

pub(crate) struct ModelStore<U> {
    /// The session-and-user query, rendered at its first use: it is the
    /// same SQL for every request, only the token hash changes.
    session_sql: OnceLock<String>,
    /// The user-and-family query of bearer requests, likewise.
    family_sql: OnceLock<Option<String>>,
    /// The columns a client may set at `/register`.
    register_fields: Vec<String>,
    new_user: Option<NewUserHook>,
    model: PhantomData<fn() -> U>,
}

impl<U> ModelStore<U> {
    pub(crate) fn new() -> Self {
        Self {
            session_sql: OnceLock::new(),
            family_sql: OnceLock::new(),
            register_fields: Vec::new(),
            new_user: None,
            model: PhantomData,
        }
    }
}

type ColumnOf<U> = <<U as sea_orm::ModelTrait>::Entity as EntityTrait>::Column;

fn column_named<U: AuthUser>(name: &str) -> Option<ColumnOf<U>> {
    ColumnOf::<U>::iter().find(|c| c.as_str() == name)
}

/// Why `name` cannot be a `/register` field of `U`, if it cannot.
fn refused_field<U: AuthUser>(name: &str) -> Option<String> {
    let columns = U::auth_columns();
    let privileged = [
        Some(columns.id),
        Some(columns.password_hash),
        columns.is_active,
        columns.is_superuser,
        columns.email_verified,
        columns.scopes,
    ];
    if privileged.iter().flatten().any(|c| c.as_str() == name) {
        return Some(
            "it is a privileged column that only the server may set: remove it, and set \
             server-side values with `.new_user(..)`"
                .to_owned(),
        );
    }
    if [columns.email, columns.username]
        .iter()
        .flatten()
        .any(|c| c.as_str() == name)
    {
        return Some("/register reads it already: remove it".to_owned());
    }
    let Some(column) = column_named::<U>(name) else {
        let known: Vec<_> = ColumnOf::<U>::iter().map(|c| c.as_str()).collect();
        return Some(format!(
            "the user entity has no such column (its columns: {})",
            known.join(", ")
        ));
    };
    if register::expected(&column.def()).is_none() {
        return Some(
            "its column type cannot be read from JSON (text, integers, numbers, booleans, \
             JSON, UUIDs and dates can): remove it, or set it with `.new_user(..)`"
                .to_owned(),
        );
    }
    None
}

impl<U: AuthUser> ModelStore<U> {
    /// `SELECT <user columns>, family.{expires_at, revoked_at, password_epoch,
    /// mfa, authenticated_at} FROM users
    /// LEFT JOIN crudauth_token_families family ON family.id = $1 AND
    /// family.user_id = $2 WHERE users.id = $3`, with `values` in that order.
    fn family_query(values: [Value; 3]) -> SelectStatement {
        let [family_id, owner, key] = values;
        let mut select = U::Entity::find();
        let query = QueryTrait::query(&mut select);
        query.left_join(
            family::Entity,
            Expr::col((family::Entity, family::Column::Id))
                .eq(Expr::val(family_id))
                .and(Expr::col((family::Entity, family::Column::UserId)).eq(Expr::val(owner))),
        );
        for (column, alias) in [
            (family::Column::ExpiresAt, FAMILY_EXPIRES),
            (family::Column::RevokedAt, FAMILY_REVOKED),
            (family::Column::PasswordEpoch, FAMILY_EPOCH),
            (family::Column::Mfa, FAMILY_MFA),
            (family::Column::AuthenticatedAt, FAMILY_AUTHENTICATED),
        ] {
            query.expr_as(Expr::col((family::Entity, column)), Alias::new(alias));
        }
        query.and_where(Expr::col((U::Entity::default(), U::auth_columns().id)).eq(Expr::val(key)));
        query.clone()
    }

    /// [`Self::family_query`] rendered once, provided its placeholders come
    /// out in the order the values are bound (checked with marker values).
    fn family_sql(&self, backend: DbBackend) -> Option<&str> {
        self.family_sql
            .get_or_init(|| {
                let markers: [Value; 3] = [
                    "crudauth:1".into(),
                    "crudauth:2".into(),
                    "crudauth:3".into(),
                ];
                let statement = backend.build(&Self::family_query(markers.clone()));
                let bound = statement.values.map(|v| v.0).unwrap_or_default();
                (bound == markers).then_some(statement.sql)
            })
            .as_deref()
    }

    /// `SELECT <user columns>, <session columns> FROM users JOIN
    /// crudauth_sessions ON users.id = CAST(user_id AS ..) WHERE token_hash = ?`
    fn session_sql(&self, backend: DbBackend, cast: Cast) -> &str {
        self.session_sql.get_or_init(|| {
            let mut select = U::Entity::find();
            let query = QueryTrait::query(&mut select);
            let user_id = Expr::col((session::Entity, session::Column::UserId));
            let user_id = match cast {
                Cast::Text => user_id,
                Cast::To(sql_type) => Expr::from(Func::cast_as(user_id, Alias::new(sql_type))),
            };
            let key = Expr::col((U::Entity::default(), U::auth_columns().id));
            query.inner_join(session::Entity, key.eq(user_id));
            select_prefixed::<session::Entity>(query, SESSION_PREFIX);
            query.and_where(Expr::col((session::Entity, session::Column::TokenHash)).eq(""));
            backend.build(&*query).sql
        })
    }
}

fn load<U: AuthUser>(model: U) -> LoadedUser {
    LoadedUser {
        id: model.key().to_user_id(),
        email: model.email().map(str::to_owned),
        username: model.username().map(str::to_owned),
        password_hash: model.password_hash().to_owned(),
        is_active: model.is_active(),
        is_superuser: model.is_superuser(),
        email_verified: model.email_verified(),
        scopes: model.scopes(),
        row: Arc::new(model),
    }
}

const SESSION_PREFIX: &str = "crudauth_s_";
const FAMILY_EXPIRES: &str = "crudauth_f_expires_at";
const FAMILY_REVOKED: &str = "crudauth_f_revoked_at";
const FAMILY_EPOCH: &str = "crudauth_f_password_epoch";
const FAMILY_MFA: &str = "crudauth_f_mfa";
const FAMILY_AUTHENTICATED: &str = "crudauth_f_authenticated_at";

fn lower_eq<C: ColumnTrait>(column: C, value: &str) -> Expr {
    Expr::from(Func::lower(column.into_expr())).eq(value.to_lowercase())
}

impl<U: AuthUser> UserStore for ModelStore<U> {
    fn by_id<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        id: &'a UserId,
    ) -> BoxFuture<'a, Result<Option<LoadedUser>, DbErr>> {
        Box::pin(async move {
            let Some(key) = U::Key::from_user_id(id) else {
                return Ok(None);
            };
            let column = U::auth_columns().id;
            let find = || U::Entity::find().filter(column.eq(key.clone())).one(db);
            Ok(super::retrying(db, find).await?.map(load::<U>))
        })
    }

    fn by_session<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        token_hash: &'a str,
    ) -> BoxFuture<'a, Result<Option<(LoadedUser, session::Model)>, DbErr>> {
        Box::pin(async move {
            let backend = db.get_database_backend();
            let Some(cast) = U::Key::join_cast(backend) else {
                // No portable join for this key type: two queries.
                let Some(row) = session::Entity::find()
                    .filter(session::Column::TokenHash.eq(token_hash))
                    .one(db)
                    .await?
                else {
                    return Ok(None);
                };
                let Some(id) = self.parse_id(&row.user_id) else {
                    return Ok(None);
                };
                return Ok(self.by_id(db, &id).await?.map(|user| (user, row)));
            };
            let sql = self.session_sql(backend, cast);
            let statement = || {
                let values = [token_hash.into()];
                db.query_one_raw(Statement::from_sql_and_values(backend, sql, values))
            };
            let Some(row) = super::retrying(db, statement).await? else {
                return Ok(None);
            };
            let user = U::from_query_result(&row, "")?;
            let session = session::Model::from_query_result(&row, SESSION_PREFIX)?;
            Ok(Some((load(user), session)))
        })
    }

    fn by_id_with_family<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        id: &'a UserId,
        family_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<(LoadedUser, FamilyState)>, DbErr>> {
        Box::pin(async move {
            let Some(key) = U::Key::from_user_id(id) else {
                return Ok(None);
            };
            let backend = db.get_database_backend();
            let values: [Value; 3] = [family_id.into(), id.to_string().into(), key.clone().into()];
            let statement = match self.family_sql(backend) {
                Some(sql) => Statement::from_sql_and_values(backend, sql, values),
                None => backend.build(&Self::family_query(values)),
            };
            let query = || db.query_one_raw(statement.clone());
            let Some(row) = super::retrying(db, query).await? else {
                return Ok(None);
            };
            let user = U::from_query_result(&row, "")?;
            let expires_at: Option<i64> = row.try_get_by(FAMILY_EXPIRES)?;
            let revoked_at: Option<i64> = row.try_get_by(FAMILY_REVOKED)?;
            let password_epoch: Option<String> = row.try_get_by(FAMILY_EPOCH)?;
            let mfa: Option<bool> = row.try_get_by(FAMILY_MFA)?;
            let authenticated_at: Option<i64> = row.try_get_by(FAMILY_AUTHENTICATED)?;
            let state = FamilyState {
                exists: expires_at.is_some(),
                revoked: revoked_at.is_some(),
                expires_at: expires_at.unwrap_or(0),
                password_epoch: password_epoch.unwrap_or_default(),
                mfa: mfa.unwrap_or(false),
                authenticated_at: authenticated_at.unwrap_or(0),
            };
            Ok(Some((load(user), state)))
        })
    }

    fn by_login<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        identifier: &'a str,
    ) -> BoxFuture<'a, Result<Option<LoadedUser>, DbErr>> {
        Box::pin(async move {
            let columns = U::auth_columns();
            let mut any = Condition::any();
            if let Some(email) = columns.email {
                any = any.add(lower_eq(email, identifier));
            }
            if let Some(username) = columns.username {
                any = any.add(username.eq(identifier));
            }
            let find = || U::Entity::find().filter(any.clone()).all(db);
            let rows = super::retrying(db, find).await?;
            // An email match wins over another account's username that
            // happens to equal it, so the result never depends on row order.
            let lowered = identifier.to_lowercase();
            let best = rows
                .into_iter()
                .map(load::<U>)
                .min_by_key(|u| u.email.as_deref().map(str::to_lowercase) != Some(lowered.clone()));
            Ok(best)
        })
    }

    fn exists<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        email: Option<&'a str>,
        username: Option<&'a str>,
    ) -> BoxFuture<'a, Result<bool, DbErr>> {
        Box::pin(async move {
            let columns = U::auth_columns();
            let mut any = Condition::any();
            let mut terms = 0;
            if let (Some(column), Some(email)) = (columns.email, email) {
                any = any.add(lower_eq(column, email));
                terms += 1;
            }
            if let (Some(column), Some(username)) = (columns.username, username) {
                any = any.add(column.eq(username));
                terms += 1;
            }
            if terms == 0 {
                return Ok(false);
            }
            let find = || U::Entity::find().filter(any.clone()).one(db);
            Ok(super::retrying(db, find).await?.is_some())
        })
    }

    fn set_registration(
        &mut self,
        fields: Vec<String>,
        hook: Option<NewUserHook>,
    ) -> Result<(), ConfigError> {
        for field in &fields {
            if let Some(reason) = refused_field::<U>(field) {
                return Err(ConfigError::RegisterField {
                    field: field.clone(),
                    reason,
                });
            }
        }
        let model = TypeId::of::<<U::Entity as EntityTrait>::ActiveModel>();
        if hook.as_ref().is_some_and(|hook| hook.model != model) {
            return Err(ConfigError::Invalid {
                setting: "new_user",
                reason: "the closure takes another entity's ActiveModel: take `&mut ActiveModel` \
                         of the model given to `.user_model::<..>()`",
            });
        }
        self.register_fields = fields;
        self.new_user = hook;
        Ok(())
    }

    #[cfg(feature = "openapi")]
    fn register_schema(&self) -> Vec<(String, serde_json::Value)> {
        self.register_fields
            .iter()
            .filter_map(|name| {
                let schema = register::json_schema(&column_named::<U>(name)?.def())?;
                Some((name.clone(), schema))
            })
            .collect()
    }

    fn register_values(
        &self,
        given: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Vec<(String, Value)>, FieldError> {
        let mut values = Vec::new();
        // Each value is also set on a scratch row, so that a column whose
        // Rust type differs from what its column type suggests refuses
        // the value here rather than at the insert.
        let mut scratch = <<U::Entity as EntityTrait>::ActiveModel as ActiveModelTrait>::default();
        for name in &self.register_fields {
            let (Some(json), Some(column)) = (given.get(name), column_named::<U>(name)) else {
                continue;
            };
            let error = |expected| FieldError {
                field: name.clone(),
                expected,
            };
            let value = register::read(&column.def(), json).map_err(error)?;
            scratch
                .try_set(column, value.clone())
                .map_err(|_| error("of the column's type"))?;
            values.push((name.clone(), value));
        }
        Ok(values)
    }

    fn create<'a>(
        &'a self,
        db: &'a DatabaseTransaction,
        email: Option<String>,
        username: Option<String>,
        hash: String,
        fields: Vec<(String, Value)>,
    ) -> BoxFuture<'a, Result<LoadedUser, CreateError>> {
        let row = NewRow {
            email,
            username,
            hash,
            fields,
            verified: false,
            superuser: false,
        };
        Box::pin(insert::<U, _>(db, row, self.new_user.as_ref()))
    }

    fn replace_password_hash<'a>(
        &'a self,
        db: &'a DatabaseTransaction,
        id: &'a UserId,
        current: &'a str,
        hash: String,
    ) -> BoxFuture<'a, Result<bool, DbErr>> {
        Box::pin(async move {
            let Some(key) = U::Key::from_user_id(id) else {
                return Ok(false);
            };
            let columns = U::auth_columns();
            let result = U::Entity::update_many()
                .col_expr(columns.password_hash, Expr::value(hash))
                .filter(columns.id.eq(key))
                .filter(columns.password_hash.eq(current))
                .exec(db)
                .await?;
            Ok(result.rows_affected == 1)
        })
    }

    fn parse_id(&self, raw: &str) -> Option<UserId> {
        U::Key::parse(raw).map(|k| k.to_user_id())
    }

    fn table_and_key(&self) -> (String, String) {
        (
            U::Entity::default().table_name().to_owned(),
            U::auth_columns().id.as_str().to_owned(),
        )
    }

    fn email_column(&self) -> Option<String> {
        U::auth_columns().email.map(|c| c.as_str().to_owned())
    }

    fn has_email(&self) -> bool {
        U::auth_columns().email.is_some()
    }

    fn has_email_verified(&self) -> bool {
        U::auth_columns().email_verified.is_some()
    }

    fn create_account<'a>(
        &'a self,
        db: &'a DatabaseTransaction,
        account: Account,
    ) -> BoxFuture<'a, Result<LoadedUser, CreateError>> {
        let row = NewRow {
            email: account.email,
            username: account.username,
            hash: account.hash,
            fields: Vec::new(),
            verified: account.verified,
            superuser: account.superuser,
        };
        Box::pin(insert::<U, _>(db, row, self.new_user.as_ref()))
    }

    fn has_superuser(&self) -> bool {
        U::auth_columns().is_superuser.is_some()
    }

    #[cfg(feature = "oidc")]
    fn set_email_verified<'a>(
        &'a self,
        db: &'a DatabaseTransaction,
        id: &'a UserId,
    ) -> BoxFuture<'a, Result<(), DbErr>> {
        Box::pin(async move {
            let columns = U::auth_columns();
            let (Some(key), Some(column)) = (U::Key::from_user_id(id), columns.email_verified)
            else {
                return Ok(());
            };
            U::Entity::update_many()
                .col_expr(column, Expr::value(true))
                .filter(columns.id.eq(key))
                .exec(db)
                .await?;
            Ok(())
        })
    }

    fn mark_email_verified<'a>(
        &'a self,
        db: &'a DatabaseTransaction,
        id: &'a UserId,
        email: &'a str,
    ) -> BoxFuture<'a, Result<bool, DbErr>> {
        Box::pin(async move {
            let columns = U::auth_columns();
            let (Some(key), Some(email_column), Some(verified)) = (
                U::Key::from_user_id(id),
                columns.email,
                columns.email_verified,
            ) else {
                return Ok(false);
            };
            let result = U::Entity::update_many()
                .col_expr(verified, Expr::value(true))
                .filter(columns.id.eq(key))
                .filter(lower_eq(email_column, email))
                .exec(db)
                .await?;
            Ok(result.rows_affected == 1)
        })
    }

    fn replace_email<'a>(
        &'a self,
        db: &'a DatabaseTransaction,
        id: &'a UserId,
        current: &'a str,
        new: String,
    ) -> BoxFuture<'a, Result<bool, CreateError>> {
        Box::pin(async move {
            let columns = U::auth_columns();
            let (Some(key), Some(email_column)) = (U::Key::from_user_id(id), columns.email) else {
                return Ok(false);
            };
            let mut update = U::Entity::update_many().col_expr(email_column, Expr::value(new));
            if let Some(verified) = columns.email_verified {
                update = update.col_expr(verified, Expr::value(true));
            }
            let result = update
                .filter(columns.id.eq(key))
                .filter(lower_eq(email_column, current))
                .exec(db)
                .await;
            match result {
                Ok(result) => Ok(result.rows_affected == 1),
                Err(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                    Err(CreateError::Duplicate)
                }
                Err(err) => Err(CreateError::Db(err)),
            }
        })
    }
}

/// An account the application (or a sign-in provider) creates: no
/// client-set columns, the flags as given.
#[derive(Debug, Default)]
pub(crate) struct Account {
    pub email: Option<String>,
    pub username: Option<String>,
    pub hash: String,
    pub verified: bool,
    pub superuser: bool,
}

/// A user to insert.
struct NewRow {
    email: Option<String>,
    username: Option<String>,
    hash: String,
    /// Client-set columns, already read as their types.
    fields: Vec<(String, Value)>,
    verified: bool,
    superuser: bool,
}

/// Inserts a user: a fresh key when the key type makes its own, active,
/// the email verified as `verified` says, a superuser only when asked, the
/// client's allowlisted columns, and last the application's `hook`, which
/// may override any of them.
async fn insert<U: AuthUser, C: ConnectionTrait>(
    db: &C,
    row: NewRow,
    hook: Option<&NewUserHook>,
) -> Result<LoadedUser, CreateError> {
    let columns = U::auth_columns();
    let mut active = <<U::Entity as EntityTrait>::ActiveModel as ActiveModelTrait>::default();
    if let Some(key) = U::Key::generate() {
        active.set(columns.id, key.into());
    }
    if let (Some(column), Some(email)) = (columns.email, row.email.clone()) {
        active.set(column, email.into());
    }
    if let (Some(column), Some(username)) = (columns.username, row.username.clone()) {
        active.set(column, username.into());
    }
    active.set(columns.password_hash, row.hash.into());
    for (column, value) in [
        (columns.is_active, true),
        (columns.is_superuser, row.superuser),
        (columns.email_verified, row.verified),
    ] {
        if let Some(column) = column {
            active.set(column, value.into());
        }
    }
    for (name, value) in row.fields {
        if let Some(column) = column_named::<U>(&name) {
            active.try_set(column, value).map_err(CreateError::Db)?;
        }
    }
    if let Some(hook) = hook {
        let user = NewUser {
            email: row.email.as_deref(),
            username: row.username.as_deref(),
        };
        (hook.call)(&user, &mut active);
    }
    match active.insert(db).await {
        Ok(model) => Ok(load::<U>(model)),
        Err(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            Err(CreateError::Duplicate)
        }
        Err(err) => Err(CreateError::Db(err)),
    }
}

#[cfg(all(test, feature = "macros"))]
mod tests {
    use super::*;

    mod doc_user {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, crate::AuthUser)]
        #[sea_orm(table_name = "users")]
        #[auth(crate = "crate")]
        pub struct Model {
            #[sea_orm(primary_key)]
            pub id: i64,
            pub email: String,
            pub password_hash: String,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    #[test]
    fn the_hot_queries_are_rendered_once_for_every_backend() {
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            let store = ModelStore::<doc_user::Model>::new();
            let sql = store
                .family_sql(backend)
                .expect("placeholders in binding order");
            assert!(sql.contains("LEFT JOIN"), "{sql}");
            let cast = i64::join_cast(backend).unwrap();
            assert!(store.session_sql(backend, cast).contains("JOIN"));
        }
    }
}
