//! `#[authed]` handlers on a real server: the guard's status codes, gate
//! order, optional principals, narrowed transports (built-in and custom),
//! extractors around the principal, and `#[axum::debug_handler]`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use crudauth::{CrudAuth, Principal, UserId, authed};
use crudauth_tests::{
    ApiKeyTransport, Backend, PASSWORD, Server, config, start_router, token_pair,
};
use example_web_and_api::user;
use reqwest::Method;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

#[derive(Clone, FromRef)]
struct AppState {
    auth: CrudAuth,
    hits: Arc<AtomicUsize>,
}

#[authed]
async fn me(user: Principal) -> Json<Value> {
    Json(json!({ "id": user.user_id, "transport": user.transport }))
}

#[authed(optional)]
async fn maybe(user: Option<Principal>) -> Json<Value> {
    Json(json!({ "id": user.map(|u| u.user_id) }))
}

#[authed]
async fn no_principal() -> &'static str {
    "guarded"
}

#[authed(transport = "bearer")]
async fn bearer_only(user: Principal) -> Json<Value> {
    Json(json!({ "transport": user.transport }))
}

#[authed(transport = "session")]
async fn session_only(user: Principal) -> Json<Value> {
    Json(json!({ "transport": user.transport }))
}

#[authed(transport = ["session", "bearer"])]
async fn built_ins(_: Principal) -> StatusCode {
    StatusCode::NO_CONTENT
}

#[authed(transport = ApiKeyTransport)]
async fn api_key_only(user: Principal) -> Json<Value> {
    Json(json!({ "id": user.user_id, "transport": user.transport }))
}

#[authed(transport = "bearer", optional)]
async fn optional_bearer(user: Option<Principal>) -> Json<Value> {
    Json(json!({ "transport": user.map(|u| u.transport) }))
}

#[authed(superuser)]
async fn admin(_user: Principal) -> &'static str {
    "admin"
}

#[authed(verified)]
async fn verified_only(_user: Principal) -> &'static str {
    "verified"
}

#[derive(serde::Deserialize)]
struct Job {
    name: String,
}

/// Extractors before and after the principal, which keeps its place.
#[authed(scopes = ["jobs:write"])]
async fn create_job(
    State(hits): State<Arc<AtomicUsize>>,
    Path(queue): Path<String>,
    mut user: Principal,
    Json(job): Json<Job>,
) -> impl IntoResponse {
    user.scopes.insert("seen".to_owned());
    let n = hits.fetch_add(1, Ordering::SeqCst) + 1;
    (
        StatusCode::CREATED,
        Json(
            json!({ "n": n, "queue": queue, "name": job.name, "owner": user.user_id, "scopes": user.scopes }),
        ),
    )
}

fn even_user(user: &Principal) -> bool {
    matches!(user.user_id, UserId::Int(n) if n % 2 == 0)
}

async fn odd_user(user: &Principal) -> bool {
    tokio::task::yield_now().await;
    matches!(user.user_id, UserId::Int(n) if n % 2 == 1)
}

#[authed(check = even_user)]
async fn even_only(_user: Principal) -> &'static str {
    "even"
}

#[authed(check = odd_user)]
async fn odd_only(_user: Principal) -> &'static str {
    "odd"
}

fn never(_: &Principal) -> bool {
    false
}

#[authed(check = never, scopes = ["admin"], verified, superuser)]
async fn every_gate() -> &'static str {
    "unreachable"
}

/// `#[authed]` goes above `#[axum::debug_handler]`, which then checks the
/// rewritten signature (name the state: the guard needs `CrudAuth` from it).
#[authed(transport = "bearer")]
#[axum::debug_handler(state = AppState)]
async fn debugged(State(hits): State<Arc<AtomicUsize>>, user: Principal) -> Json<Value> {
    Json(json!({ "id": user.user_id, "hits": hits.load(Ordering::SeqCst) }))
}

