//! The built-in routes, one file per family, each route a plain axum
//! handler.

mod account;
mod management;
mod recovery;
#[cfg(feature = "oidc")]
mod oauth;
mod mfa;
mod session;
mod sign_in;
mod token;

use axum::Router;
use axum::extract::FromRef;
use axum::http::HeaderValue;
use axum::http::Method;
use axum::http::header::{CACHE_CONTROL, SET_COOKIE};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post};
use tower::util::MapResponseLayer;

use crate::error::add_bearer_challenge;
use crate::events::AuthEvent;
use crate::state::CrudAuth;
use crate::transport::bearer::BearerTransport;
use crate::transport::session::SessionTransport;
use crate::transport::{self, enabled};

/// One built-in route: its method, its path and what serves it.
pub(crate) struct Entry<S> {
    pub(crate) method: Method,
    pub(crate) path: &'static str,
    route: MethodRouter<S>,
}

/// The built-in routes `auth`'s configuration has: the one place that
/// says which are mounted (its transports, the user model's columns, an
/// MFA key, sign-in providers). [`router`] mounts exactly these and the
/// OpenAPI document lists exactly these.
pub(crate) fn table<S>(auth: &CrudAuth) -> Vec<Entry<S>>
where
    CrudAuth: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    let mut table = Vec::new();
    let mut add = |method: Method, path: &'static str, route: MethodRouter<S>| {
        table.push(Entry {
            method,
            path,
            route,
        });
    };
    let users = &auth.inner.users;
    add(Method::POST, "/register", post(account::register));
    add(
        Method::POST,
        "/change-password",
        post(account::change_password).layer(no_store()),
    );
    add(Method::POST, "/logout-all", post(management::logout_all));
    add(Method::POST, "/sudo", post(mfa::sudo));
    if users.has_email() {
        add(
            Method::POST,
            "/password/reset-request",
            post(recovery::reset_request),
        );
        add(
            Method::POST,
            "/password/reset-confirm",
            post(recovery::reset_confirm).layer(no_store()),
        );
        add(
            Method::POST,
            "/email/change-request",
            post(recovery::change_request),
        );
        add(
            Method::POST,
            "/email/change-confirm",
            post(recovery::change_confirm).layer(no_store()),
        );
        if users.has_email_verified() {
            add(
                Method::POST,
                "/email/verify-request",
                post(recovery::verify_request),
            );
            add(
                Method::POST,
                "/email/verify-confirm",
                post(recovery::verify_confirm).layer(no_store()),
            );
        }
    }
    if auth.inner.mfa.is_some() {
        add(Method::GET, "/mfa", get(mfa::status));
        add(
            Method::POST,
            "/mfa/totp/setup",
            post(mfa::setup).layer(no_store()),
        );
        add(
            Method::POST,
            "/mfa/totp/confirm",
            post(mfa::confirm).layer(no_store()),
        );
        add(Method::POST, "/mfa/totp/disable", post(mfa::disable));
        add(
            Method::POST,
            "/mfa/recovery-codes",
            post(mfa::recovery_codes).layer(no_store()),
        );
        add(
            Method::POST,
            "/mfa/verify",
            post(mfa::verify).layer(no_store()),
        );
    }
    if auth.inner.config.me_route {
        add(Method::GET, "/me", get(account::me));
    }
    if enabled::<SessionTransport>(auth) {
        add(
            Method::POST,
            "/login",
            post(session::login).layer(no_store()),
        );
        add(Method::POST, "/logout", post(session::logout));
        add(Method::GET, "/sessions", get(session::list));
        add(Method::DELETE, "/sessions/{id}", delete(session::revoke));
    }
    if enabled::<BearerTransport>(auth) {
        add(Method::POST, "/token", post(token::token).layer(no_store()));
        add(
            Method::POST,
            "/refresh",
            post(token::refresh).layer(no_store()),
        );
        add(Method::POST, "/revoke", post(token::revoke));
    }
    #[cfg(feature = "oidc")]
    if !auth.inner.oidc.is_empty() {
        add(
            Method::GET,
            "/oauth/{provider}/authorize",
            get(oauth::authorize).layer(no_store()),
        );
        add(
            Method::GET,
            "/oauth/{provider}/callback",
            get(oauth::callback).layer(no_store()),
        );
        add(Method::GET, "/oauth/identities", get(oauth::list));
        add(
            Method::DELETE,
            "/oauth/identities/{provider}",
            delete(oauth::unlink),
        );
        add(
            Method::POST,
            "/set-password",
            post(oauth::set_password).layer(no_store()),
        );
    }
    table
}

/// The built-in routes of `auth`'s configuration ([`table`]), mounted.
pub(crate) fn router<S>(auth: &CrudAuth) -> Router<S>
where
    CrudAuth: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    let mut router = Router::new();
    for entry in table(auth) {
        router = router.route(entry.path, entry.route);
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
