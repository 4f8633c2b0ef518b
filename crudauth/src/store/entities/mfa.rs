//! `crudauth_mfa`: a user's TOTP enrolment, never on the user row.

use sea_orm::entity::prelude::*;

/// One user's TOTP secret, sealed under `mfa_key`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crudauth_mfa")]
pub struct Model {
    /// The user's key in text form.
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    /// AES-256-GCM of the 160-bit secret (nonce first), base64.
    pub secret: String,
    /// Whether a code has confirmed the enrolment.
    pub enabled: bool,
    /// The last TOTP step accepted: a code of this step or an earlier one
    /// is refused (no replay within its window).
    pub last_used_step: i64,
    /// Unix seconds of the setup.
    pub created_at: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
