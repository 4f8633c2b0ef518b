//! `crudauth_recovery_codes`: single-use codes that stand in for a TOTP code.

use sea_orm::entity::prelude::*;

/// One unused recovery code; using it deletes the row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crudauth_recovery_codes")]
pub struct Model {
    /// HMAC-SHA-256 of the user and the code under a key derived from
    /// `mfa_key`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub code_hash: String,
    /// The user's key in text form.
    #[sea_orm(indexed)]
    pub user_id: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
