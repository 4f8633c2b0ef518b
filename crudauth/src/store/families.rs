//! Queries on token families and refresh tokens: issue, rotate exactly once,
//! detect reuse, revoke.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};

use super::entities::{family, refresh_token as refresh};
use crate::tokens::{digest, now, random_token};

/// A live family as seen when a refresh token is presented.
#[derive(Debug, Clone)]
pub(crate) struct Rotated {
    pub family_id: String,
    pub user_id: String,
    pub scope: String,
    pub refresh_token: String,
}

/// The family of a presented refresh token, read before it is rotated.
#[derive(Debug, Clone)]
pub(crate) struct Owner {
    pub family_id: String,
    pub user_id: String,
    pub password_epoch: String,
}

/// Why a refresh token was refused.
#[derive(Debug)]
pub(crate) enum RotateError {
    /// Unknown token, dead family: nothing else happens.
    Invalid,
    /// An already-rotated token: its family has now been revoked.
    Reused,
    Db(DbErr),
}

impl From<DbErr> for RotateError {
    fn from(err: DbErr) -> Self {
        Self::Db(err)
    }
}

async fn insert_token<C: ConnectionTrait>(db: &C, family_id: &str) -> Result<String, DbErr> {
    let token = random_token();
    refresh::Entity::insert(refresh::ActiveModel {
        token_hash: Set(digest(&token)),
        family_id: Set(family_id.to_owned()),
        created_at: Set(now()),
        used_at: Set(None),
    })
    .exec_without_returning(db)
    .await?;
    Ok(token)
}

/// Starts a family (one bearer login, with a second factor when `mfa`),
/// revoking the user's oldest live ones past `cap` (this one included);
/// returns its id, its first refresh token and how many the cap ended.
pub(crate) async fn create(
    db: &DatabaseConnection,
    user_id: &str,
    scope: &str,
    ttl_secs: i64,
    password_epoch: &str,
    mfa: bool,
    cap: Option<u32>,
) -> Result<(String, String, u64), DbErr> {
    let id = uuid::Uuid::new_v4().to_string();
    let at = now();
    let txn = super::begin_write(db).await?;
    if cap.is_some() {
        super::lock_user(&txn, user_id).await?;
    }
    family::Entity::insert(family::ActiveModel {
        id: Set(id.clone()),
        user_id: Set(user_id.to_owned()),
        scope: Set(scope.to_owned()),
        created_at: Set(at),
        expires_at: Set(at + ttl_secs),
        revoked_at: Set(None),
        password_epoch: Set(password_epoch.to_owned()),
        mfa: Set(mfa),
        authenticated_at: Set(at),
    })
    .exec_without_returning(&txn)
    .await?;
    let token = insert_token(&txn, &id).await?;
    let ended = match cap {
        Some(cap) => revoke_oldest(&txn, user_id, &id, cap, at).await?,
        None => 0,
    };
    txn.commit().await?;
    Ok((id, token, ended))
}

/// Revokes the user's live families past the newest `cap`, counting
/// `newest`, which stays.
async fn revoke_oldest<C: ConnectionTrait>(
    txn: &C,
    user_id: &str,
    newest: &str,
    cap: u32,
    at: i64,
) -> Result<u64, DbErr> {
    let ended: Vec<String> = family::Entity::find()
        .filter(family::Column::UserId.eq(user_id))
        .filter(family::Column::Id.ne(newest))
        .filter(family::Column::RevokedAt.is_null())
        .filter(family::Column::ExpiresAt.gt(at))
        .order_by_desc(family::Column::CreatedAt)
        .all(txn)
        .await?
        .into_iter()
        .skip(cap.saturating_sub(1) as usize)
        .map(|row| row.id)
        .collect();
    if ended.is_empty() {
        return Ok(0);
    }
    Ok(family::Entity::update_many()
        .col_expr(family::Column::RevokedAt, Expr::value(at))
        .filter(family::Column::Id.is_in(ended))
        .exec(txn)
        .await?
        .rows_affected)
}

