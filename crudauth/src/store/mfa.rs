//! Queries on the second factor's tables: enrolments, recovery codes and
//! login challenges. Every "use once" is a conditional write whose affected
//! row count decides, so two concurrent requests cannot both succeed.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
};

use super::entities::{mfa, mfa_challenge as challenge, recovery_code as recovery};
use crate::tokens::{digest, now, random_token};

/// A user's enrolment, confirmed or not.
pub(crate) async fn find<C: ConnectionTrait>(
    db: &C,
    user_id: &str,
) -> Result<Option<mfa::Model>, DbErr> {
    mfa::Entity::find_by_id(user_id.to_owned()).one(db).await
}

/// Whether a user has a confirmed second factor.
pub(crate) async fn enabled<C: ConnectionTrait>(db: &C, user_id: &str) -> Result<bool, DbErr> {
    Ok(find(db, user_id).await?.is_some_and(|row| row.enabled))
}

/// Starts (or restarts) an unconfirmed enrolment with `sealed`; `false`
/// when a confirmed one exists, which is left alone.
pub(crate) async fn begin_setup<C: ConnectionTrait>(
    db: &C,
    user_id: &str,
    sealed: String,
) -> Result<bool, DbErr> {
    if enabled(db, user_id).await? {
        return Ok(false);
    }
    mfa::Entity::delete_many()
        .filter(mfa::Column::UserId.eq(user_id))
        .filter(mfa::Column::Enabled.eq(false))
        .exec(db)
        .await?;
    mfa::Entity::insert(mfa::ActiveModel {
        user_id: Set(user_id.to_owned()),
        secret: Set(sealed),
        enabled: Set(false),
        last_used_step: Set(0),
        created_at: Set(now()),
    })
    .exec_without_returning(db)
    .await?;
    Ok(true)
}

/// Claims TOTP step `step` for a user: accepted only if no step as late
/// has been accepted before. `confirm` claims it on an unconfirmed
/// enrolment and confirms it; otherwise the enrolment must be confirmed.
/// The conditional update is the linearization point: of two requests
/// with one code, exactly one sees the earlier step.
pub(crate) async fn claim_step<C: ConnectionTrait>(
    db: &C,
    user_id: &str,
    step: i64,
    confirm: bool,
) -> Result<bool, DbErr> {
    let mut update = mfa::Entity::update_many()
        .col_expr(mfa::Column::LastUsedStep, Expr::value(step))
        .filter(mfa::Column::UserId.eq(user_id))
        .filter(mfa::Column::LastUsedStep.lt(step))
        .filter(mfa::Column::Enabled.eq(!confirm));
    if confirm {
        update = update.col_expr(mfa::Column::Enabled, Expr::value(true));
    }
    Ok(update.exec(db).await?.rows_affected == 1)
}

