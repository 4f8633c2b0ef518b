//! The `mfa` and `fresh` gates of `#[authed]` at run time (SQLite and
//! PostgreSQL): a password-only login never passes `mfa`; `fresh` passes a
//! recent password proof and refuses an old one, on both transports.

use crudauth_tests::second_factor::{age_proofs, mfa_server as server};
use crudauth_tests::{Backend, assert_error, on_both_backends};
use reqwest::{Method, StatusCode};

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
    age_proofs(&server, 240).await;
    let res = server
        .with_bearer(Method::POST, "/admin/rotate", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    age_proofs(&server, 120).await;
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