/// The handlers above on a router of their own, with the harness's API-key
/// transport after session and bearer.
async fn start() -> Server {
    start_router(
        Backend::Sqlite,
        |db| example_web_and_api::auth_builder(db, config()).transport(ApiKeyTransport),
        |auth| {
            let state = AppState {
                auth: auth.clone(),
                hits: Arc::new(AtomicUsize::new(0)),
            };
            Router::new()
                .route("/me", get(me))
                .route("/maybe", get(maybe))
                .route("/no-principal", get(no_principal))
                .route("/bearer-only", get(bearer_only))
                .route("/session-only", get(session_only))
                .route("/built-ins", get(built_ins))
                .route("/api-key-only", get(api_key_only))
                .route("/optional-bearer", get(optional_bearer))
                .route("/admin", get(admin))
                .route("/verified", get(verified_only))
                .route("/jobs/{queue}", post(create_job))
                .route("/even", get(even_only))
                .route("/odd", get(odd_only))
                .route("/every-gate", get(every_gate))
                .route("/debugged", get(debugged))
                .merge(auth.router())
                .layer(auth.layer())
                .with_state(state)
        },
    )
    .await
}

/// A fresh user's id and a bearer token with all of its scopes.
async fn user(server: &Server, email: &str) -> (i64, String) {
    let id = server
        .register(email)
        .await
        .as_i64()
        .expect("an integer id");
    (id, server.access_token(email).await)
}

/// A bearer token for `email` narrowed to `scope`.
async fn scoped_token(server: &Server, email: &str, scope: &str) -> String {
    let res = server
        .post_json(
            "/token",
            json!({ "username": email, "password": PASSWORD, "scope": scope }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK, "token for {email}");
    token_pair(&res.json().await.unwrap()).0
}

/// Edits a user's row as an application would, outside crudauth, and tells
/// crudauth's principal cache (as the application must, or wait its TTL).
async fn set(server: &Server, id: i64, column: user::Column, value: impl Into<sea_orm::Value>) {
    user::Entity::update_many()
        .col_expr(column, Expr::value(value))
        .filter(user::Column::Id.eq(id))
        .exec(&server.db)
        .await
        .unwrap();
    server.auth.invalidate_user(id).await;
}

/// `GET path`, with `token` as a bearer if given: the status and the body
/// (JSON, or else its text as a JSON string).
async fn get_as(server: &Server, path: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut request = server.client.get(server.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn code(body: &Value) -> &str {
    body["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn anonymous_requests_get_401_and_authenticated_ones_the_principal() {
    let server = start().await;
    let (id, token) = user(&server, "ada@example.com").await;
    for path in ["/me", "/no-principal", "/admin", "/even", "/every-gate"] {
        let (status, body) = get_as(&server, path, None).await;
        assert_eq!(status, 401, "{path}");
        assert_eq!(code(&body), "unauthenticated", "{path}");
    }
    let (status, body) = get_as(&server, "/me", Some(&token)).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({ "id": id, "transport": "bearer" }));
    let (status, body) = get_as(&server, "/no-principal", Some(&token)).await;
    assert_eq!((status, body), (StatusCode::OK, json!("guarded")));
}

#[tokio::test]
async fn optional_guard_lets_anonymous_through_but_not_a_bad_token() {
    let server = start().await;
    let (id, token) = user(&server, "ada@example.com").await;
    assert_eq!(
        get_as(&server, "/maybe", None).await,
        (StatusCode::OK, json!({ "id": null }))
    );
    assert_eq!(
        get_as(&server, "/maybe", Some(&token)).await,
        (StatusCode::OK, json!({ "id": id }))
    );
    let (status, body) = get_as(&server, "/maybe", Some("not-a-jwt")).await;
    assert_eq!(status, 401);
    assert_eq!(code(&body), "invalid_token");
    assert_eq!(
        get_as(&server, "/optional-bearer", None).await,
        (StatusCode::OK, json!({ "transport": null }))
    );
    assert_eq!(
        get_as(&server, "/optional-bearer", Some(&token)).await,
        (StatusCode::OK, json!({ "transport": "bearer" }))
    );
}

#[tokio::test]
async fn narrowed_guards_accept_only_their_transports() {
    let server = start().await;
    let (id, token) = user(&server, "ada@example.com").await;
    assert_eq!(
        get_as(&server, "/bearer-only", Some(&token)).await,
        (StatusCode::OK, json!({ "transport": "bearer" }))
    );
    assert_eq!(get_as(&server, "/built-ins", Some(&token)).await.0, 204);
    let (status, body) = get_as(&server, "/session-only", Some(&token)).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "unauthenticated")
    );
    let (status, _) = get_as(&server, "/api-key-only", Some(&token)).await;
    assert_eq!(status, 401);

    // A session reaches the session-only handler, not the bearer-only one.
    let browser = server.login("ada@example.com").await;
    let session = server
        .as_browser(&browser, Method::GET, "/session-only", None)
        .await;
    assert_eq!(session.status(), 200);
    assert_eq!(
        session.json::<Value>().await.unwrap(),
        json!({ "transport": "session" })
    );
    let bearer = server
        .as_browser(&browser, Method::GET, "/bearer-only", None)
        .await;
    assert_eq!(bearer.status(), 401);

    // The custom transport, named by type.
    let response = server
        .client
        .get(server.url("/api-key-only"))
        .header("x-api-key", format!("demo-{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({ "id": id, "transport": "api_key" })
    );
    let response = server
        .client
        .get(server.url("/bearer-only"))
        .header("x-api-key", format!("demo-{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn superuser_and_verified_gates_refuse_with_403() {
    let server = start().await;
    let (id, token) = user(&server, "ada@example.com").await;
    let (status, body) = get_as(&server, "/admin", Some(&token)).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "insufficient_privileges")
    );
    let (status, body) = get_as(&server, "/verified", Some(&token)).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "not_verified")
    );

    set(&server, id, user::Column::IsSuperuser, true).await;
    set(&server, id, user::Column::EmailVerified, true).await;
    assert_eq!(
        get_as(&server, "/admin", Some(&token)).await,
        (StatusCode::OK, json!("admin"))
    );
    assert_eq!(
        get_as(&server, "/verified", Some(&token)).await,
        (StatusCode::OK, json!("verified"))
    );
}

