//! `/register`, `/me`, `/change-password`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::{emit, ok_empty, with_cookies};
use crate::credentials::validate_email;
use crate::error::AuthError;
use crate::events::AuthEvent;
use crate::extract::{AnyTransport, Body, Client, Submitted};
use crate::password::policy::PasswordContext;
use crate::principal::{LoadedUser, Principal};
use crate::state::CrudAuth;
use crate::store::users::CreateError;
use crate::store::{self, families, sessions};
use crate::tokens::password_epoch;
use crate::{audit, csrf, lockout, revocation};

pub(super) fn validate_username(username: &str) -> Result<String, AuthError> {
    let username = username.trim();
    if username.is_empty()
        || username.chars().count() > 64
        || username.contains('@')
        || username.chars().any(char::is_control)
    {
        return Err(AuthError::Invalid(
            "username: 1 to 64 characters, without '@'".into(),
        ));
    }
    Ok(username.to_owned())
}

#[derive(Deserialize)]
pub(super) struct Register {
    email: Option<String>,
    username: Option<String>,
    password: String,
    /// The rest of the body: the allowlisted columns are read from it.
    #[serde(flatten)]
    fields: serde_json::Map<String, serde_json::Value>,
}

pub(super) async fn register(
    State(auth): State<CrudAuth>,
    client: Client,
    Body(form): Body<Register>,
) -> Result<Response, AuthError> {
    let users = &auth.inner.users;
    let db = &auth.inner.db;
    let email = match form.email.as_deref() {
        Some(email) => Some(validate_email(email)?),
        None if users.has_email() => return Err(AuthError::Invalid("email: required".into())),
        None => None,
    };
    let username = match form.username.as_deref().filter(|u| !u.trim().is_empty()) {
        Some(username) => Some(validate_username(username)?),
        None if !users.has_email() => {
            return Err(AuthError::Invalid("username: required".into()));
        }
        None => None,
    };
    let fields = users
        .register_values(&form.fields)
        .map_err(|err| AuthError::Invalid(err.to_string()))?;
    auth.inner.password_policy.check(
        "password",
        &form.password,
        &PasswordContext::new(email.as_deref(), username.as_deref()),
    )?;
    lockout::throttle_registration(&auth, client.ip).await?;
    // With a mail sender, a taken email must not be told apart from a new
    // one: the answer is 202 and the mailbox learns which it was.
    if auth.inner.mail.configured
        && let Some(email) = email
    {
        return super::recovery::register_quietly(
            &auth,
            &client,
            email,
            username,
            form.password,
            fields,
        )
        .await;
    }
    if users
        .exists(db, email.as_deref(), username.as_deref())
        .await?
    {
        return Err(AuthError::AlreadyRegistered);
    }
    let hash = auth.inner.hasher.hash(form.password).await?;
    let txn = store::begin_write(db).await?;
    let user = match users.create(&txn, email, username, hash, fields).await {
        Ok(user) => user,
        Err(CreateError::Duplicate) => return Err(AuthError::AlreadyRegistered),
        Err(CreateError::Db(err)) => return Err(err.into()),
    };
    txn.commit().await?;
    emit(
        &auth,
        AuthEvent::Registered {
            user_id: user.id.clone(),
        },
    );
    audit::registered(&user.id, client.ip);
    let body = json!({ "id": user.id, "email": user.email, "username": user.username });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `GET /me`: the principal and the user's public fields.
pub(super) async fn me(principal: Principal) -> Response {
    let (email, username) = principal
        .loaded
        .as_deref()
        .map(|u| {
            (
                u.row.email().map(str::to_owned),
                u.row.username().map(str::to_owned),
            )
        })
        .unwrap_or_default();
    Json(json!({
        "user_id": principal.user_id,
        "email": email,
        "username": username,
        "is_superuser": principal.is_superuser,
        "scopes": principal.scopes,
        "transport": principal.transport,
    }))
    .into_response()
}

#[derive(Deserialize)]
pub(super) struct ChangePassword {
    current_password: String,
    new_password: String,
}

pub(super) async fn change_password(
    State(auth): State<CrudAuth>,
    form: Submitted<ChangePassword, AnyTransport>,
) -> Result<Response, AuthError> {
    let (principal, form) = form.signed_in()?;
    let db = &auth.inner.db;
    let user = auth.inner.users.by_id(db, &principal.user_id).await?;
    if let Some(user) = &user {
        auth.inner.password_policy.check(
            "new_password",
            &form.new_password,
            &PasswordContext::of(user),
        )?;
    }
    let user =
        lockout::guarded_password(&auth, user, &principal.user_id, form.current_password).await?;
    let hash = auth.inner.hasher.hash(form.new_password).await?;
    // Another change may have won the race since the user was read: this
    // request's current password is then no longer current.
    let response = replace_password(
        &auth,
        &principal,
        &user,
        hash,
        AuthError::InvalidCredentials,
        true,
    )
    .await?;
    audit::password_changed(&user.id, "change_password");
    emit(&auth, AuthEvent::PasswordChanged { user_id: user.id });
    Ok(response)
}

/// Makes `hash` the password of `user` (whose stored hash is as read; if it
/// changed since, `raced` is the error), as a change by the signed-in
/// `principal`. The new hash starts a new password epoch: every session
/// and family from before it is dead from this commit on, including one
/// that a login racing the change creates with the old password. The
/// caller's own session survives under a new id (a thief holding the old
/// cookie is out), answered with its new cookies; the rest are deleted to
/// keep the tables clean. `proof`: the request proved the current password,
/// which renews the session's freshness.
pub(super) async fn replace_password(
    auth: &CrudAuth,
    principal: &Principal,
    user: &LoadedUser,
    hash: String,
    raced: AuthError,
    proof: bool,
) -> Result<Response, AuthError> {
    let epoch = password_epoch(&hash);
    let owner = user.id.to_string();
    let txn = store::begin_write(&auth.inner.db).await?;
    if !auth
        .inner
        .users
        .replace_password_hash(&txn, &user.id, &user.password_hash, hash)
        .await?
    {
        txn.rollback().await?;
        return Err(raced);
    }
    let rotated = match principal.session_id.as_deref() {
        Some(id) => sessions::rotate(&txn, id, &epoch, proof).await?,
        None => None,
    };
    let keep = rotated.as_ref().map(|(row, _)| row.id.as_str());
    sessions::revoke_all(&txn, &owner, keep).await?;
    families::revoke_user(&txn, &owner).await?;
    txn.commit().await?;
    revocation::user(auth, &owner).await;
    let Some((row, token)) = rotated else {
        return Ok(ok_empty());
    };
    let config = &auth.inner.config;
    let csrf_token = csrf::token_for(&auth.inner.secret, &token);
    let body = Json(json!({ "csrf_token": csrf_token })).into_response();
    // A remembered session keeps a persistent cookie.
    let remembered = row.idle_secs == config.remember_me.as_secs() as i64;
    let max_age = remembered.then(|| row.expires_at - crate::tokens::now());
    let cookies = config.cookies.issue(&token, &csrf_token, max_age);
    Ok(with_cookies(body, cookies))
}
