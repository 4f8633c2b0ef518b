//! The example page in a real browser: Debian's headless Chromium, driven
//! by `examples/web-and-api/browser-check.py` over the DevTools pipe,
//! against the example server's binary: register, log in, enable
//! two-factor (QR code, confirming code, recovery codes), the `mfa` route
//! refused for a password-only session, then the challenge step at login
//! and the guarded route passing.
//!
//! Without `chromium` the test fails under CI (`CI` or `CRUDAUTH_REQUIRE_PG`
//! set; `.ci/run` installs it) and is skipped with a message elsewhere.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crudauth_tests::{example_binary, free_port};
use tokio::process::Command;

fn chromium_present() -> bool {
    std::process::Command::new("chromium")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_page_enrols_a_second_factor_and_signs_in_through_the_challenge() {
    if !chromium_present() {
        let required =
            std::env::var_os("CI").is_some() || std::env::var_os("CRUDAUTH_REQUIRE_PG").is_some();
        assert!(
            !required,
            "chromium is required under CI (apt-get install chromium)"
        );
        eprintln!("skipped: no chromium binary (apt-get install chromium)");
        return;
    }
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let key: String = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>())
    };
    let mut server = Command::new(example_binary())
        .env("CRUDAUTH_ADDR", &addr)
        .env("CRUDAUTH_INSECURE_COOKIES", "1")
        .env("CRUDAUTH_MFA_KEY", key)
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the example server");
    let started = Instant::now();
    while tokio::net::TcpStream::connect(&addr).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the example server never listened"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/web-and-api/browser-check.py");
    let run = Command::new("python3")
        .arg(script)
        .arg(format!("http://{addr}"))
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the browser check finished within two minutes")
        .expect("run python3");
    let _ = server.kill().await;
    assert!(
        output.status.success(),
        "browser check failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