#[tokio::test]
async fn scopes_gate_and_extractors_around_the_principal() {
    let server = start().await;
    let (id, token) = user(&server, "ada@example.com").await;
    let read_only = scoped_token(&server, "ada@example.com", "jobs:read").await;
    let post = |token: String| {
        server
            .client
            .post(server.url("/jobs/nightly"))
            .bearer_auth(token)
            .json(&json!({ "name": "backup" }))
            .send()
    };
    let refused = post(read_only).await.unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(
        refused.json::<Value>().await.unwrap()["code"],
        "insufficient_scope"
    );
    let created = post(token.clone()).await.unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(
        created.json::<Value>().await.unwrap(),
        json!({
            "n": 1,
            "queue": "nightly",
            "name": "backup",
            "owner": id,
            "scopes": ["jobs:read", "jobs:write", "seen"],
        })
    );
    // The guard runs before the body is read: anonymous is 401, not 422.
    let anonymous = server
        .client
        .post(server.url("/jobs/nightly"))
        .json(&json!({ "wrong": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn sync_and_async_checks_decide_access() {
    let server = start().await;
    let (first, first_token) = user(&server, "one@example.com").await;
    let (_, second_token) = user(&server, "two@example.com").await;
    let (even, odd) = if first % 2 == 0 {
        (first_token, second_token)
    } else {
        (second_token, first_token)
    };
    assert_eq!(
        get_as(&server, "/even", Some(&even)).await,
        (StatusCode::OK, json!("even"))
    );
    assert_eq!(
        get_as(&server, "/odd", Some(&odd)).await,
        (StatusCode::OK, json!("odd"))
    );
    for (path, token) in [("/even", &odd), ("/odd", &even)] {
        let (status, body) = get_as(&server, path, Some(token)).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::FORBIDDEN, "access_denied")
        );
    }
}

#[tokio::test]
async fn gates_run_in_order_superuser_verified_scopes_check() {
    let server = start().await;
    let (id, token) = user(&server, "ada@example.com").await;
    let (status, body) = get_as(&server, "/every-gate", Some(&token)).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "insufficient_privileges")
    );
    set(&server, id, user::Column::IsSuperuser, true).await;
    let (_, body) = get_as(&server, "/every-gate", Some(&token)).await;
    assert_eq!(code(&body), "not_verified");
    set(&server, id, user::Column::EmailVerified, true).await;
    let (_, body) = get_as(&server, "/every-gate", Some(&token)).await;
    assert_eq!(code(&body), "insufficient_scope");
    set(&server, id, user::Column::Scopes, "jobs:read admin").await;
    let token = server.access_token("ada@example.com").await;
    let (status, body) = get_as(&server, "/every-gate", Some(&token)).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "access_denied")
    );
}

#[tokio::test]
async fn authed_composes_with_debug_handler() {
    let server = start().await;
    let (id, token) = user(&server, "ada@example.com").await;
    assert_eq!(
        get_as(&server, "/debugged", Some(&token)).await,
        (StatusCode::OK, json!({ "id": id, "hits": 0 }))
    );
    assert_eq!(get_as(&server, "/debugged", None).await.0, 401);
}
