//! The application's own user table.

use sea_orm::entity::prelude::*;

/// A user row. crudauth reads it through `AuthUser`, derived: the roles
/// come from the field names.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, crudauth::AuthUser)]
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
    /// The name shown to others; clients may set it at `/register` (see
    /// `register_fields` in `auth_builder`).
    #[sea_orm(nullable)]
    pub display_name: Option<String>,
    /// Space-separated scopes this user may be granted at `/token`.
    #[sea_orm(default_value = "jobs:read jobs:write")]
    pub scopes: String,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
