//! The `mfa` and `fresh` gates of `#[authed]` at run time (SQLite and
//! PostgreSQL): a password-only login never passes `mfa`; `fresh` passes a
//! recent password proof and refuses an old one, on both transports.

use axum::Json;
use axum::routing::post;
use crudauth::{Principal, authed};
use crudauth_tests::{Backend, Server, assert_error, on_both_backends, start_app};
use reqwest::{Method, StatusCode};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

#[authed(fresh = "5m")]
async fn rotate_keys(user: Principal) -> Json<Value> {
    Json(json!({ "by": user.user_id }))
}

#[authed(mfa)]
async fn wire_money(user: Principal) -> Json<Value> {
    Json(json!({ "by": user.user_id }))
}

async fn server(backend: Backend) -> Server {
    start_app(
        backend,
        // The tests age credentials with SQL, behind the cache's back.
        |db| {
            example_web_and_api::auth_builder(db, crudauth_tests::config())
                .principal_cache(std::time::Duration::ZERO, 0)
        },
        |auth| {
            axum::Router::new()
                .route("/admin/rotate", post(rotate_keys))
                .route("/admin/wire", post(wire_money))
                .with_state(auth.clone())
        },
    )
    .await
}

async fn age_credentials(server: &Server, secs: i64) {
    for table in ["crudauth_sessions", "crudauth_token_families"] {
        server
            .db
            .execute_unprepared(&format!(
                "UPDATE {table} SET authenticated_at = authenticated_at - {secs}"
            ))
            .await
            .unwrap();
    }
}

async fn fresh_passes_a_recent_sign_in_and_refuses_an_old_one(backend: Backend) {
    let server = server(backend).await;
    server.register("ada@example.com").await;
    let browser = server.login("ada@example.com").await;
    let token = server.access_token("ada@example.com").await;
    let res = server
        .as_browser(&browser, Method::POST, "/admin/rotate", Some(&browser.csrf))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = server
        .with_bearer(Method::POST, "/admin/rotate", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // Four minutes on, still fresh; six minutes on, not any more.
    age_credentials(&server, 240).await;
    let res = server
        .with_bearer(Method::POST, "/admin/rotate", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    age_credentials(&server, 120).await;
    let res = server
        .as_browser(&browser, Method::POST, "/admin/rotate", Some(&browser.csrf))
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "reauthentication_required").await;
    let res = server
        .with_bearer(Method::POST, "/admin/rotate", &token)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::FORBIDDEN, "reauthentication_required").await;
    // Signing in again is a fresh proof.
    let again = server.login("ada@example.com").await;
    let res = server
        .as_browser(&again, Method::POST, "/admin/rotate", Some(&again.csrf))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

async fn mfa_refuses_a_password_only_sign_in(backend: Backend) {
    let server = server(backend).await;
    server.register("ada@example.com").await;
    let browser = server.login("ada@example.com").await;
    let res = server
        .as_browser(&browser, Method::POST, "/admin/wire", Some(&browser.csrf))
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "mfa_required").await;
    let token = server.access_token("ada@example.com").await;
    let res = server
        .with_bearer(Method::POST, "/admin/wire", &token)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::FORBIDDEN, "mfa_required").await;
    // Anonymous is still 401, before any 403.
    let res = server
        .client
        .post(server.url("/admin/wire"))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

on_both_backends!(
    fresh_passes_a_recent_sign_in_and_refuses_an_old_one,
    mfa_refuses_a_password_only_sign_in,
);
