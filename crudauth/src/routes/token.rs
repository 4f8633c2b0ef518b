//! `/token`, `/refresh`, `/revoke`.

use axum::Json;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::{ok_empty, respond};
use crate::auth::{AuthEvent, CrudAuth};
use crate::error::AuthError;
use crate::store::families::{self, RotateError};
use crate::{body, lockout, tokens};

#[derive(Deserialize)]
struct TokenRequest {
    username: String,
    password: String,
    scope: Option<String>,
}

#[derive(Deserialize)]
struct RefreshRequest {
    refresh_token: String,
}

/// Grants the requested scopes the user may have; no request means all of
/// them.
fn clamp_scopes(requested: Option<&str>, allowed: &[String]) -> String {
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

fn grant(
    auth: &CrudAuth,
    sub: &str,
    family: &str,
    scope: &str,
    refresh_token: String,
) -> Result<Response, AuthError> {
    let ttl = auth.config().access_ttl.as_secs() as i64;
    let access_token = auth.jwt().issue(sub, family, scope, ttl)?;
    Ok(Json(json!({
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": ttl,
        "refresh_token": refresh_token,
        "scope": scope,
    }))
    .into_response())
}

pub(super) async fn token(State(auth): State<CrudAuth>, request: Request) -> Response {
    let result = async {
        let (mut parts, body) = request.into_parts();
        let form: TokenRequest = body::read(&mut parts, body).await?;
        let ip = lockout::client_ip(&parts, auth.config().trusted_proxy_hops);
        let user = lockout::guarded_login(&auth, ip, &form.username, form.password).await?;
        let scope = clamp_scopes(form.scope.as_deref(), &user.scopes);
        let sub = user.id.to_string();
        let ttl = auth.config().refresh_ttl.as_secs() as i64;
        let (family, refresh_token) = families::create(auth.db(), &sub, &scope, ttl).await?;
        auth.emit(AuthEvent::LoggedIn(
            user.id.clone(),
            crate::BearerTransport::NAME,
        ));
        grant(&auth, &sub, &family, &scope, refresh_token)
    }
    .await;
    respond(&auth, result)
}

pub(super) async fn refresh(State(auth): State<CrudAuth>, request: Request) -> Response {
    let result = async {
        let (mut parts, body) = request.into_parts();
        let form: RefreshRequest = body::read(&mut parts, body).await?;
        if !tokens::well_formed(&form.refresh_token) {
            return Err(AuthError::InvalidToken("malformed refresh token"));
        }
        // The owner is checked before the rotation commits: nothing after
        // the commit may fail, or the client would be left without the
        // successor of a token it can no longer present.
        if let Some((family, owner)) = families::owner_of(auth.db(), &form.refresh_token).await?
            && auth.user_by_stored_id(&owner).await?.is_none()
        {
            // A user deactivated since the login gets no new tokens.
            families::revoke(auth.db(), &family).await?;
            return Err(AuthError::InvalidToken("user no longer active"));
        }
        let rotated = match families::rotate(auth.db(), &form.refresh_token).await {
            Ok(rotated) => rotated,
            Err(RotateError::Invalid) => {
                return Err(AuthError::InvalidToken("unknown or expired refresh token"));
            }
            Err(RotateError::Reused) => {
                tracing::warn!("crudauth: refresh token reuse detected; token family revoked");
                return Err(AuthError::InvalidToken(
                    "refresh token reused; all tokens of this login are revoked",
                ));
            }
            Err(RotateError::Db(err)) => return Err(err.into()),
        };
        grant(
            &auth,
            &rotated.user_id,
            &rotated.family_id,
            &rotated.scope,
            rotated.refresh_token,
        )
    }
    .await;
    respond(&auth, result)
}

pub(super) async fn revoke(State(auth): State<CrudAuth>, request: Request) -> Response {
    let result = async {
        let (mut parts, body) = request.into_parts();
        let form: RefreshRequest = body::read(&mut parts, body).await?;
        // RFC 7009: an unknown token is answered like a known one.
        if tokens::well_formed(&form.refresh_token)
            && let Some(family) = families::family_of(auth.db(), &form.refresh_token).await?
        {
            families::revoke(auth.db(), &family).await?;
        }
        Ok(ok_empty())
    }
    .await;
    respond(&auth, result)
}
