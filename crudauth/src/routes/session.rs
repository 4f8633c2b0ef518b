//! `/login`, `/logout`, `/sessions`, `DELETE /sessions/{id}`.

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::header::{SET_COOKIE, USER_AGENT};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::{ok_empty, respond};
use crate::auth::{AuthEvent, CrudAuth};
use crate::error::AuthError;
use crate::store::sessions::{self, NewSession};
use crate::{body, cookies, csrf, lockout, tokens};

pub(super) fn with_cookies(mut response: Response, cookies: [String; 2]) -> Response {
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(SET_COOKIE, value);
        }
    }
    response
}

#[derive(Deserialize)]
struct Login {
    username: String,
    password: String,
    #[serde(default, deserialize_with = "body::flexible_bool")]
    remember_me: bool,
}

fn user_agent(parts: &Parts) -> Option<String> {
    let ua = parts.headers.get(USER_AGENT)?.to_str().ok()?;
    Some(ua.chars().take(256).collect())
}

pub(super) async fn login(State(auth): State<CrudAuth>, request: Request) -> Response {
    let result = async {
        let (mut parts, body) = request.into_parts();
        // A login form posted from another site would log the victim into
        // the attacker's account (login CSRF).
        csrf::check_origin(&parts.headers, &auth.config().trusted_origins)?;
        let form: Login = body::read(&mut parts, body).await?;
        let ip = lockout::client_ip(&parts, auth.config().trusted_proxy_hops);
        let user = lockout::guarded_login(&auth, ip, &form.username, form.password).await?;
        let config = auth.config();
        // Never adopt a session id the client brought: whatever it names is
        // ended, and a fresh id is issued. Both in one transaction, so that
        // a login failing midway leaves the old session as it was.
        let txn = crate::store::begin_write(auth.db()).await?;
        if let Some(old) = cookies::find(&parts.headers, &config.cookies.session_name())
            && tokens::well_formed(&old)
            && let Some(row) = sessions::find_live(&txn, &old).await?
        {
            sessions::revoke(&txn, &row.user_id, &row.id).await?;
        }
        let (idle, lifetime) = if form.remember_me {
            (config.remember_me, config.remember_me)
        } else {
            (config.session_idle, config.session_absolute)
        };
        let (_, token) = sessions::create(
            &txn,
            NewSession {
                user_id: user.id.to_string(),
                idle_secs: idle.as_secs() as i64,
                lifetime_secs: lifetime.as_secs() as i64,
                ip: ip.map(|ip| ip.to_string()),
                user_agent: user_agent(&parts),
            },
        )
        .await?;
        txn.commit().await?;
        let csrf_token = csrf::token_for(auth.secret(), &token);
        let max_age = form.remember_me.then_some(lifetime.as_secs() as i64);
        auth.emit(AuthEvent::LoggedIn(
            user.id.clone(),
            crate::SessionTransport::NAME,
        ));
        let body = Json(json!({ "user_id": user.id, "csrf_token": csrf_token })).into_response();
        Ok(with_cookies(
            body,
            config.cookies.issue(&token, &csrf_token, max_age),
        ))
    }
    .await;
    respond(&auth, result)
}

#[derive(Deserialize)]
struct Empty {}

pub(super) async fn logout(State(auth): State<CrudAuth>, request: Request) -> Response {
    let result = async {
        let (mut parts, body) = request.into_parts();
        let _: Empty = body::read(&mut parts, body).await?;
        let principal = crate::transport::resolve(&mut parts, &auth, auth.session_only()).await?;
        if let Some(principal) = principal
            && let Some(id) = principal.session_id.as_deref()
        {
            sessions::revoke(auth.db(), &principal.user_id.to_string(), id).await?;
            auth.emit(AuthEvent::LoggedOut(principal.user_id.clone()));
        }
        Ok(with_cookies(ok_empty(), auth.config().cookies.clear()))
    }
    .await;
    respond(&auth, result)
}

pub(super) async fn list(State(auth): State<CrudAuth>, request: Request) -> Response {
    let result = async {
        let (mut parts, _) = request.into_parts();
        let principal = auth.require(&mut parts, auth.session_only()).await?;
        let rows = sessions::list(auth.db(), &principal.user_id.to_string()).await?;
        let current = principal.session_id.as_deref();
        let listed: Vec<_> = rows
            .into_iter()
            .map(|row| {
                json!({
                    "id": row.id,
                    "created_at": rfc3339(row.created_at),
                    "last_seen_at": rfc3339(row.last_seen_at),
                    "ip": row.ip,
                    "user_agent": row.user_agent,
                    "current": Some(row.id.as_str()) == current,
                })
            })
            .collect();
        Ok(Json(listed).into_response())
    }
    .await;
    respond(&auth, result)
}

fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub(super) async fn revoke(
    State(auth): State<CrudAuth>,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    let result = async {
        let (mut parts, body) = request.into_parts();
        let _: Empty = body::read(&mut parts, body).await?;
        let principal = auth.require(&mut parts, auth.session_only()).await?;
        // Session ids are uuids; anything else (even text the database
        // cannot hold, such as a NUL) names no session.
        if uuid::Uuid::parse_str(&id).is_ok()
            && sessions::revoke(auth.db(), &principal.user_id.to_string(), &id).await?
        {
            Ok(StatusCode::NO_CONTENT.into_response())
        } else {
            Err(AuthError::NotFound)
        }
    }
    .await;
    respond(&auth, result)
}