/// Exchanges a refresh token for its successor, narrowing the family's
/// scopes to `allowed` (the user's current ones). The conditional update is
/// the linearization point: of two concurrent presentations exactly one sees
/// `used_at IS NULL`; the other counts as reuse.
pub(crate) async fn rotate(
    db: &DatabaseConnection,
    token: &str,
    allowed: &[String],
) -> Result<Rotated, RotateError> {
    let hash = digest(token);
    let Some(row) = refresh::Entity::find_by_id(hash.clone()).one(db).await? else {
        return Err(RotateError::Invalid);
    };
    let at = now();
    let txn = super::begin_write(db).await?;
    let claimed = refresh::Entity::update_many()
        .col_expr(refresh::Column::UsedAt, Expr::value(at))
        .filter(refresh::Column::TokenHash.eq(hash))
        .filter(refresh::Column::UsedAt.is_null())
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        txn.rollback().await?;
        revoke(db, &row.family_id).await?;
        return Err(RotateError::Reused);
    }
    let family = family::Entity::find_by_id(row.family_id.clone())
        .one(&txn)
        .await?;
    let Some(family) = family.filter(|f| f.revoked_at.is_none() && f.expires_at > at) else {
        txn.rollback().await?;
        return Err(RotateError::Invalid);
    };
    let scope = narrow_scope(&family.scope, allowed);
    if scope != family.scope {
        family::Entity::update_many()
            .col_expr(family::Column::Scope, Expr::value(scope.clone()))
            .filter(family::Column::Id.eq(family.id.clone()))
            .exec(&txn)
            .await?;
    }
    let refresh_token = insert_token(&txn, &family.id).await?;
    txn.commit().await?;
    Ok(Rotated {
        family_id: family.id,
        user_id: family.user_id,
        scope,
        refresh_token,
    })
}

/// The live family a refresh token belongs to, without rotating it.
pub(crate) async fn family_of<C: ConnectionTrait>(
    db: &C,
    token: &str,
) -> Result<Option<String>, DbErr> {
    Ok(refresh::Entity::find_by_id(digest(token))
        .one(db)
        .await?
        .map(|r| r.family_id))
}

/// The scopes of `granted` (space-separated) that are among `allowed`.
pub(crate) fn narrow_scope(granted: &str, allowed: &[String]) -> String {
    granted
        .split_whitespace()
        .filter(|s| allowed.iter().any(|a| a == s))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The family and user a refresh token belongs to, without rotating it.
pub(crate) async fn owner_of<C: ConnectionTrait>(
    db: &C,
    token: &str,
) -> Result<Option<Owner>, DbErr> {
    let family_of_token = refresh::Entity::find()
        .select_only()
        .column(refresh::Column::FamilyId)
        .filter(refresh::Column::TokenHash.eq(digest(token)))
        .into_query();
    Ok(family::Entity::find()
        .filter(family::Column::Id.in_subquery(family_of_token))
        .one(db)
        .await?
        .map(|f| Owner {
            family_id: f.id,
            user_id: f.user_id,
            password_epoch: f.password_epoch,
        }))
}

/// Records a new password or second-factor proof on a family (`/sudo`).
pub(crate) async fn reauthenticated<C: ConnectionTrait>(
    db: &C,
    family_id: &str,
    at: i64,
) -> Result<(), DbErr> {
    family::Entity::update_many()
        .col_expr(family::Column::AuthenticatedAt, Expr::value(at))
        .filter(family::Column::Id.eq(family_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Revokes one family: its refresh tokens and its access tokens (by `sid`).
pub(crate) async fn revoke<C: ConnectionTrait>(db: &C, family_id: &str) -> Result<(), DbErr> {
    family::Entity::update_many()
        .col_expr(family::Column::RevokedAt, Expr::value(now()))
        .filter(family::Column::Id.eq(family_id))
        .filter(family::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Revokes every live family of a user except `keep`; returns how many.
pub(crate) async fn revoke_user_except<C: ConnectionTrait>(
    db: &C,
    user_id: &str,
    keep: Option<&str>,
) -> Result<u64, DbErr> {
    let mut query = family::Entity::update_many()
        .col_expr(family::Column::RevokedAt, Expr::value(now()))
        .filter(family::Column::UserId.eq(user_id))
        .filter(family::Column::RevokedAt.is_null())
        .filter(family::Column::ExpiresAt.gt(now()));
    if let Some(keep) = keep {
        query = query.filter(family::Column::Id.ne(keep));
    }
    Ok(query.exec(db).await?.rows_affected)
}

/// Revokes every family of a user.
pub(crate) async fn revoke_user<C: ConnectionTrait>(db: &C, user_id: &str) -> Result<u64, DbErr> {
    revoke_user_except(db, user_id, None).await
}

/// Moves a user's families from one password epoch to another (a rehash of
/// the same password).
pub(crate) async fn move_epoch<C: ConnectionTrait>(
    db: &C,
    user_id: &str,
    from: &str,
    to: &str,
) -> Result<(), DbErr> {
    family::Entity::update_many()
        .col_expr(family::Column::PasswordEpoch, Expr::value(to))
        .filter(family::Column::UserId.eq(user_id))
        .filter(family::Column::PasswordEpoch.eq(from))
        .exec(db)
        .await?;
    Ok(())
}

/// Marks a credential as established with a second factor (a required
/// enrolment was just confirmed on it).
pub(crate) async fn set_mfa<C: ConnectionTrait>(db: &C, id: &str) -> Result<(), DbErr> {
    family::Entity::update_many()
        .col_expr(family::Column::Mfa, Expr::value(true))
        .filter(family::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
