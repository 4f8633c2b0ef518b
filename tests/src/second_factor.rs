//! The second factor as the tests drive it: the example with an MFA key and
//! two guarded routes, enrolment through a password login, and proofs aged
//! behind crudauth's back.

use axum::Json;
use axum::routing::post;
use crudauth::{Principal, authed};
use reqwest::StatusCode;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::{Backend, MFA_KEY, PASSWORD, Server, assert_error, start_app, totp_code};

#[authed(fresh = "5m")]
async fn rotate_keys(user: Principal) -> Json<Value> {
    Json(json!({ "by": user.user_id }))
}

#[authed(mfa)]
async fn wire_money(user: Principal) -> Json<Value> {
    Json(json!({ "by": user.user_id }))
}

/// The example with the second factor on ([`MFA_KEY`]), and two routes of
/// the application: `POST /admin/rotate` (`fresh = "5m"`) and
/// `POST /admin/wire` (`mfa`).
pub async fn mfa_server(backend: Backend) -> Server {
    start_app(
        backend,
        |db| example_web_and_api::auth_builder(db, crate::config()).mfa_key(MFA_KEY),
        |auth| {
            axum::Router::new()
                .route("/admin/rotate", post(rotate_keys))
                .route("/admin/wire", post(wire_money))
                .with_state(auth.clone())
        },
    )
    .await
}

/// Moves every credential's last proof `secs` into the past, behind
/// crudauth's back, then tells the principal cache as an application
/// editing these rows would.
pub async fn age_proofs(server: &Server, secs: i64) {
    let mut owners = Vec::new();
    for table in ["crudauth_sessions", "crudauth_token_families"] {
        server
            .sql(&format!(
                "UPDATE {table} SET authenticated_at = authenticated_at - {secs}"
            ))
            .await;
        let rows = server
            .db
            .query_all_raw(sea_orm::Statement::from_string(
                server.db.get_database_backend(),
                format!("SELECT DISTINCT user_id FROM {table}"),
            ))
            .await
            .unwrap();
        for row in rows {
            owners.push(row.try_get::<String>("", "user_id").unwrap());
        }
    }
    for owner in owners {
        server
            .auth
            .invalidate_user(owner.parse::<i64>().unwrap())
            .await;
    }
}

/// Enrols `email` (already registered) in TOTP through a password login;
/// returns the base32 secret and the ten recovery codes. A wrong code is
/// refused first; the confirming code is of the previous step, leaving the
/// current and next ones to the test.
pub async fn enrol(server: &Server, email: &str) -> (String, Vec<String>) {
    let browser = server.login(email).await;
    let res = server
        .post_as_browser(&browser, "/mfa/totp/setup", json!({ "password": PASSWORD }))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.unwrap();
    let secret = body["secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 32, "160 bits in base32");
    let uri = body["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")), "{uri}");
    assert!(body["qr_svg"].as_str().unwrap().contains("<svg"));
    let wrong = wrong_code(&secret);
    let res = server
        .post_as_browser(&browser, "/mfa/totp/confirm", json!({ "code": wrong }))
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_code").await;
    let res = server
        .post_as_browser(
            &browser,
            "/mfa/totp/confirm",
            json!({ "code": totp_code(&secret, -1) }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    let codes: Vec<String> = body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    (secret, codes)
}

/// A code that is none of the three the server accepts now.
pub fn wrong_code(secret: &str) -> String {
    let accepted: Vec<String> = (-1..=1).map(|step| totp_code(secret, step)).collect();
    (0..1_000_000)
        .map(|n| format!("{n:06}"))
        .find(|code| !accepted.contains(code))
        .unwrap()
}
