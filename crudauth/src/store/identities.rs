//! `crudauth_identities`: provider identities linked to accounts.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr,
};

use super::entities::identity::{self, Entity};
use super::entities::unlinked_identity as unlinked;

/// An identity a provider sign-in will link once the account's second
/// factor is given, kept with the challenge.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct PendingLink {
    pub provider: String,
    pub subject: String,
    pub email: Option<String>,
    /// The owner links an identity they unlinked (`?link=1`).
    pub relink: bool,
    /// A row of this identity whose account was deleted, to remove.
    pub stale: Option<String>,
}

impl PendingLink {
    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub(crate) fn from_json(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }

    /// Links the identity to `user_id`; `Ok(false)` when it is linked
    /// already (a concurrent sign-in won).
    pub(crate) async fn apply<C: ConnectionTrait>(
        &self,
        db: &C,
        user_id: &str,
    ) -> Result<bool, DbErr> {
        if let Some(stale) = &self.stale {
            forget(db, stale).await?;
        }
        if self.relink {
            forget_unlinked(db, &self.provider, &self.subject).await?;
        }
        link(
            db,
            &self.provider,
            &self.subject,
            user_id,
            self.email.clone(),
        )
        .await
    }
}
use crate::tokens::now;

/// The identity `(provider, subject)`, if linked.
pub(crate) async fn find<C: ConnectionTrait>(
    db: &C,
    provider: &str,
    subject: &str,
) -> Result<Option<identity::Model>, DbErr> {
    Entity::find()
        .filter(identity::Column::Provider.eq(provider))
        .filter(identity::Column::Subject.eq(subject))
        .one(db)
        .await
}

/// A user's identities, oldest first.
pub(crate) async fn of_user<C: ConnectionTrait>(
    db: &C,
    user_id: &str,
) -> Result<Vec<identity::Model>, DbErr> {
    Entity::find()
        .filter(identity::Column::UserId.eq(user_id))
        .order_by_asc(identity::Column::CreatedAt)
        .order_by_asc(identity::Column::Id)
        .all(db)
        .await
}

/// A user's identities, locked until the transaction ends on PostgreSQL
/// (SQLite's write transaction already excludes other writers), so that
/// two unlinks cannot both see the other's identity as a way left in.
pub(crate) async fn of_user_for_update<C: ConnectionTrait>(
    db: &C,
    user_id: &str,
) -> Result<Vec<identity::Model>, DbErr> {
    let mut query = Entity::find().filter(identity::Column::UserId.eq(user_id));
    if db.get_database_backend() == DatabaseBackend::Postgres {
        query = query.lock_exclusive();
    }
    query.all(db).await
}

/// Whether the user has any identity of `provider`.
pub(crate) async fn has_provider<C: ConnectionTrait>(
    db: &C,
    user_id: &str,
    provider: &str,
) -> Result<bool, DbErr> {
    Ok(Entity::find()
        .filter(identity::Column::UserId.eq(user_id))
        .filter(identity::Column::Provider.eq(provider))
        .count(db)
        .await?
        > 0)
}

/// Links `(provider, subject)` to a user; `Ok(false)` when that identity is
/// already linked (a concurrent sign-in won).
pub(crate) async fn link<C: ConnectionTrait>(
    db: &C,
    provider: &str,
    subject: &str,
    user_id: &str,
    email: Option<String>,
) -> Result<bool, DbErr> {
    let row = identity::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        provider: Set(provider.to_owned()),
        subject: Set(subject.to_owned()),
        user_id: Set(user_id.to_owned()),
        email: Set(email),
        created_at: Set(now()),
    };
    match Entity::insert(row).exec(db).await {
        Ok(_) => Ok(true),
        Err(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            Ok(false)
        }
        Err(err) => Err(err),
    }
}

/// Unlinks a user's identities of `provider`; how many went.
pub(crate) async fn unlink<C: ConnectionTrait>(
    db: &C,
    user_id: &str,
    provider: &str,
) -> Result<u64, DbErr> {
    Ok(Entity::delete_many()
        .filter(identity::Column::UserId.eq(user_id))
        .filter(identity::Column::Provider.eq(provider))
        .exec(db)
        .await?
        .rows_affected)
}

/// Removes an identity whose user no longer exists.
pub(crate) async fn forget<C: ConnectionTrait>(db: &C, id: &str) -> Result<(), DbErr> {
    Entity::delete_by_id(id.to_owned()).exec(db).await?;
    Ok(())
}

/// Remembers that the owner `user_id` unlinked `(provider, subject)`, so
/// that the callback refuses it until that owner links it again.
pub(crate) async fn remember_unlinked<C: ConnectionTrait>(
    db: &C,
    provider: &str,
    subject: &str,
    user_id: &str,
) -> Result<(), DbErr> {
    forget_unlinked(db, provider, subject).await?;
    unlinked::Entity::insert(unlinked::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        provider: Set(provider.to_owned()),
        subject: Set(subject.to_owned()),
        user_id: Set(user_id.to_owned()),
        unlinked_at: Set(now()),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Who unlinked `(provider, subject)`, if anyone did.
pub(crate) async fn unlinked_by<C: ConnectionTrait>(
    db: &C,
    provider: &str,
    subject: &str,
) -> Result<Option<String>, DbErr> {
    Ok(unlinked::Entity::find()
        .filter(unlinked::Column::Provider.eq(provider))
        .filter(unlinked::Column::Subject.eq(subject))
        .one(db)
        .await?
        .map(|row| row.user_id))
}

/// Forgets an unlinking (the owner linked the identity again).
pub(crate) async fn forget_unlinked<C: ConnectionTrait>(
    db: &C,
    provider: &str,
    subject: &str,
) -> Result<(), DbErr> {
    unlinked::Entity::delete_many()
        .filter(unlinked::Column::Provider.eq(provider))
        .filter(unlinked::Column::Subject.eq(subject))
        .exec(db)
        .await?;
    Ok(())
}
