//! `crudauth_unlinked_identities`: provider identities their owner
//! unlinked, which the callback refuses from then on.

use sea_orm::entity::prelude::*;

/// One unlinked identity. `(provider, subject)` is unique: the latest
/// unlinking is the one remembered.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "crudauth_unlinked_identities")]
pub struct Model {
    /// Row id (a uuid).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The provider's name in crudauth's paths.
    #[sea_orm(unique_key = "unlinked_provider_subject")]
    pub provider: String,
    /// The provider's stable id of the user.
    #[sea_orm(unique_key = "unlinked_provider_subject")]
    pub subject: String,
    /// The key, in text form, of the account that unlinked it: the one
    /// owner who may link it again.
    #[sea_orm(indexed)]
    pub user_id: String,
    /// Unix seconds.
    pub unlinked_at: i64,
}

/// No relations: the user table is the application's.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
