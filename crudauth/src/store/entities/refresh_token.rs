//! `crudauth_refresh_tokens`: every refresh token ever issued, by family.

use sea_orm::entity::prelude::*;

/// A refresh token row; `used_at` is set when it is rotated, and a second
/// presentation of a used token revokes its family.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crudauth_refresh_tokens")]
pub struct Model {
    /// SHA-256 (hex) of the opaque token.
    #[sea_orm(primary_key, auto_increment = false)]
    pub token_hash: String,
    /// The family (one login) this token belongs to.
    #[sea_orm(indexed)]
    pub family_id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of its rotation, if rotated.
    pub used_at: Option<i64>,
}

/// No relations declared; `family_id` points at `crudauth_token_families`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
