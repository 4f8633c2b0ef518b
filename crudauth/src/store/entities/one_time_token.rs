//! `crudauth_one_time_tokens`: the links of verification, password-reset
//! and email-change mails.

use sea_orm::entity::prelude::*;

/// An outstanding one-time token. Only the SHA-256 of the token is stored;
/// the row also records the account state the token is bound to, compared
/// again when it is redeemed.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crudauth_one_time_tokens")]
pub struct Model {
    /// SHA-256 (hex) of the token.
    #[sea_orm(primary_key, auto_increment = false)]
    pub token_hash: String,
    /// `verify_email`, `reset_password` or `change_email`.
    pub purpose: String,
    /// The user's key in text form.
    #[sea_orm(indexed)]
    pub user_id: String,
    /// The account's email when the token was issued.
    pub bound_email: String,
    /// The password epoch when the token was issued.
    pub password_epoch: String,
    /// The new address of an email change.
    pub new_email: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds after which the token is dead.
    pub expires_at: i64,
}

/// No relations: the user table is the application's.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
