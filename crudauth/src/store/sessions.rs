//! Queries on `crudauth_sessions`.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait,
    QueryFilter, QueryOrder,
};

use super::entities::session::{self, Column, Entity};
use crate::tokens::{digest, now, random_token};

/// What a new session needs to know.
#[derive(Debug, Clone)]
pub(crate) struct NewSession {
    pub user_id: String,
    pub idle_secs: i64,
    pub lifetime_secs: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub password_epoch: String,
    /// Whether the login passed a second factor.
    pub mfa: bool,
    /// The most live sessions the user may hold, this one included: the
    /// oldest beyond it end.
    pub cap: Option<u32>,
}

/// A stored session: the secret token for the cookie (which is not
/// stored), and how many of the user's older sessions the cap ended.
pub(crate) struct Created {
    pub token: String,
    pub ended: u64,
}

/// Stores a new session in `txn`, ending the user's oldest beyond its cap.
pub(crate) async fn create(txn: &DatabaseTransaction, new: NewSession) -> Result<Created, DbErr> {
    if new.cap.is_some() {
        super::lock_user(txn, &new.user_id).await?;
    }
    let (user_id, cap) = (new.user_id.clone(), new.cap);
    let (row, token) = insert(txn, new).await?;
    let ended = match cap {
        Some(cap) => end_oldest(txn, &user_id, &row.id, cap).await?,
        None => 0,
    };
    Ok(Created { token, ended })
}

/// Ends the user's sessions past the newest `cap` (counting `newest`, which
/// stays); expired ones go first, as they count for nothing.
async fn end_oldest(
    txn: &DatabaseTransaction,
    user_id: &str,
    newest: &str,
    cap: u32,
) -> Result<u64, DbErr> {
    let at = now();
    let others = Entity::find()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::Id.ne(newest))
        .order_by_desc(Column::CreatedAt)
        .order_by_desc(Column::LastSeenAt)
        .all(txn)
        .await?;
    let (live, dead): (Vec<_>, Vec<_>) = others.into_iter().partition(|row| !is_expired(row, at));
    let keep = cap.saturating_sub(1) as usize;
    let ended: Vec<String> = live
        .into_iter()
        .skip(keep)
        .chain(dead)
        .map(|row| row.id)
        .collect();
    if ended.is_empty() {
        return Ok(0);
    }
    Ok(Entity::delete_many()
        .filter(Column::Id.is_in(ended))
        .exec(txn)
        .await?
        .rows_affected)
}

async fn insert<C: ConnectionTrait>(
    db: &C,
    new: NewSession,
) -> Result<(session::Model, String), DbErr> {
    let token = random_token();
    let at = now();
    let row = session::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        token_hash: Set(digest(&token)),
        user_id: Set(new.user_id),
        created_at: Set(at),
        last_seen_at: Set(at),
        idle_secs: Set(new.idle_secs),
        expires_at: Set(at + new.lifetime_secs),
        ip: Set(new.ip),
        user_agent: Set(new.user_agent),
        password_epoch: Set(new.password_epoch),
        mfa: Set(new.mfa),
        authenticated_at: Set(at),
    };
    let model = Entity::insert(row).exec_with_returning(db).await?;
    Ok((model, token))
}

/// The live session for a cookie token. Expired rows are deleted on sight.
pub(crate) async fn find_live<C: ConnectionTrait>(
    db: &C,
    token: &str,
) -> Result<Option<session::Model>, DbErr> {
    let Some(row) = Entity::find()
        .filter(Column::TokenHash.eq(digest(token)))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if is_expired(&row, now()) {
        delete(db, &row.id).await?;
        return Ok(None);
    }
    Ok(Some(row))
}

/// Whether a session is past its absolute or idle timeout at `at`.
pub(crate) fn is_expired(row: &session::Model, at: i64) -> bool {
    expired(row.expires_at, row.last_seen_at, row.idle_secs, at)
}

/// Whether a session ending at `expires_at`, last used at `last_seen_at`
/// with an idle timeout of `idle_secs`, is dead at `at`.
pub(crate) fn expired(expires_at: i64, last_seen_at: i64, idle_secs: i64, at: i64) -> bool {
    at >= expires_at || at - last_seen_at >= idle_secs
}

