//! `/logout-all`.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::with_cookies;
use crate::error::AuthError;
use crate::extract::{AnyTransport, Submitted};
use crate::revocation;
use crate::state::CrudAuth;
use crate::store::{families, sessions};
use crate::{audit, body};

#[derive(Deserialize)]
pub(super) struct LogoutAll {
    #[serde(default, deserialize_with = "body::flexible_bool")]
    keep_current: bool,
}

pub(super) async fn logout_all(
    State(auth): State<CrudAuth>,
    form: Submitted<LogoutAll, AnyTransport>,
) -> Result<Response, AuthError> {
    let (principal, form) = form.signed_in()?;
    let db = &auth.inner.db;
    let owner = principal.user_id.to_string();
    let keep_session = principal
        .session_id
        .as_deref()
        .filter(|_| form.keep_current);
    let keep_family = principal
        .token_family
        .as_deref()
        .filter(|_| form.keep_current);
    let revoked = sessions::revoke_all(db, &owner, keep_session).await?
        + families::revoke_user_except(db, &owner, keep_family).await?;
    revocation::user(&auth, &owner).await;
    audit::user_revoked(&owner, "logout_all", revoked);
    let response = Json(json!({ "revoked": revoked })).into_response();
    // The browser's own session went too: clear its cookies.
    if principal.session_id.is_some() && keep_session.is_none() {
        return Ok(with_cookies(response, auth.inner.config.cookies.clear()));
    }
    Ok(response)
}