/// Stores `resealed` in place of the ciphertext `sealed`, unless the row
/// changed meanwhile (a concurrent re-seal, a new enrolment): whether it
/// was replaced.
pub(crate) async fn reseal<C: ConnectionTrait>(
    db: &C,
    user_id: &str,
    sealed: &str,
    resealed: &str,
) -> Result<bool, DbErr> {
    let updated = mfa::Entity::update_many()
        .col_expr(mfa::Column::Secret, Expr::value(resealed))
        .filter(mfa::Column::UserId.eq(user_id))
        .filter(mfa::Column::Secret.eq(sealed))
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// One batch of enrolments, by user id after `after`, for a walk over all
/// of them (`rotate-mfa-key`).
pub(crate) async fn page<C: ConnectionTrait>(
    db: &C,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<mfa::Model>, DbErr> {
    use sea_orm::{QueryOrder, QuerySelect};
    let mut query = mfa::Entity::find()
        .order_by_asc(mfa::Column::UserId)
        .limit(limit);
    if let Some(after) = after {
        query = query.filter(mfa::Column::UserId.gt(after));
    }
    query.all(db).await
}

/// Removes a user's enrolment and recovery codes.
pub(crate) async fn disable<C: ConnectionTrait>(db: &C, user_id: &str) -> Result<(), DbErr> {
    mfa::Entity::delete_by_id(user_id.to_owned())
        .exec(db)
        .await?;
    recovery::Entity::delete_many()
        .filter(recovery::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Replaces a user's recovery codes with `hashes`.
pub(crate) async fn replace_recovery_codes<C: ConnectionTrait>(
    db: &C,
    user_id: &str,
    hashes: Vec<String>,
) -> Result<(), DbErr> {
    recovery::Entity::delete_many()
        .filter(recovery::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    let at = now();
    recovery::Entity::insert_many(hashes.into_iter().map(|hash| recovery::ActiveModel {
        code_hash: Set(hash),
        user_id: Set(user_id.to_owned()),
        created_at: Set(at),
    }))
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Uses up a recovery code stored as one of `hashes` (one per listed
/// key); whether it was there (exactly one of two concurrent uses is).
pub(crate) async fn use_recovery_code<C: ConnectionTrait>(
    db: &C,
    user_id: &str,
    hashes: &[String],
) -> Result<bool, DbErr> {
    let deleted = recovery::Entity::delete_many()
        .filter(recovery::Column::CodeHash.is_in(hashes.iter().cloned()))
        .filter(recovery::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected == 1)
}

/// How many unused recovery codes a user has.
pub(crate) async fn recovery_codes_left<C: ConnectionTrait>(
    db: &C,
    user_id: &str,
) -> Result<u64, DbErr> {
    recovery::Entity::find()
        .filter(recovery::Column::UserId.eq(user_id))
        .count(db)
        .await
}

/// What a login challenge will complete.
#[derive(Debug, Clone)]
pub(crate) struct NewChallenge {
    pub user_id: String,
    pub transport: &'static str,
    pub remember_me: bool,
    pub scope: String,
    pub password_epoch: String,
    pub ttl_secs: i64,
    pub pending_link: Option<String>,
}

/// Stores a challenge; returns the secret handed to the client.
pub(crate) async fn create_challenge<C: ConnectionTrait>(
    db: &C,
    new: NewChallenge,
) -> Result<String, DbErr> {
    let token = random_token();
    challenge::Entity::insert(challenge::ActiveModel {
        token_hash: Set(digest(&token)),
        user_id: Set(new.user_id),
        transport: Set(new.transport.to_owned()),
        remember_me: Set(new.remember_me),
        scope: Set(new.scope),
        password_epoch: Set(new.password_epoch),
        pending_link: Set(new.pending_link),
        attempts: Set(0),
        expires_at: Set(now() + new.ttl_secs),
    })
    .exec_without_returning(db)
    .await?;
    Ok(token)
}

/// The challenge a client presents, unless expired or out of attempts.
pub(crate) async fn live_challenge<C: ConnectionTrait>(
    db: &C,
    token: &str,
    max_attempts: i32,
) -> Result<Option<challenge::Model>, DbErr> {
    Ok(challenge::Entity::find_by_id(digest(token))
        .one(db)
        .await?
        .filter(|row| row.expires_at > now() && row.attempts < max_attempts))
}

/// Counts a wrong code against a challenge.
pub(crate) async fn challenge_failed<C: ConnectionTrait>(
    db: &C,
    token_hash: &str,
) -> Result<(), DbErr> {
    challenge::Entity::update_many()
        .col_expr(
            challenge::Column::Attempts,
            Expr::col(challenge::Column::Attempts).add(1),
        )
        .filter(challenge::Column::TokenHash.eq(token_hash))
        .exec(db)
        .await?;
    Ok(())
}

/// Uses up a live challenge; whether it was still live (exactly one of two
/// concurrent uses is).
pub(crate) async fn consume_challenge<C: ConnectionTrait>(
    db: &C,
    token_hash: &str,
    max_attempts: i32,
) -> Result<bool, DbErr> {
    let deleted = challenge::Entity::delete_many()
        .filter(challenge::Column::TokenHash.eq(token_hash))
        .filter(challenge::Column::Attempts.lt(max_attempts))
        .filter(challenge::Column::ExpiresAt.gt(now()))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected == 1)
}

/// Ends every outstanding challenge of a user (a claimed account's).
#[cfg(feature = "oidc")]
pub(crate) async fn drop_challenges<C: ConnectionTrait>(
    db: &C,
    user_id: &str,
) -> Result<(), DbErr> {
    challenge::Entity::delete_many()
        .filter(challenge::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}
