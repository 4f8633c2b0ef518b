//! `/register`, `/me`, `/change-password`.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::{ok_empty, respond};
use crate::auth::{AuthEvent, CrudAuth};
use crate::body;
use crate::error::AuthError;
use crate::principal::Principal;
use crate::store::sessions;
use crate::user::CreateError;

const MIN_PASSWORD: usize = 8;
const MAX_PASSWORD: usize = 256;

pub(crate) fn validate_password(field: &str, password: &str) -> Result<(), AuthError> {
    let len = password.chars().count();
    if len < MIN_PASSWORD {
        return Err(AuthError::Invalid(format!(
            "{field}: must be at least {MIN_PASSWORD} characters"
        )));
    }
    if len > MAX_PASSWORD {
        return Err(AuthError::Invalid(format!(
            "{field}: must be at most {MAX_PASSWORD} characters"
        )));
    }
    Ok(())
}

fn validate_email(email: &str) -> Result<String, AuthError> {
    let email = email.trim();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if valid {
        Ok(email.to_lowercase())
    } else {
        Err(AuthError::Invalid(
            "email: not a valid email address".into(),
        ))
    }
}

fn validate_username(username: &str) -> Result<String, AuthError> {
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
struct Register {
    email: Option<String>,
    username: Option<String>,
    password: String,
}

pub(super) async fn register(State(auth): State<CrudAuth>, request: Request) -> Response {
    let result = async {
        let (mut parts, body) = request.into_parts();
        let form: Register = body::read(&mut parts, body).await?;
        let users = auth.users();
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
        validate_password("password", &form.password)?;
        crate::lockout::throttle_registration(&auth, &parts).await?;
        if users
            .exists(auth.db(), email.as_deref(), username.as_deref())
            .await?
        {
            return Err(AuthError::AlreadyRegistered);
        }
        let hash = auth.hasher().hash(form.password).await?;
        let user = match users.create(auth.db(), email, username, hash).await {
            Ok(user) => user,
            Err(CreateError::Duplicate) => return Err(AuthError::AlreadyRegistered),
            Err(CreateError::Db(err)) => return Err(err.into()),
        };
        auth.emit(AuthEvent::Registered(user.id.clone()));
        let body = json!({ "id": user.id, "email": user.email, "username": user.username });
        Ok((StatusCode::CREATED, Json(body)).into_response())
    }
    .await;
    respond(&auth, result)
}

/// `GET /me`: the principal and the user's public fields.
pub(super) async fn me(principal: Principal) -> Response {
    let (email, username) = principal
        .loaded
        .as_deref()
        .map(|u| (u.email.clone(), u.username.clone()))
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
struct ChangePassword {
    current_password: String,
    new_password: String,
}

pub(super) async fn change_password(State(auth): State<CrudAuth>, request: Request) -> Response {
    let result = async {
        let (mut parts, body) = request.into_parts();
        let form: ChangePassword = body::read(&mut parts, body).await?;
        let principal = auth.require(&mut parts, auth.all_transports()).await?;
        validate_password("new_password", &form.new_password)?;
        let user = auth.users().by_id(auth.db(), &principal.user_id).await?;
        let user = auth.check_password(user, form.current_password).await?;
        let hash = auth.hasher().hash(form.new_password).await?;
        // Every other credential dies with the old password; the session
        // that made the change stays. They die first: a change failing midway
        // then leaves the old password with fewer sessions, never the new
        // password beside credentials that predate it.
        let owner = user.id.to_string();
        sessions::revoke_all(auth.db(), &owner, principal.session_id.as_deref()).await?;
        crate::store::families::revoke_user(auth.db(), &owner).await?;
        auth.users()
            .set_password_hash(auth.db(), &user.id, hash)
            .await?;
        auth.emit(AuthEvent::PasswordChanged(user.id));
        Ok(ok_empty())
    }
    .await;
    respond(&auth, result)
}
