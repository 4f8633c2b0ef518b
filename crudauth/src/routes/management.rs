//! `/logout-all`.

use axum::Json;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::respond;
use crate::auth::CrudAuth;
use crate::body;
use crate::store::{families, sessions};

#[derive(Deserialize)]
struct LogoutAll {
    #[serde(default, deserialize_with = "body::flexible_bool")]
    keep_current: bool,
}

pub(super) async fn logout_all(State(auth): State<CrudAuth>, request: Request) -> Response {
    let result = async {
        let (mut parts, body) = request.into_parts();
        let form: LogoutAll = body::read(&mut parts, body).await?;
        let principal = auth.require(&mut parts, auth.all_transports()).await?;
        let owner = principal.user_id.to_string();
        let keep_session = principal
            .session_id
            .as_deref()
            .filter(|_| form.keep_current);
        let keep_family = principal
            .token_family
            .as_deref()
            .filter(|_| form.keep_current);
        let revoked = sessions::revoke_all(auth.db(), &owner, keep_session).await?
            + families::revoke_user_except(auth.db(), &owner, keep_family).await?;
        let response = Json(json!({ "revoked": revoked })).into_response();
        // The browser's own session went too: clear its cookies.
        if principal.session_id.is_some() && keep_session.is_none() {
            return Ok(super::with_cookies(response, auth.config().cookies.clear()));
        }
        Ok(response)
    }
    .await;
    respond(&auth, result)
}
