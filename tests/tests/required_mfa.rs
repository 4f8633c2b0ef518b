//! `.require_mfa(..)` over real sockets: a user it applies to signs in,
//! is held to the enrolment routes (403 `mfa_enrolment_required`
//! elsewhere, crudauth's routes and the application's alike), and is let
//! through by the credential that confirms the enrolment.

use crudauth::MfaRequirement;
use crudauth_tests::{
    Backend, Browser, MFA_KEY, PASSWORD, Server, assert_error, on_both_backends, start, totp_code,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    a_session_is_held_to_enrolment_until_its_code_confirms_it,
    a_bearer_token_is_let_through_once_its_enrolment_is_confirmed,
    superusers_only_holds_superusers,
);

async fn required(backend: Backend, who: MfaRequirement) -> Server {
    start(backend, |b| b.mfa_key(MFA_KEY).require_mfa(who)).await
}

async fn get(server: &Server, path: &str, browser: &Browser) -> reqwest::Response {
    server
        .with_cookie(Method::GET, path, browser)
        .send()
        .await
        .unwrap()
}

/// Setup and confirm with `send` (a browser's or a bearer's requests).
async fn set_up(post: impl AsyncFn(&str, Value) -> reqwest::Response) {
    let res = post("/mfa/totp/setup", json!({ "password": PASSWORD })).await;
    assert_eq!(res.status(), StatusCode::OK);
    let secret = res.json::<Value>().await.unwrap()["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = post(
        "/mfa/totp/confirm",
        json!({ "code": totp_code(&secret, 0) }),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
}

async fn a_session_is_held_to_enrolment_until_its_code_confirms_it(backend: Backend) {
    let server = required(backend, MfaRequirement::All).await;
    let id = server.register("ada@example.com").await;
    let browser = server.login("ada@example.com").await;

    // The application's #[authed] routes and crudauth's own refuse...
    for path in ["/me", "/account", "/api/limited", "/sessions"] {
        let res = get(&server, path, &browser).await;
        assert_error(res, StatusCode::FORBIDDEN, "mfa_enrolment_required").await;
    }
    let res = server
        .post_as_browser(
            &browser,
            "/change-password",
            json!({ "current_password": PASSWORD, "new_password": "another long passphrase" }),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "mfa_enrolment_required").await;
    // ...the enrolment status says why, and enrolment is open.
    let status: Value = get(&server, "/mfa", &browser).await.json().await.unwrap();
    assert_eq!(
        status,
        json!({ "enabled": false, "recovery_codes_remaining": 0, "required": true })
    );
    set_up(async |path, body| server.post_as_browser(&browser, path, body).await).await;

    let me = get(&server, "/me", &browser).await;
    assert_eq!(me.json::<Value>().await.unwrap(), json!({ "id": id }));
    let status: Value = get(&server, "/mfa", &browser).await.json().await.unwrap();
    assert_eq!(status["required"], false);
    // The next sign-in asks for the code, as for any enrolled account.
    let res = server
        .post_json(
            "/login",
            json!({ "username": "ada@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(res.json::<Value>().await.unwrap()["mfa_required"], true);
    let logout = server
        .with_cookie(Method::POST, "/logout", &browser)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::OK);
}

async fn a_bearer_token_is_let_through_once_its_enrolment_is_confirmed(backend: Backend) {
    let server = required(backend, MfaRequirement::All).await;
    server.register("ada@example.com").await;
    let token = server.access_token("ada@example.com").await;
    let res = server.get_bearer("/me", &token).await;
    assert_error(res, StatusCode::FORBIDDEN, "mfa_enrolment_required").await;
    set_up(async |path, body| {
        server
            .with_bearer(Method::POST, path, &token)
            .json(&body)
            .send()
            .await
            .unwrap()
    })
    .await;
    assert_eq!(
        server.get_bearer("/me", &token).await.status(),
        StatusCode::OK
    );
}

async fn superusers_only_holds_superusers(backend: Backend) {
    let server = required(backend, MfaRequirement::Superusers).await;
    server.register("ada@example.com").await;
    let root = server.register("root@example.com").await;
    server
        .sql(&format!(
            "UPDATE users SET is_superuser = true WHERE id = {root}"
        ))
        .await;
    let ada = server.login("ada@example.com").await;
    let admin = server.login("root@example.com").await;
    assert_eq!(get(&server, "/me", &ada).await.status(), StatusCode::OK);
    let res = get(&server, "/api/admin", &admin).await;
    assert_error(res, StatusCode::FORBIDDEN, "mfa_enrolment_required").await;
}

#[tokio::test]
async fn a_required_second_factor_needs_its_key() {
    let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
    let err = example_web_and_api::auth_builder(db, crudauth_tests::config())
        .require_mfa(MfaRequirement::All)
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("require_mfa") && err.contains("mfa_key"),
        "{err}"
    );
}
