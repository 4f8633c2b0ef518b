//! Queries on token families and refresh tokens: issue, rotate exactly once,
//! detect reuse, revoke.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QuerySelect, QueryTrait,
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

/// Starts a family (one bearer login); returns its id and first refresh token.
pub(crate) async fn create(
    db: &DatabaseConnection,
    user_id: &str,
    scope: &str,
    ttl_secs: i64,
) -> Result<(String, String), DbErr> {
    let id = uuid::Uuid::new_v4().to_string();
    let at = now();
    let txn = super::begin_write(db).await?;
    family::Entity::insert(family::ActiveModel {
        id: Set(id.clone()),
        user_id: Set(user_id.to_owned()),
        scope: Set(scope.to_owned()),
        created_at: Set(at),
        expires_at: Set(at + ttl_secs),
        revoked_at: Set(None),
    })
    .exec_without_returning(&txn)
    .await?;
    let token = insert_token(&txn, &id).await?;
    txn.commit().await?;
    Ok((id, token))
}

/// Exchanges a refresh token for its successor. The conditional update is
/// the linearization point: of two concurrent presentations exactly one sees
/// `used_at IS NULL`; the other counts as reuse.
pub(crate) async fn rotate(db: &DatabaseConnection, token: &str) -> Result<Rotated, RotateError> {
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
    let refresh_token = insert_token(&txn, &family.id).await?;
    txn.commit().await?;
    Ok(Rotated {
        family_id: family.id,
        user_id: family.user_id,
        scope: family.scope,
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

/// The family and user a refresh token belongs to, without rotating it.
pub(crate) async fn owner_of<C: ConnectionTrait>(
    db: &C,
    token: &str,
) -> Result<Option<(String, String)>, DbErr> {
    let family_of_token = refresh::Entity::find()
        .select_only()
        .column(refresh::Column::FamilyId)
        .filter(refresh::Column::TokenHash.eq(digest(token)))
        .into_query();
    Ok(family::Entity::find()
        .filter(family::Column::Id.in_subquery(family_of_token))
        .one(db)
        .await?
        .map(|f| (f.id, f.user_id)))
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
