//! `crudauth_attempts`: counters for lockout and throttling, shared by every
//! instance on the database.

use sea_orm::entity::prelude::*;

/// A counter: failures (or registrations) of one key in the current window.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crudauth_attempts")]
pub struct Model {
    /// `id:<identifier>`, `ip:<address>` or `reg:<address>`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// Events counted in the current window.
    pub count: i32,
    /// Unix seconds when the window opened.
    pub window_start: i64,
    /// Unix seconds until which the key is locked (0 when not locked).
    pub locked_until: i64,
    /// How many times the key has been locked; each lock doubles.
    pub locks: i32,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
