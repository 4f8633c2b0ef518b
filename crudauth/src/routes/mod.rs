//! The built-in routes, one file per family, each route a plain axum
//! handler.

mod account;
mod management;
mod recovery;
#[cfg(feature = "oidc")]
mod oauth;
mod mfa;
mod session;
mod token;

#[cfg(feature = "cli")]
pub(crate) use account::validate_email;

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
        .route("/logout-all", post(management::logout_all))
        .route("/sudo", post(mfa::sudo));
    if auth.inner.users.has_email() {
        router = router
            .route("/password/reset-request", post(recovery::reset_request))
            .route(
                "/password/reset-confirm",
                post(recovery::reset_confirm).layer(no_store()),
            )
            .route("/email/change-request", post(recovery::change_request))
            .route(
                "/email/change-confirm",
                post(recovery::change_confirm).layer(no_store()),
            );
        if auth.inner.users.has_email_verified() {
            router = router
                .route("/email/verify-request", post(recovery::verify_request))
                .route(
                    "/email/verify-confirm",
                    post(recovery::verify_confirm).layer(no_store()),
                );
        }
    }
    if auth.inner.mfa.is_some() {
        router = router
            .route("/mfa", get(mfa::status))
            .route("/mfa/totp/setup", post(mfa::setup).layer(no_store()))
            .route("/mfa/totp/confirm", post(mfa::confirm).layer(no_store()))
            .route("/mfa/totp/disable", post(mfa::disable))
            .route(
                "/mfa/recovery-codes",
                post(mfa::recovery_codes).layer(no_store()),
            )
            .route("/mfa/verify", post(mfa::verify).layer(no_store()));
    }
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
    #[cfg(feature = "oidc")]
    if !auth.inner.oidc.is_empty() {
        router = router
            .route(
                "/oauth/{provider}/authorize",
                get(oauth::authorize).layer(no_store()),
            )
            .route(
                "/oauth/{provider}/callback",
                get(oauth::callback).layer(no_store()),
            )
            .route("/oauth/identities", get(oauth::list))
            .route("/oauth/identities/{provider}", delete(oauth::unlink))
            .route("/set-password", post(oauth::set_password).layer(no_store()));
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
