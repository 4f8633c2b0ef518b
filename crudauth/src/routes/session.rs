//! `/login`, `/logout`, `/sessions`, `DELETE /sessions/{id}`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::sign_in::{self, Pending};
use super::{Empty, emit, ok_empty, with_cookies};
use crate::error::AuthError;
use crate::events::AuthEvent;
use crate::extract::{Body, Client, Current, SessionOnly, Submitted};
use crate::principal::LoadedUser;
use crate::state::CrudAuth;
use crate::store::sessions::{self, NewSession};
use crate::transport::session::SessionTransport;
use crate::{audit, body, cookies, csrf, lockout, revocation, tokens};

#[derive(Deserialize)]
pub(super) struct Login {
    username: String,
    password: String,
    #[serde(default, deserialize_with = "body::flexible_bool")]
    remember_me: bool,
}

pub(super) async fn login(
    State(auth): State<CrudAuth>,
    client: Client,
    parts: Parts,
    Body(form): Body<Login>,
) -> Result<Response, AuthError> {
    let config = &auth.inner.config;
    // A login form posted from another site would log the victim into the
    // attacker's account (login CSRF).
    csrf::check_origin(&parts, config)?;
    let user = lockout::guarded_login(&auth, client.ip, &form.username, form.password).await?;
    let pending = Pending::Session {
        remember_me: form.remember_me,
    };
    if let Some(challenge) = sign_in::challenge(&auth, &user, pending, client.ip).await? {
        return Ok(challenge);
    }
    start(&auth, &user, client, &parts, form.remember_me, false).await
}

/// Signs `user` in with a new session (established with a second factor
/// when `mfa`): the cookies and `{user_id, csrf_token}`.
pub(super) async fn start(
    auth: &CrudAuth,
    user: &LoadedUser,
    client: Client,
    parts: &Parts,
    remember_me: bool,
    mfa: bool,
) -> Result<Response, AuthError> {
    let brought = cookies::find(&parts.headers, &auth.inner.config.cookies.session_name());
    let opened = open(auth, user, client, brought, remember_me, mfa).await?;
    let body = json!({ "user_id": user.id, "csrf_token": opened.csrf_token });
    Ok(with_cookies(Json(body).into_response(), opened.cookies))
}

/// A session just opened: its CSRF token and the two cookies that carry
/// it.
pub(super) struct Opened {
    pub csrf_token: String,
    pub cookies: [String; 2],
}

/// Opens a new session for `user` (established with a second factor when
/// `mfa`). The session the client `brought` (its cookie's value) is ended,
/// never adopted: a fresh id is issued. Both in one transaction, so that a
/// sign-in failing midway leaves the old session as it was.
pub(super) async fn open(
    auth: &CrudAuth,
    user: &LoadedUser,
    client: Client,
    brought: Option<String>,
    remember_me: bool,
    mfa: bool,
) -> Result<Opened, AuthError> {
    let config = &auth.inner.config;
    let txn = crate::store::begin_write(&auth.inner.db).await?;
    let mut ended = None;
    if let Some(old) = brought
        && tokens::well_formed(&old)
        && let Some(row) = sessions::find_live(&txn, &old).await?
    {
        sessions::revoke(&txn, &row.user_id, &row.id).await?;
        ended = Some(row.user_id);
    }
    let (idle, lifetime) = if remember_me {
        (config.remember_me, config.remember_me)
    } else {
        (config.session_idle, config.session_absolute)
    };
    let created = sessions::create(
        &txn,
        NewSession {
            user_id: user.id.to_string(),
            idle_secs: idle.as_secs() as i64,
            lifetime_secs: lifetime.as_secs() as i64,
            ip: client.ip.map(|ip| ip.to_string()),
            user_agent: client.user_agent,
            password_epoch: tokens::password_epoch(&user.password_hash),
            mfa,
            cap: config.max_sessions_per_user,
        },
    )
    .await?;
    txn.commit().await?;
    let token = created.token;
    for _ in 0..created.ended {
        audit::session_revoked(&user.id, "session_cap");
    }
    if let Some(owner) = ended {
        revocation::user(auth, &owner).await;
    }
    if created.ended > 0 {
        revocation::user(auth, &user.id.to_string()).await;
    }
    let csrf_token = csrf::token_for(&auth.inner.secret, &token);
    let max_age = remember_me.then_some(lifetime.as_secs() as i64);
    audit::login_succeeded(&user.id, client.ip, SessionTransport::NAME);
    emit(
        auth,
        AuthEvent::LoggedIn {
            user_id: user.id.clone(),
            transport: SessionTransport::NAME,
        },
    );
    let cookies = config.cookies.issue(&token, &csrf_token, max_age);
    Ok(Opened {
        csrf_token,
        cookies,
    })
}

pub(super) async fn logout(
    State(auth): State<CrudAuth>,
    form: Submitted<Empty, SessionOnly>,
) -> Result<Response, AuthError> {
    if let Some(principal) = form.principal
        && let Some(id) = principal.session_id.as_deref()
    {
        let owner = principal.user_id.to_string();
        sessions::revoke(&auth.inner.db, &owner, id).await?;
        revocation::user(&auth, &owner).await;
        audit::logout(&principal.user_id);
        emit(
            &auth,
            AuthEvent::LoggedOut {
                user_id: principal.user_id.clone(),
            },
        );
    }
    Ok(with_cookies(ok_empty(), auth.inner.config.cookies.clear()))
}

pub(super) async fn list(
    State(auth): State<CrudAuth>,
    Current(principal, ..): Current<SessionOnly>,
) -> Result<Response, AuthError> {
    let rows = sessions::list(&auth.inner.db, &principal.user_id.to_string()).await?;
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

pub(super) fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub(super) async fn revoke(
    State(auth): State<CrudAuth>,
    Path(id): Path<String>,
    form: Submitted<Empty, SessionOnly>,
) -> Result<Response, AuthError> {
    let (principal, _) = form.signed_in()?;
    // Session ids are uuids; anything else (even text the database cannot
    // hold, such as a NUL) names no session.
    let owner = principal.user_id.to_string();
    if uuid::Uuid::parse_str(&id).is_ok() && sessions::revoke(&auth.inner.db, &owner, &id).await? {
        revocation::user(&auth, &owner).await;
        audit::session_revoked(&principal.user_id, "user");
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(AuthError::NotFound)
    }
}
