//! `/token`, `/refresh`, `/revoke`.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::sign_in::{self, Pending};
use super::{emit, ok_empty};
use crate::error::AuthError;
use crate::events::AuthEvent;
use crate::extract::{Body, Client};
use crate::principal::LoadedUser;
use crate::state::CrudAuth;
use crate::store::families::{self, RotateError};
use crate::transport::bearer::BearerTransport;
use crate::{audit, lockout, revocation, store, tokens};

#[derive(Deserialize)]
pub(super) struct TokenRequest {
    username: String,
    password: String,
    scope: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct RefreshRequest {
    refresh_token: String,
}

/// Grants the requested scopes the user may have; no request means all of
/// them.
pub(super) fn clamp_scopes(requested: Option<&str>, allowed: &[String]) -> String {
    let granted: Vec<&str> = match requested {
        None => allowed.iter().map(String::as_str).collect(),
        Some(requested) => {
            let mut wanted: Vec<&str> = requested
                .split_whitespace()
                .filter(|s| allowed.iter().any(|a| a == s))
                .collect();
            wanted.sort_unstable();
            wanted.dedup();
            wanted
        }
    };
    granted.join(" ")
}

/// An access token and the refresh token of its family, as `/token` and
/// `/refresh` answer them and [`CrudAuth::issue_tokens`] returns them.
#[derive(Debug, Clone, serde::Serialize)]
#[non_exhaustive]
pub struct TokenPair {
    /// The JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// The single-use refresh token (`POST /refresh`).
    pub refresh_token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The granted scopes, space-separated.
    pub scope: String,
}

fn grant(
    auth: &CrudAuth,
    sub: &str,
    family: &str,
    scope: &str,
    refresh_token: String,
) -> Result<TokenPair, AuthError> {
    let ttl = auth.inner.config.access_ttl.as_secs() as i64;
    let access_token = auth.inner.jwt.issue(sub, family, scope, ttl)?;
    Ok(TokenPair {
        access_token,
        refresh_token,
        token_type: "bearer",
        expires_in: ttl,
        scope: scope.to_owned(),
    })
}

pub(super) async fn token(
    State(auth): State<CrudAuth>,
    client: Client,
    Body(form): Body<TokenRequest>,
) -> Result<Response, AuthError> {
    let user = lockout::guarded_login(&auth, client.ip, &form.username, form.password).await?;
    let scope = clamp_scopes(form.scope.as_deref(), &user.scopes);
    let pending = Pending::Token {
        scope: scope.clone(),
    };
    if let Some(challenge) = sign_in::challenge(&auth, &user, pending, client.ip).await? {
        return Ok(challenge);
    }
    start(&auth, &user, &scope, false, client.ip).await
}

/// Signs `user` in with a new token family granted `scope` (established
/// with a second factor when `mfa`): the token pair.
pub(super) async fn start(
    auth: &CrudAuth,
    user: &LoadedUser,
    scope: &str,
    mfa: bool,
    ip: Option<std::net::IpAddr>,
) -> Result<Response, AuthError> {
    Ok(Json(issue(auth, user, scope, mfa, ip).await?).into_response())
}

/// The token pair of a new family for `user`, granted `scope`.
pub(super) async fn issue(
    auth: &CrudAuth,
    user: &LoadedUser,
    scope: &str,
    mfa: bool,
    ip: Option<std::net::IpAddr>,
) -> Result<TokenPair, AuthError> {
    let sub = user.id.to_string();
    let ttl = auth.inner.config.refresh_ttl.as_secs() as i64;
    let epoch = tokens::password_epoch(&user.password_hash);
    let cap = auth.inner.config.max_token_families_per_user;
    let (family, refresh_token, ended) =
        families::create(&auth.inner.db, &sub, scope, ttl, &epoch, mfa, cap).await?;
    if ended > 0 {
        for _ in 0..ended {
            audit::token_revoked("family_cap");
        }
        revocation::user(auth, &sub).await;
    }
    audit::login_succeeded(&user.id, ip, BearerTransport::NAME);
    audit::token_issued(&sub, "login");
    emit(
        auth,
        AuthEvent::LoggedIn {
            user_id: user.id.clone(),
            transport: BearerTransport::NAME,
        },
    );
    grant(auth, &sub, &family, scope, refresh_token)
}

pub(super) async fn refresh(
    State(auth): State<CrudAuth>,
    Body(form): Body<RefreshRequest>,
) -> Result<Response, AuthError> {
    let db = &auth.inner.db;
    if !tokens::well_formed(&form.refresh_token) {
        return Err(AuthError::InvalidToken("malformed refresh token"));
    }
    // The owner is checked before the rotation commits: nothing after the
    // commit may fail, or the client would be left without the successor of
    // a token it can no longer present.
    let owner = store::retrying(db, || families::owner_of(db, &form.refresh_token)).await?;
    let Some(owner) = owner else {
        return Err(AuthError::InvalidToken("unknown or expired refresh token"));
    };
    let user = active_user(&auth, &owner.user_id).await?;
    let Some(user) =
        user.filter(|u| tokens::password_epoch(&u.password_hash) == owner.password_epoch)
    else {
        // A user deactivated, or whose password changed, since the login
        // gets no new tokens.
        families::revoke(db, &owner.family_id).await?;
        revocation::family(&auth, &owner.family_id).await;
        return Err(AuthError::InvalidToken("this login has ended"));
    };
    let rotated = match families::rotate(db, &form.refresh_token, &user.scopes).await {
        Ok(rotated) => rotated,
        Err(RotateError::Invalid) => {
            return Err(AuthError::InvalidToken("unknown or expired refresh token"));
        }
        Err(RotateError::Reused) => {
            revocation::family(&auth, &owner.family_id).await;
            audit::token_reuse_detected(&owner.user_id);
            return Err(AuthError::InvalidToken(
                "refresh token reused; all tokens of this login are revoked",
            ));
        }
        Err(RotateError::Db(err)) => return Err(err.into()),
    };
    audit::token_issued(&rotated.user_id, "refresh");
    let pair = grant(
        &auth,
        &rotated.user_id,
        &rotated.family_id,
        &rotated.scope,
        rotated.refresh_token,
    )?;
    Ok(Json(pair).into_response())
}

/// The active user of a key stored in crudauth's tables.
async fn active_user(auth: &CrudAuth, stored_id: &str) -> Result<Option<LoadedUser>, AuthError> {
    let users = &auth.inner.users;
    let Some(id) = users.parse_id(stored_id) else {
        return Ok(None);
    };
    let user = users.by_id(&auth.inner.db, &id).await?;
    Ok(user.filter(|u| u.is_active))
}

pub(super) async fn revoke(
    State(auth): State<CrudAuth>,
    Body(form): Body<RefreshRequest>,
) -> Result<Response, AuthError> {
    let db = &auth.inner.db;
    // RFC 7009: an unknown token is answered like a known one.
    if tokens::well_formed(&form.refresh_token)
        && let Some(family) = families::family_of(db, &form.refresh_token).await?
    {
        families::revoke(db, &family).await?;
        revocation::family(&auth, &family).await;
        audit::token_revoked("client");
    }
    Ok(ok_empty())
}
