//! Second factor and sudo (SQLite and PostgreSQL): `/sudo` renews a
//! credential's freshness and counts failures against the lockout; the
//! proofs ride on the session or token family, and a refresh keeps them.

use axum::Json;
use axum::routing::post;
use crudauth::{Principal, authed};
use crudauth_tests::{
    Backend, PASSWORD, Server, assert_error, on_both_backends, start_app, token_pair,
};
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
        |db| example_web_and_api::auth_builder(db, crudauth_tests::config()),
        |auth| {
            axum::Router::new()
                .route("/admin/rotate", post(rotate_keys))
                .route("/admin/wire", post(wire_money))
                .with_state(auth.clone())
        },
    )
    .await
}

/// Moves every credential's last proof `secs` into the past.
async fn age_proofs(server: &Server, secs: i64) {
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

async fn sudo_makes_an_old_sign_in_fresh_again(backend: Backend) {
    let server = server(backend).await;
    server.register("ada@example.com").await;
    let browser = server.login("ada@example.com").await;
    let pair = server.token("ada@example.com").await;
    let (access, _) = token_pair(&pair);
    age_proofs(&server, 600).await;
    let res = server
        .as_browser(&browser, Method::POST, "/admin/rotate", Some(&browser.csrf))
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "reauthentication_required").await;
    let res = server
        .with_bearer(Method::POST, "/admin/rotate", &access)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::FORBIDDEN, "reauthentication_required").await;

    // Without its CSRF token, a session's sudo is refused.
    let res = server
        .as_browser(&browser, Method::POST, "/sudo", None)
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "csrf_failed").await;
    let res = server
        .with_cookie(Method::POST, "/sudo", &browser)
        .json(&json!({ "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert!(body["fresh_until"].is_string(), "{body}");
    let res = server
        .as_browser(&browser, Method::POST, "/admin/rotate", Some(&browser.csrf))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    // The session's sudo did not renew the token family.
    let res = server
        .with_bearer(Method::POST, "/admin/rotate", &access)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::FORBIDDEN, "reauthentication_required").await;
    let res = server
        .with_bearer(Method::POST, "/sudo", &access)
        .json(&json!({ "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = server
        .with_bearer(Method::POST, "/admin/rotate", &access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

async fn a_refresh_keeps_the_last_proof(backend: Backend) {
    let server = server(backend).await;
    server.register("ada@example.com").await;
    let pair = server.token("ada@example.com").await;
    let (_, refresh) = token_pair(&pair);
    age_proofs(&server, 600).await;
    let res = server
        .post_json("/refresh", json!({ "refresh_token": refresh }))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let (access, _) = token_pair(&res.json().await.unwrap());
    // A refresh is no proof: the family stays as old as its last one.
    let res = server
        .with_bearer(Method::POST, "/admin/rotate", &access)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::FORBIDDEN, "reauthentication_required").await;
}

async fn wrong_sudo_passwords_count_against_the_lockout(backend: Backend) {
    let server = server(backend).await;
    server.register("ada@example.com").await;
    let access = server.access_token("ada@example.com").await;
    for _ in 0..5 {
        let res = server
            .with_bearer(Method::POST, "/sudo", &access)
            .json(&json!({ "password": "not the password" }))
            .send()
            .await
            .unwrap();
        assert_error(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    // Locked: the right password is refused too, and so is a login.
    let res = server
        .with_bearer(Method::POST, "/sudo", &access)
        .json(&json!({ "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "locked").await;
    let res = server
        .post_json(
            "/token",
            json!({ "username": "ada@example.com", "password": PASSWORD }),
        )
        .await;
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "locked").await;
}

on_both_backends!(
    sudo_makes_an_old_sign_in_fresh_again,
    a_refresh_keeps_the_last_proof,
    wrong_sudo_passwords_count_against_the_lockout,
);