/// Deletes a session row by id.
pub(crate) async fn delete<C: ConnectionTrait>(db: &C, id: &str) -> Result<(), DbErr> {
    Entity::delete_by_id(id.to_owned()).exec(db).await?;
    Ok(())
}

/// Whether a use at `at` should slide the idle timeout: only when the last
/// write is older than a quarter of the idle timeout (at most once a
/// minute), so that steady traffic costs reads, not writes.
pub(crate) fn due_for_touch(last_seen_at: i64, idle_secs: i64, at: i64) -> bool {
    let every = (idle_secs / 4).clamp(0, 60);
    at - last_seen_at >= every.max(1)
}

/// Records a session's use at `at` (never moving it back).
pub(crate) async fn touch<C: ConnectionTrait>(db: &C, id: &str, at: i64) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::LastSeenAt, Expr::value(at))
        .filter(Column::Id.eq(id))
        .filter(Column::LastSeenAt.lt(at))
        .exec(db)
        .await?;
    Ok(())
}

/// Gives a session a new id and secret under `password_epoch`, keeping its
/// metadata, its second factor and its absolute end; returns the new row
/// and secret. With `proof` (the caller has just checked the current
/// password) the session counts as freshly authenticated; without it (a
/// first password set on a provider-made account) it keeps its last proof.
pub(crate) async fn rotate<C: ConnectionTrait>(
    db: &C,
    id: &str,
    password_epoch: &str,
    proof: bool,
) -> Result<Option<(session::Model, String)>, DbErr> {
    let Some(old) = Entity::find_by_id(id.to_owned()).one(db).await? else {
        return Ok(None);
    };
    let token = random_token();
    let at = now();
    let row = session::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        token_hash: Set(digest(&token)),
        user_id: Set(old.user_id),
        created_at: Set(at),
        last_seen_at: Set(at),
        idle_secs: Set(old.idle_secs),
        expires_at: Set(old.expires_at),
        ip: Set(old.ip),
        user_agent: Set(old.user_agent),
        password_epoch: Set(password_epoch.to_owned()),
        mfa: Set(old.mfa),
        authenticated_at: Set(if proof { at } else { old.authenticated_at }),
    };
    let model = Entity::insert(row).exec_with_returning(db).await?;
    delete(db, id).await?;
    Ok(Some((model, token)))
}

/// Records a new password or second-factor proof on a session (`/sudo`).
pub(crate) async fn reauthenticated<C: ConnectionTrait>(
    db: &C,
    id: &str,
    at: i64,
) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::AuthenticatedAt, Expr::value(at))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Moves a user's sessions from one password epoch to another (a rehash of
/// the same password).
pub(crate) async fn move_epoch<C: ConnectionTrait>(
    db: &C,
    user_id: &str,
    from: &str,
    to: &str,
) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::PasswordEpoch, Expr::value(to))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::PasswordEpoch.eq(from))
        .exec(db)
        .await?;
    Ok(())
}

/// Every live session of a user, newest first.
pub(crate) async fn list<C: ConnectionTrait>(
    db: &C,
    user_id: &str,
) -> Result<Vec<session::Model>, DbErr> {
    let at = now();
    let rows = Entity::find()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::ExpiresAt.gt(at))
        .order_by_desc(Column::CreatedAt)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter(|r| at - r.last_seen_at < r.idle_secs)
        .collect())
}

/// Deletes one session of a user; `false` when there was none (including
/// another user's id, which is indistinguishable from an unknown one).
pub(crate) async fn revoke<C: ConnectionTrait>(
    db: &C,
    user_id: &str,
    id: &str,
) -> Result<bool, DbErr> {
    let result = Entity::delete_many()
        .filter(Column::Id.eq(id))
        .filter(Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(result.rows_affected > 0)
}

/// Deletes every session of a user except `keep`; returns how many.
pub(crate) async fn revoke_all<C: ConnectionTrait>(
    db: &C,
    user_id: &str,
    keep: Option<&str>,
) -> Result<u64, DbErr> {
    let mut query = Entity::delete_many().filter(Column::UserId.eq(user_id));
    if let Some(keep) = keep {
        query = query.filter(Column::Id.ne(keep));
    }
    Ok(query.exec(db).await?.rows_affected)
}

/// Marks a credential as established with a second factor (a required
/// enrolment was just confirmed on it).
pub(crate) async fn set_mfa<C: ConnectionTrait>(db: &C, id: &str) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::Mfa, Expr::value(true))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
