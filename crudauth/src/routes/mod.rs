//! The built-in routes, one file per family, each route a plain axum
//! handler.

mod account;
mod management;
mod session;
mod token;

#[cfg(feature = "cli")]
pub(crate) use account::{validate_email, validate_password};

use axum::Router;
use axum::extract::FromRef;
use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, SET_COOKIE};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use tower::util::MapResponseLayer;

use crate::error::add_bearer_challenge;
use crate::events::AuthEvent;
use crate::state::CrudAuth;
use crate::transport::bearer::BearerTransport;
use crate::transport::session::SessionTransport;
use crate::transport::{self, enabled};

/// The built-in routes of `auth`'s transports.
pub(crate) fn router<S>(auth: &CrudAuth) -> Router<S>
where
    CrudAuth: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    let mut router = Router::new()
        .route("/register", post(account::register))
        .route(
            "/change-password",
            post(account::change_password).layer(no_store()),
        )
        .route("/logout-all", post(management::logout_all));
    if auth.inner.config.me_route {
        router = router.route("/me", get(account::me));
    }
    if enabled::<SessionTransport>(auth) {
        router = router
            .route("/login", post(session::login).layer(no_store()))
            .route("/logout", post(session::logout))
            .route("/sessions", get(session::list))
            .route("/sessions/{id}", delete(session::revoke));
    }
    if enabled::<BearerTransport>(auth) {
        router = router
            .route("/token", post(token::token).layer(no_store()))
            .route("/refresh", post(token::refresh).layer(no_store()))
            .route("/revoke", post(token::revoke));
    }
    if transport::challenges_bearer(auth) {
        // The handlers answer plain `AuthError`s; the challenge depends on
        // the application's transports, known here.
        router = router.route_layer(axum::middleware::map_response(
            |response: Response| async move { add_bearer_challenge(response) },
        ));
    }
    router
}

/// `Cache-Control: no-store` on every answer of a route whose success
/// carries a credential (session cookies, tokens), so that no cache along
/// the way, nor the browser's history, keeps one.
fn no_store() -> MapResponseLayer<fn(Response) -> Response> {
    fn add(mut response: Response) -> Response {
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
    MapResponseLayer::new(add)
}

/// Calls the application's hooks.
pub(crate) fn emit(auth: &CrudAuth, event: AuthEvent) {
    for hook in &auth.inner.hooks {
        hook(&event);
    }
}

/// Appends `Set-Cookie` headers.
pub(crate) fn with_cookies(mut response: Response, cookies: [String; 2]) -> Response {
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(SET_COOKIE, value);
        }
    }
    response
}

/// A `200 {}` body.
pub(crate) fn ok_empty() -> Response {
    axum::Json(serde_json::json!({})).into_response()
}

/// A body with no fields.
#[derive(serde::Deserialize)]
pub(crate) struct Empty {}
