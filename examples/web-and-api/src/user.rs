//! The application's own user table.

use sea_orm::entity::prelude::*;

/// A user row. crudauth reads it through `AuthUser`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Login email, stored lower-cased.
    #[sea_orm(unique)]
    pub email: String,
    /// Optional handle, also accepted at login.
    #[sea_orm(unique, nullable)]
    pub username: Option<String>,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Inactive users cannot log in.
    #[sea_orm(default_value = true)]
    pub is_active: bool,
    /// Administrators.
    #[sea_orm(default_value = false)]
    pub is_superuser: bool,
    /// Set once the email address is confirmed.
    #[sea_orm(default_value = false)]
    pub email_verified: bool,
    /// Space-separated scopes this user may be granted at `/token`.
    #[sea_orm(default_value = "jobs:read jobs:write")]
    pub scopes: String,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl crudauth::AuthUser for Model {
    type Key = i64;

    fn auth_columns() -> crudauth::AuthColumns<Column> {
        crudauth::AuthColumns {
            id: Column::Id,
            email: Some(Column::Email),
            username: Some(Column::Username),
            password_hash: Column::PasswordHash,
            is_active: Some(Column::IsActive),
            is_superuser: Some(Column::IsSuperuser),
            email_verified: Some(Column::EmailVerified),
        }
    }

    fn key(&self) -> i64 {
        self.id
    }

    fn password_hash(&self) -> &str {
        &self.password_hash
    }

    fn email(&self) -> Option<&str> {
        Some(&self.email)
    }

    fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    fn is_active(&self) -> bool {
        self.is_active
    }

    fn is_superuser(&self) -> bool {
        self.is_superuser
    }

    fn email_verified(&self) -> bool {
        self.email_verified
    }

    fn scopes(&self) -> Vec<String> {
        self.scopes.split_whitespace().map(str::to_owned).collect()
    }
}
