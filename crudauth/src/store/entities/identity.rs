//! `crudauth_identities`: which account an identity at a sign-in provider
//! (OpenID Connect, GitHub) belongs to.

use sea_orm::entity::prelude::*;

/// One linked identity. `(provider, subject)` is unique: an identity
/// belongs to one account at most.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crudauth_identities")]
pub struct Model {
    /// Row id (a uuid).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The provider's name in crudauth's paths.
    #[sea_orm(unique_key = "provider_subject")]
    pub provider: String,
    /// The provider's stable id of the user (`sub`, GitHub's numeric id).
    #[sea_orm(unique_key = "provider_subject")]
    pub subject: String,
    /// The user's key in text form.
    #[sea_orm(indexed)]
    pub user_id: String,
    /// The email the provider gave at linking.
    pub email: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

/// No relations: the user table is the application's.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
