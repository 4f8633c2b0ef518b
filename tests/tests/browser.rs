//! The example page in a real browser: Debian's headless Chromium, driven
//! by `playwright-core` on Node.js (`tests/fixtures/browser/check.mjs`),
//! against the example server's binary. One scenario of the script per
//! test: the second factor (enrolment, the challenge step, the guarded
//! route), account recovery (the links of mails delivered to a real SMTP
//! server opened in the browser), and sign-in with a real OpenID provider
//! (the button, the provider's login page, back on the page signed in).
//!
//! Without `chromium`, Node.js or the fixture's packages the tests fail
//! under CI and are skipped elsewhere (`crudauth_tests::chromium`).

use crudauth_tests::chromium::{MailLinks, assert_passed, browser_present, run_script};
use crudauth_tests::{
    CLIENT_ID, CLIENT_SECRET, SmtpMode, SmtpServer, TestProvider, example_binary, free_port,
    start_binary,
};
use serde_json::json;
use tokio::process::Child;

/// The example server's binary on `addr` with `env`, once it listens.
async fn start_example(addr: &str, env: &[(&str, String)]) -> Child {
    start_binary(example_binary(), addr, env).await
}

/// Runs `check.mjs`'s `args` against `http://{addr}`; its requests for
/// mail links (`mail-link <address>`) are answered from `smtp`.
async fn browser_check(
    addr: &str,
    args: &[&str],
    smtp: Option<&SmtpServer>,
) -> std::process::Output {
    let mut mail = MailLinks::new(smtp);
    run_script(
        "check.mjs",
        &format!("http://{addr}"),
        args,
        async |line: &str| mail.answer(line).await,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_page_enrols_a_second_factor_and_signs_in_through_the_challenge() {
    if !browser_present() {
        return;
    }
    let addr = format!("127.0.0.1:{}", free_port());
    let key: String = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>())
    };
    let mut server = start_example(&addr, &[("CRUDAUTH_MFA_KEY", key)]).await;
    let output = browser_check(&addr, &["--scenario", "mfa"], None).await;
    let _ = server.kill().await;
    assert_passed(&output);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_page_verifies_resets_and_changes_email_through_mailed_links() {
    if !browser_present() {
        return;
    }
    let smtp = SmtpServer::start(SmtpMode::Accept).await;
    let addr = format!("127.0.0.1:{}", free_port());
    let mut server = start_example(
        &addr,
        &[
            ("CRUDAUTH_SMTP_URL", smtp.url()),
            ("CRUDAUTH_PUBLIC_ORIGIN", format!("http://{addr}")),
        ],
    )
    .await;
    let output = browser_check(&addr, &["--scenario", "recovery"], Some(&smtp)).await;
    let _ = server.kill().await;
    assert_passed(&output);
    // Every link the page opened was the server's own, built from the
    // public origin with SPEC's paths, which the page is served at.
    let links: Vec<String> = smtp.messages().iter().filter_map(|m| m.link()).collect();
    assert_eq!(links.len(), 4, "{links:#?}");
    for link in &links {
        assert!(
            ["/verify-email", "/reset-password", "/confirm-email"]
                .iter()
                .any(|path| link.starts_with(&format!("http://{addr}{path}?token="))),
            "{link}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_page_signs_in_with_an_openid_provider() {
    if !browser_present() {
        return;
    }
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let accounts = json!({ "grace": { "email": "grace@example.com", "email_verified": true } });
    let Some(provider) =
        TestProvider::start(&accounts, &[format!("http://{addr}/oauth/testid/callback")])
    else {
        return;
    };
    let mut server = start_example(
        &addr,
        &[
            ("CRUDAUTH_OIDC_ISSUER", provider.issuer.clone()),
            ("CRUDAUTH_OIDC_CLIENT_ID", CLIENT_ID.to_owned()),
            ("CRUDAUTH_OIDC_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
            ("CRUDAUTH_OIDC_NAME", "testid".to_owned()),
        ],
    )
    .await;
    let output = browser_check(
        &addr,
        &[
            "--scenario",
            "oidc",
            "--provider",
            "testid",
            "--account",
            "grace",
            "--email",
            "grace@example.com",
        ],
        None,
    )
    .await;
    let _ = server.kill().await;
    assert_passed(&output);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_page_asks_for_the_code_after_a_provider_sign_in_into_an_enrolled_account() {
    if !browser_present() {
        return;
    }
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let accounts = json!({ "hedy": { "email": "hedy@example.com", "email_verified": true } });
    let Some(provider) =
        TestProvider::start(&accounts, &[format!("http://{addr}/oauth/testid/callback")])
    else {
        return;
    };
    let smtp = SmtpServer::start(SmtpMode::Accept).await;
    let key: String = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>())
    };
    let mut server = start_example(
        &addr,
        &[
            ("CRUDAUTH_OIDC_ISSUER", provider.issuer.clone()),
            ("CRUDAUTH_OIDC_CLIENT_ID", CLIENT_ID.to_owned()),
            ("CRUDAUTH_OIDC_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
            ("CRUDAUTH_OIDC_NAME", "testid".to_owned()),
            ("CRUDAUTH_MFA_KEY", key),
            ("CRUDAUTH_SMTP_URL", smtp.url()),
            ("CRUDAUTH_PUBLIC_ORIGIN", format!("http://{addr}")),
        ],
    )
    .await;
    let output = browser_check(
        &addr,
        &[
            "--scenario",
            "oidc-mfa",
            "--provider",
            "testid",
            "--account",
            "hedy",
            "--email",
            "hedy@example.com",
        ],
        Some(&smtp),
    )
    .await;
    let _ = server.kill().await;
    assert_passed(&output);
}
