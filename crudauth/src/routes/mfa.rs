//! Second factor and sudo: `/sudo`, `/mfa`, `/mfa/totp/{setup,confirm,disable}`,
//! `/mfa/recovery-codes`, `/mfa/verify`.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::session::rfc3339;
use crate::error::AuthError;
use crate::extract::{AnyTransport, Submitted};
use crate::lockout;
use crate::principal::Principal;
use crate::state::CrudAuth;
use crate::store::{families, sessions};
use crate::tokens::now;

/// How long a `/sudo` keeps the credential fresh for crudauth's own fresh
/// routes (and what `fresh_until` reports).
pub(crate) const FRESH_SECS: i64 = 300;

#[derive(Deserialize)]
pub(super) struct SudoRequest {
    password: Option<String>,
}

/// Records a new proof on the credential the request came with.
async fn reauthenticated(auth: &CrudAuth, principal: &Principal, at: i64) -> Result<(), AuthError> {
    let db = &auth.inner.db;
    if let Some(id) = principal.session_id.as_deref() {
        sessions::reauthenticated(db, id, at).await?;
    } else if let Some(family) = principal.token_family.as_deref() {
        families::reauthenticated(db, family, at).await?;
    } else {
        // A custom transport's credential has no row to carry the proof.
        return Err(AuthError::BadRequest(
            "sudo needs a session or a bearer token".into(),
        ));
    }
    Ok(())
}

pub(super) async fn sudo(
    State(auth): State<CrudAuth>,
    form: Submitted<SudoRequest, AnyTransport>,
) -> Result<Response, AuthError> {
    let (principal, form) = form.signed_in()?;
    let Some(password) = form.password else {
        return Err(AuthError::Invalid("password: required".into()));
    };
    let user = auth
        .inner
        .users
        .by_id(&auth.inner.db, &principal.user_id)
        .await?;
    lockout::guarded_password(&auth, user, &principal.user_id, password).await?;
    let at = now();
    reauthenticated(&auth, &principal, at).await?;
    Ok(Json(json!({ "fresh_until": rfc3339(at + FRESH_SECS) })).into_response())
}
