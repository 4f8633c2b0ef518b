//! The example page in a real browser: Debian's headless Chromium, driven
//! by `playwright-core` on Node.js (`tests/fixtures/browser/check.mjs`),
//! against the example server's binary. One scenario of the script per
//! test: the second factor (enrolment, the challenge step, the guarded
//! route), account recovery (the links of mails delivered to a real SMTP
//! server opened in the browser), and sign-in with a real OpenID provider
//! (the button, the provider's login page, back on the page signed in).
//!
//! Without `chromium`, Node.js or the fixture's packages (installed here
//! with `npm ci` from its lockfile when missing) the test fails under CI
//! (`CI` or `CRUDAUTH_REQUIRE_PG` set; `.ci/run` installs them) and is
//! skipped with a message elsewhere.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crudauth_tests::{
    CLIENT_ID, CLIENT_SECRET, SmtpMode, SmtpServer, TestProvider, example_binary, free_port,
};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/browser")
}

fn succeeds(command: &mut std::process::Command) -> bool {
    command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Chromium, Node.js and the fixture's `playwright-core`, installed from
/// the lockfile once per test binary; `Err` says what is missing.
fn browser_ready() -> Result<(), String> {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    READY
        .get_or_init(|| {
            if !succeeds(std::process::Command::new("chromium").arg("--version")) {
                return Err("no chromium binary (apt-get install chromium)".to_owned());
            }
            if !succeeds(std::process::Command::new("node").arg("--version")) {
                return Err("no node (Node.js 20 or later)".to_owned());
            }
            if fixture().join("node_modules/playwright-core").exists() {
                return Ok(());
            }
            let installed = std::process::Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(fixture())
                .status()
                .map_err(|e| format!("npm: {e}"))?;
            if installed.success() {
                Ok(())
            } else {
                Err(format!(
                    "npm ci in tests/fixtures/browser failed: {installed}"
                ))
            }
        })
        .clone()
}

fn browser_present() -> bool {
    let Err(missing) = browser_ready() else {
        return true;
    };
    let required = crudauth_tests::required_under_ci();
    assert!(
        !required,
        "the browser test is required under CI: {missing}"
    );
    eprintln!("skipped: {missing}");
    false
}

/// The example server's binary on `addr` with `env` (cookies without
/// `Secure`: the browser reaches it over plain HTTP), once it listens.
async fn start_example(addr: &str, env: &[(&str, String)]) -> Child {
    let mut command = Command::new(example_binary());
    command
        .env("CRUDAUTH_ADDR", addr)
        .env("CRUDAUTH_INSECURE_COOKIES", "1")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    for (name, value) in env {
        command.env(name, value);
    }
    let mut server = command.spawn().expect("start the example server");
    let started = Instant::now();
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        if let Ok(Some(status)) = server.try_wait() {
            panic!("the example server exited: {status}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the example server never listened"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server
}

/// Runs the browser script's `args` against `http://{addr}`; its requests
/// for mail links (`mail-link <address>`) are answered from `smtp`, each
/// with the next mail to that address not yet handed out.
async fn browser_check(addr: &str, args: &[&str], smtp: Option<&SmtpServer>) -> Output {
    let mut child = Command::new("node")
        .arg(fixture().join("check.mjs"))
        .arg(format!("http://{addr}"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run node");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut stderr = child.stderr.take().expect("stderr");
    let converse = async {
        let mut said = Vec::new();
        let mut handed_out: HashMap<String, usize> = HashMap::new();
        while let Some(line) = lines.next_line().await.expect("read the script's output") {
            let Some(address) = line.strip_prefix("mail-link ") else {
                said.extend_from_slice(line.as_bytes());
                said.push(b'\n');
                continue;
            };
            let smtp = smtp.expect("the scenario reads mail: give it an SMTP server");
            let next = handed_out.entry(address.to_owned()).or_default();
            let link = next_link(smtp, address, *next).await;
            *next += 1;
            stdin
                .write_all(format!("{link}\n").as_bytes())
                .await
                .expect("answer the script");
        }
        let mut errors = Vec::new();
        let _ = stderr.read_to_end(&mut errors).await;
        let status = child.wait().await.expect("the script's status");
        Output {
            status,
            stdout: said,
            stderr: errors,
        }
    };
    tokio::time::timeout(Duration::from_secs(120), converse)
        .await
        .expect("the browser check finished within two minutes")
}

/// The link in the `index`-th mail to `address`, once it has arrived.
async fn next_link(smtp: &SmtpServer, address: &str, index: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mails: Vec<_> = smtp
            .messages()
            .into_iter()
            .filter(|m| m.to.iter().any(|to| to.eq_ignore_ascii_case(address)))
            .collect();
        if let Some(mail) = mails.get(index) {
            return mail
                .link()
                .unwrap_or_else(|| panic!("mail without a link: {mail:#?}"));
        }
        assert!(
            Instant::now() < deadline,
            "mail #{index} to {address} never arrived; received: {:#?}",
            smtp.messages()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn assert_passed(output: &Output) {
    eprint!("{}", String::from_utf8_lossy(&output.stdout));
    assert!(
        output.status.success(),
        "browser check failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
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
