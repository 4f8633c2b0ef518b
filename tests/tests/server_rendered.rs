//! The server-rendered example (`examples/server-rendered`) in a real
//! browser with JavaScript switched off: Debian's headless Chromium driven
//! by `playwright-core` (`tests/fixtures/browser/server_rendered.mjs`)
//! against the example's binary, with a real SMTP server for the reset
//! link. Register, sign in (a wrong password first), the account page,
//! sign out, the password reset through the mailed link, then the second
//! factor's code page, every step a plain form.
//!
//! Without `chromium`, Node.js or the fixture's packages the test fails
//! under CI and is skipped elsewhere (`crudauth_tests::chromium`).

use crudauth_tests::chromium::{MailLinks, assert_passed, browser_present, run_script};
use crudauth_tests::{
    SmtpMode, SmtpServer, free_port, server_rendered_binary, start_binary, totp_code,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

const EMAIL: &str = "ada@example.com";
const PASSWORD: &str = "first password 1";
const NEW_PASSWORD: &str = "second password 2";

/// Enrols `email` in TOTP through crudauth's JSON API, as an authenticator
/// app's owner would on another page; returns the base32 secret. The
/// confirming code is of the previous step, leaving the current one to
/// the browser.
async fn enrol(base: &str, email: &str, password: &str) -> String {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("client");
    let res = client
        .post(format!("{base}/login"))
        .json(&json!({ "username": email, "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "login");
    let login: Value = res.json().await.unwrap();
    let csrf = login["csrf_token"]
        .as_str()
        .expect("a CSRF token")
        .to_owned();
    let res = client
        .post(format!("{base}/mfa/totp/setup"))
        .header("x-csrf-token", &csrf)
        .json(&json!({ "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "setup");
    let setup: Value = res.json().await.unwrap();
    let secret = setup["secret"].as_str().expect("a secret").to_owned();
    let res = client
        .post(format!("{base}/mfa/totp/confirm"))
        .header("x-csrf-token", &csrf)
        .json(&json!({ "code": totp_code(&secret, -1) }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "confirm");
    secret
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_rendered_pages_work_with_javascript_off() {
    if !browser_present() {
        return;
    }
    let smtp = SmtpServer::start(SmtpMode::Accept).await;
    let addr = format!("127.0.0.1:{}", free_port());
    let base = format!("http://{addr}");
    let key: String = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>())
    };
    let mut server = start_binary(
        server_rendered_binary(),
        &addr,
        &[
            ("CRUDAUTH_MFA_KEY", key),
            ("CRUDAUTH_SMTP_URL", smtp.url()),
            ("CRUDAUTH_PUBLIC_ORIGIN", base.clone()),
        ],
    )
    .await;
    let mut mail = MailLinks::new(Some(&smtp));
    let mut secret: Option<String> = None;
    let output = run_script(
        "server_rendered.mjs",
        &base,
        &[
            "--email",
            EMAIL,
            "--password",
            PASSWORD,
            "--new-password",
            NEW_PASSWORD,
        ],
        async |line: &str| match line {
            "enrol" => {
                secret = Some(enrol(&base, EMAIL, NEW_PASSWORD).await);
                Some("enrolled".to_owned())
            }
            "totp-code" => Some(totp_code(secret.as_deref().expect("enrolled first"), 0)),
            _ => mail.answer(line).await,
        },
    )
    .await;
    let _ = server.kill().await;
    assert_passed(&output);
}
