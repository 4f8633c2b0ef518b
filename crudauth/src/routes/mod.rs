//! The built-in routes, one file per family, each route a plain axum
//! handler.

mod account;
pub(crate) mod direct;
mod html;
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
use axum::http::header::{CACHE_CONTROL, SET_COOKIE};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post};
use tower::util::MapResponseLayer;

use crate::error::add_bearer_challenge;
use crate::events::AuthEvent;
use crate::route::Route;
use crate::state::CrudAuth;
use crate::transport::bearer::BearerTransport;
use crate::transport::session::SessionTransport;
use crate::transport::{self, enabled};

pub use token::TokenPair;

/// One built-in route: which it is (its method and path) and what serves
/// it.
pub(crate) struct Entry<S> {
    pub(crate) route: Route,
    serve: MethodRouter<S>,
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
    let disabled = &auth.inner.config.disabled_routes;
    let mut add = |route: Route, serve: MethodRouter<S>| {
        if !disabled.contains(&route) {
            table.push(Entry { route, serve });
        }
    };
    let users = &auth.inner.users;
    add(Route::Register, post(account::register));
    add(
        Route::ChangePassword,
        post(account::change_password).layer(no_store()),
    );
    add(Route::LogoutAll, post(management::logout_all));
    add(Route::Sudo, post(mfa::sudo));
    if users.has_email() {
        add(Route::PasswordResetRequest, post(recovery::reset_request));
        add(
            Route::PasswordResetConfirm,
            post(recovery::reset_confirm).layer(no_store()),
        );
        add(Route::EmailChangeRequest, post(recovery::change_request));
        add(
            Route::EmailChangeConfirm,
            post(recovery::change_confirm).layer(no_store()),
        );
        if users.has_email_verified() {
            add(Route::EmailVerifyRequest, post(recovery::verify_request));
            add(
                Route::EmailVerifyConfirm,
                post(recovery::verify_confirm).layer(no_store()),
            );
        }
    }
    if auth.inner.mfa.is_some() {
        add(Route::MfaStatus, get(mfa::status));
        add(Route::MfaTotpSetup, post(mfa::setup).layer(no_store()));
        add(Route::MfaTotpConfirm, post(mfa::confirm).layer(no_store()));
        add(Route::MfaTotpDisable, post(mfa::disable));
        add(
            Route::MfaRecoveryCodes,
            post(mfa::recovery_codes).layer(no_store()),
        );
        add(Route::MfaVerify, post(mfa::verify).layer(no_store()));
    }
    if auth.inner.config.me_route {
        add(Route::Me, get(account::me));
    }
    if enabled::<SessionTransport>(auth) {
        add(Route::Login, post(session::login).layer(no_store()));
        add(Route::Logout, post(session::logout));
        add(Route::Sessions, get(session::list));
        add(Route::SessionRevoke, delete(session::revoke));
    }
    if enabled::<BearerTransport>(auth) {
        add(Route::Token, post(token::token).layer(no_store()));
        add(Route::Refresh, post(token::refresh).layer(no_store()));
        add(Route::Revoke, post(token::revoke));
    }
    #[cfg(feature = "oidc")]
    if !auth.inner.oidc.is_empty() {
        add(
            Route::OauthAuthorize,
            get(oauth::authorize).layer(no_store()),
        );
        add(Route::OauthCallback, get(oauth::callback).layer(no_store()));
        add(Route::OauthIdentities, get(oauth::list));
        add(Route::OauthUnlink, delete(oauth::unlink));
        add(
            Route::SetPassword,
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
    let base = &auth.inner.config.base_path;
    let mut router = Router::new();
    for entry in table(auth) {
        let mut serve = entry.serve;
        if html::FORM_ROUTES.contains(&entry.route) {
            serve = serve.layer(axum::middleware::from_fn_with_state(
                auth.clone(),
                html::forms,
            ));
        }
        router = router.route(&format!("{base}{}", entry.route.path()), serve);
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
