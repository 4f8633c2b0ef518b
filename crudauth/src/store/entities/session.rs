//! `crudauth_sessions`: one row per server-side session.

use sea_orm::entity::prelude::*;

/// A session row. The cookie carries a secret token; only its SHA-256 is
/// stored, so the table alone cannot be replayed.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crudauth_sessions")]
pub struct Model {
    /// Public id, shown by `GET /sessions` and used by `DELETE /sessions/{id}`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// SHA-256 (hex) of the cookie's token.
    #[sea_orm(unique)]
    pub token_hash: String,
    /// The user's key in text form.
    #[sea_orm(indexed)]
    pub user_id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last recorded use (written at most once a minute).
    pub last_seen_at: i64,
    /// Idle timeout of this session in seconds.
    pub idle_secs: i64,
    /// Unix seconds after which the session is dead whatever its use.
    pub expires_at: i64,
    /// Client address at login.
    pub ip: Option<String>,
    /// `User-Agent` at login.
    pub user_agent: Option<String>,
    /// The password epoch the session was created under; see
    /// `tokens::password_epoch`.
    #[sea_orm(default_value = "")]
    pub password_epoch: String,
    /// Whether the login passed a second factor.
    #[sea_orm(default_value = false)]
    pub mfa: bool,
    /// Unix seconds of the last password or second-factor proof: the login,
    /// then each `/sudo`.
    #[sea_orm(default_value = 0)]
    pub authenticated_at: i64,
}

/// No relations: the user table is the application's.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
