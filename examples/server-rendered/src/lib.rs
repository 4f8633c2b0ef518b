//! Server-rendered pages over crudauth: every page is HTML rendered here
//! from a template, every action a plain `<form method="post">` to one of
//! crudauth's routes, and no page carries a line of JavaScript.
//!
//! crudauth answers such a form (`Accept: text/html`, which a browser sends
//! for a form navigation) with `303 See Other` to the form's `next` field,
//! adding `error=<code>` on failure and `mfa_required=1` when the second
//! factor is due. So each form here names its own page as `next`, and the
//! page reads the query to say what happened: `/signin?error=…` shows why
//! the sign-in failed, `/signin?mfa_required=1` asks for the code,
//! `/register?done=1` says the account is made.
//!
//! Pages only read: a `GET` sets no cookie and changes nothing.

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, Query, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use crudauth::{CrudAuth, Principal, authed};
use example_web_and_api::user;
use minijinja::{Environment, context};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};

/// The router state: crudauth and the templates.
#[derive(Clone, Debug, FromRef)]
pub struct AppState {
    /// Authentication.
    pub auth: CrudAuth,
    /// The page templates.
    pub pages: Pages,
}

/// The page templates, embedded in the binary and escaped as HTML (every
/// template's name ends in `.html`, which turns minijinja's autoescape on).
#[derive(Clone, Debug)]
pub struct Pages(Arc<Environment<'static>>);

impl Pages {
    /// Loads the embedded templates.
    ///
    /// # Panics
    ///
    /// When a template does not parse: they are compiled into the binary,
    /// so a unit test sees that first.
    pub fn new() -> Self {
        let mut env = Environment::new();
        for (name, source) in [
            ("base.html", include_str!("../templates/base.html")),
            ("home.html", include_str!("../templates/home.html")),
            ("account.html", include_str!("../templates/account.html")),
            ("signin.html", include_str!("../templates/signin.html")),
            ("register.html", include_str!("../templates/register.html")),
            ("forgot.html", include_str!("../templates/forgot.html")),
            ("reset.html", include_str!("../templates/reset.html")),
            (
                "not_found.html",
                include_str!("../templates/not_found.html"),
            ),
        ] {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("template {name}: {e}"));
        }
        Self(Arc::new(env))
    }

    /// `name` rendered with `ctx`, as a page no cache keeps (it may show
    /// the account and the CSRF token) and that may run no script.
    fn render(&self, name: &str, ctx: minijinja::Value) -> Response {
        let rendered = self
            .0
            .get_template(name)
            .and_then(|template| template.render(ctx));
        match rendered {
            Ok(html) => {
                let mut response = Html(html).into_response();
                let headers = response.headers_mut();
                headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
                headers.insert(
                    CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(
                        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
                         frame-ancestors 'none'; base-uri 'none'",
                    ),
                );
                response
            }
            Err(err) => {
                eprintln!("error: rendering {name}: {err:#}");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}

impl Default for Pages {
    fn default() -> Self {
        Self::new()
    }
}

/// What crudauth's redirects (and the links between pages) put in the
/// query; each page reads the fields it knows.
#[derive(Debug, Default, Deserialize)]
struct Notice {
    /// The code of a refused form (`invalid_credentials`, …).
    error: Option<String>,
    /// A sign-in that waits for its second factor.
    mfa_required: Option<String>,
    /// A form that went through (the page's own `next` says so).
    done: Option<String>,
    /// Where to go once signed in.
    next: Option<String>,
    /// The mailed reset link's token.
    token: Option<String>,
}

/// The words for a refusal's code; an unknown code is shown as it came.
fn message(code: &str) -> &'static str {
    match code {
        "invalid_credentials" => "Wrong email or password.",
        "locked" => "Too many failed attempts: wait a little, then try again.",
        "already_registered" | "email_taken" => "This address already has an account.",
        "invalid" => "Check the fields: the password needs at least 8 characters.",
        "invalid_code" => "That code is not the right one.",
        "invalid_token" => "This link or sign-in step has expired: start again.",
        "csrf_failed" => "The form had expired: try again.",
        "rate_limited" => "Too many requests: try again later.",
        "mfa_not_enabled" => "A second factor is not on for this server.",
        _ => "That did not work.",
    }
}

/// The refusal in the query, for the template: its code and words.
fn refusal(notice: &Notice) -> minijinja::Value {
    match notice.error.as_deref() {
        Some(code) => context! { code, message => message(code) },
        None => minijinja::Value::from(()),
    }
}

/// What the pages show of the signed-in account.
#[derive(Debug, Serialize)]
struct Account {
    id: String,
    email: String,
    display_name: Option<String>,
    email_verified: bool,
    second_factor: bool,
}

impl Account {
    /// The principal's row as the session loaded it, else from the table.
    async fn of(auth: &CrudAuth, principal: &Principal) -> Option<Self> {
        let row = match principal.user::<user::Model>() {
            Some(row) => row.clone(),
            None => {
                use sea_orm::EntityTrait;
                let crudauth::UserId::Int(id) = principal.user_id else {
                    return None;
                };
                user::Entity::find_by_id(id).one(auth.db()).await.ok()??
            }
        };
        Some(Self {
            id: principal.user_id.to_string(),
            email: row.email,
            display_name: row.display_name,
            email_verified: row.email_verified,
            second_factor: principal.mfa,
        })
    }
}

/// The session's CSRF token, from the readable cookie crudauth keeps it in
/// (`__Host-csrf_token` while cookies are `Secure`): the sign-out form
/// sends it back as its `csrf_token` field.
fn csrf_token(auth: &CrudAuth, headers: &HeaderMap) -> Option<String> {
    let name = if auth.config().cookies.secure {
        "__Host-csrf_token"
    } else {
        "csrf_token"
    };
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// What every page's header shows: the account, and the token its
/// sign-out form needs.
async fn signed_in(
    auth: &CrudAuth,
    principal: Option<&Principal>,
    headers: &HeaderMap,
) -> minijinja::Value {
    let Some(principal) = principal else {
        return minijinja::Value::from(());
    };
    let account = Account::of(auth, principal).await;
    context! { account, csrf_token => csrf_token(auth, headers) }
}

/// `target` when it is a path on this origin (not `//host` or `/\host`,
/// which browsers read as another host), else `/`.
fn same_origin(target: Option<&str>) -> &str {
    match target {
        Some(t)
            if t.starts_with('/')
                && !t.starts_with("//")
                && !t.contains('\\')
                && !t.chars().any(char::is_control) =>
        {
            t
        }
        _ => "/",
    }
}

fn encode(value: &str) -> String {
    utf8_percent_encode(value, NON_ALPHANUMERIC).to_string()
}

#[authed(optional)]
async fn home(
    State(state): State<AppState>,
    user: Option<Principal>,
    headers: HeaderMap,
    Query(notice): Query<Notice>,
) -> Response {
    let session = signed_in(&state.auth, user.as_ref(), &headers).await;
    state
        .pages
        .render("home.html", context! { session, error => refusal(&notice) })
}

/// The account page: only for a signed-in visitor ([`sign_in_first`]
/// sends the others to the sign-in page).
#[authed]
async fn account(State(state): State<AppState>, user: Principal, headers: HeaderMap) -> Response {
    let session = signed_in(&state.auth, Some(&user), &headers).await;
    state.pages.render("account.html", context! { session })
}

/// The sign-in page, then the code page (`mfa_required=1`). Both forms
/// come back here, so a signed-in visitor is sent on to `next`.
#[authed(optional)]
async fn signin(
    State(state): State<AppState>,
    user: Option<Principal>,
    Query(notice): Query<Notice>,
) -> Response {
    let after = same_origin(notice.next.as_deref());
    if user.is_some() {
        return Redirect::to(after).into_response();
    }
    let here = match after {
        "/" => "/signin".to_owned(),
        after => format!("/signin?next={}", encode(after)),
    };
    let joiner = if here.contains('?') { '&' } else { '?' };
    let code_step = notice.mfa_required.is_some();
    state.pages.render(
        "signin.html",
        context! {
            error => refusal(&notice),
            code_step,
            next => if code_step { format!("{here}{joiner}mfa_required=1") } else { here },
        },
    )
}

async fn register(State(pages): State<Pages>, Query(notice): Query<Notice>) -> Response {
    pages.render(
        "register.html",
        context! { error => refusal(&notice), done => notice.done.is_some() },
    )
}

async fn forgot_password(State(pages): State<Pages>, Query(notice): Query<Notice>) -> Response {
    pages.render(
        "forgot.html",
        context! { error => refusal(&notice), done => notice.done.is_some() },
    )
}

/// Where the mailed reset link leads (`/reset-password?token=…`): the form
/// for the new password, which comes back here with the token kept.
async fn reset_password(State(pages): State<Pages>, Query(notice): Query<Notice>) -> Response {
    let token = notice.token.clone().unwrap_or_default();
    pages.render(
        "reset.html",
        context! {
            error => refusal(&notice),
            done => notice.done.is_some() && notice.error.is_none(),
            next => format!("/reset-password?token={}&done=1", encode(&token)),
            token,
        },
    )
}

async fn not_found(State(pages): State<Pages>) -> Response {
    let mut page = pages.render("not_found.html", context! {});
    *page.status_mut() = StatusCode::NOT_FOUND;
    page
}

/// A page that needs a signed-in visitor answers an anonymous one with
/// the sign-in page, which brings the visitor back here afterwards.
async fn sign_in_first(request: Request, next: Next) -> Response {
    let path = request
        .uri()
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    if response.status() == StatusCode::UNAUTHORIZED {
        return Redirect::to(&format!("/signin?next={}", encode(&path))).into_response();
    }
    response
}

/// The whole application: the pages, crudauth's routes, crudauth's layer.
pub fn app(auth: CrudAuth) -> Router {
    let state = AppState {
        auth: auth.clone(),
        pages: Pages::new(),
    };
    Router::new()
        .route("/", get(home))
        .route(
            "/account",
            get(account).route_layer(middleware::from_fn(sign_in_first)),
        )
        .route("/signin", get(signin))
        .route("/register", get(register))
        .route("/forgot-password", get(forgot_password))
        .route("/reset-password", get(reset_password))
        .merge(auth.router())
        .fallback(not_found)
        .layer(auth.layer())
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::{Pages, same_origin};

    #[test]
    fn every_template_parses() {
        let _ = Pages::new();
    }

    #[test]
    fn only_paths_on_this_origin_are_followed() {
        for kept in ["/", "/account", "/account?tab=1"] {
            assert_eq!(same_origin(Some(kept)), kept);
        }
        for refused in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "",
        ] {
            assert_eq!(same_origin(Some(refused)), "/");
        }
        assert_eq!(same_origin(None), "/");
    }
}
