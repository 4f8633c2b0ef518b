//! One-time tokens: issued (voiding the user's older tokens of the same
//! purpose), looked up, and consumed exactly once.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
};

use super::entities::one_time_token::{self, Model};
use crate::tokens::{digest, now, random_token};

/// What a new token is for and bound to.
#[derive(Debug, Clone)]
pub(crate) struct NewToken<'a> {
    pub purpose: &'a str,
    pub user_id: String,
    pub bound_email: String,
    pub password_epoch: String,
    pub new_email: Option<String>,
    pub ttl_secs: i64,
}

/// Stores a new token after deleting the user's older ones of the same
/// purpose; returns the token. Run it in a write transaction.
pub(crate) async fn issue<C: ConnectionTrait>(db: &C, new: NewToken<'_>) -> Result<String, DbErr> {
    one_time_token::Entity::delete_many()
        .filter(one_time_token::Column::UserId.eq(new.user_id.as_str()))
        .filter(one_time_token::Column::Purpose.eq(new.purpose))
        .exec(db)
        .await?;
    let token = random_token();
    let at = now();
    one_time_token::ActiveModel {
        token_hash: Set(digest(&token)),
        purpose: Set(new.purpose.to_owned()),
        user_id: Set(new.user_id),
        bound_email: Set(new.bound_email),
        password_epoch: Set(new.password_epoch),
        new_email: Set(new.new_email),
        created_at: Set(at),
        expires_at: Set(at.saturating_add(new.ttl_secs)),
    }
    .insert(db)
    .await?;
    Ok(token)
}

/// The live row of `token` for `purpose`, if any.
pub(crate) async fn find<C: ConnectionTrait>(
    db: &C,
    token: &str,
    purpose: &str,
) -> Result<Option<Model>, DbErr> {
    one_time_token::Entity::find_by_id(digest(token))
        .filter(one_time_token::Column::Purpose.eq(purpose))
        .filter(one_time_token::Column::ExpiresAt.gt(now()))
        .one(db)
        .await
}

/// Deletes `row`; whether this call did (a concurrent redemption loses).
pub(crate) async fn consume<C: ConnectionTrait>(db: &C, row: &Model) -> Result<bool, DbErr> {
    let deleted = one_time_token::Entity::delete_by_id(row.token_hash.clone())
        .exec(db)
        .await?;
    Ok(deleted.rows_affected == 1)
}

/// Deletes every outstanding token of a user.
pub(crate) async fn void_user<C: ConnectionTrait>(db: &C, user_id: &str) -> Result<u64, DbErr> {
    Ok(one_time_token::Entity::delete_many()
        .filter(one_time_token::Column::UserId.eq(user_id))
        .exec(db)
        .await?
        .rows_affected)
}

/// Deletes expired tokens.
pub(crate) async fn purge<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    Ok(one_time_token::Entity::delete_many()
        .filter(one_time_token::Column::ExpiresAt.lte(now()))
        .exec(db)
        .await?
        .rows_affected)
}
