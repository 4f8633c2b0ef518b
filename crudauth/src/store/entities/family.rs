//! `crudauth_token_families`: one row per bearer login; access tokens name it
//! in their `sid` claim so that revoking it stops them at once.

use sea_orm::entity::prelude::*;

/// A token family.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crudauth_token_families")]
pub struct Model {
    /// Random id, the `sid` claim.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The user's key in text form.
    #[sea_orm(indexed)]
    pub user_id: String,
    /// Space-separated granted scopes, kept across refreshes.
    pub scope: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; the absolute end of every token of the family.
    pub expires_at: i64,
    /// Unix seconds of revocation, if revoked.
    pub revoked_at: Option<i64>,
    /// The password epoch the family was created under; see
    /// `tokens::password_epoch`.
    #[sea_orm(default_value = "")]
    pub password_epoch: String,
    /// Whether the login passed a second factor; kept across refreshes.
    #[sea_orm(default_value = false)]
    pub mfa: bool,
    /// Unix seconds of the last password or second-factor proof: the login,
    /// then each `/sudo`; kept across refreshes.
    #[sea_orm(default_value = 0)]
    pub authenticated_at: i64,
}

/// No relations declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
