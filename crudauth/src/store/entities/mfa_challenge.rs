//! `crudauth_mfa_challenges`: a login that passed the password and waits
//! for its second factor.

use sea_orm::entity::prelude::*;

/// A pending login; what it will issue (a session or a token family) is
/// fixed when the password is checked.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crudauth_mfa_challenges")]
pub struct Model {
    /// SHA-256 (hex) of the challenge handed to the client.
    #[sea_orm(primary_key, auto_increment = false)]
    pub token_hash: String,
    /// The user's key in text form.
    pub user_id: String,
    /// `session` or `bearer`: what the login started.
    pub transport: String,
    /// The session login's `remember_me`.
    pub remember_me: bool,
    /// The token login's granted scopes.
    pub scope: String,
    /// The password epoch of the checked password.
    pub password_epoch: String,
    /// A provider sign-in's identity to link once the code passes (JSON;
    /// `None` for a password login): nothing is tied to an account with a
    /// second factor before that factor is given.
    pub pending_link: Option<String>,
    /// Wrong codes so far.
    pub attempts: i32,
    /// Unix seconds.
    pub expires_at: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
