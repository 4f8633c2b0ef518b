//! Deleting the rows no request can use any more, so that no crudauth table
//! grows without bound.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect, QueryTrait,
};

use super::entities::{attempt, family, mfa_challenge, refresh_token, session};
use crate::tokens::now;

/// How many rows a purge deleted, per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Purged {
    pub sessions: u64,
    pub families: u64,
    pub refresh_tokens: u64,
    pub attempts: u64,
    pub one_time_tokens: u64,
    pub challenges: u64,
}

/// Deletes expired sessions, ended families with their refresh tokens, and
/// attempt counters idle for longer than `counter_window_secs` and unlocked,
/// and dead login challenges.
pub(crate) async fn purge<C: ConnectionTrait>(
    db: &C,
    counter_window_secs: i64,
) -> Result<Purged, DbErr> {
    let at = now();
    let sessions = session::Entity::delete_many()
        .filter(
            Expr::col(session::Column::ExpiresAt).lte(at).or(Expr::col(
                session::Column::LastSeenAt,
            )
            .add(Expr::col(session::Column::IdleSecs))
            .lte(at)),
        )
        .exec(db)
        .await?
        .rows_affected;
    // A revoked or expired family refuses its tokens whether its row exists
    // or not, so the row can go.
    let families = family::Entity::delete_many()
        .filter(
            family::Column::ExpiresAt
                .lte(at)
                .or(family::Column::RevokedAt.is_not_null()),
        )
        .exec(db)
        .await?
        .rows_affected;
    let live_families = family::Entity::find()
        .select_only()
        .column(family::Column::Id)
        .into_query();
    let refresh_tokens = refresh_token::Entity::delete_many()
        .filter(refresh_token::Column::FamilyId.not_in_subquery(live_families))
        .exec(db)
        .await?
        .rows_affected;
    let attempts = attempt::Entity::delete_many()
        .filter(attempt::Column::WindowStart.lte(at - counter_window_secs))
        .filter(attempt::Column::LockedUntil.lte(at))
        .exec(db)
        .await?
        .rows_affected;
    let one_time_tokens = super::one_time::purge(db).await?;
    // A challenge out of attempts is refused like an expired one.
    let challenges = mfa_challenge::Entity::delete_many()
        .filter(
            mfa_challenge::Column::ExpiresAt
                .lte(at)
                .or(mfa_challenge::Column::Attempts.gte(crate::mfa::MAX_CODE_ATTEMPTS)),
        )
        .exec(db)
        .await?
        .rows_affected;
    Ok(Purged {
        one_time_tokens,
        sessions,
        families,
        refresh_tokens,
        attempts,
        challenges,
    })
}
