//! A real OpenID provider for the sign-in tests: the certified
//! `oidc-provider` npm package (tests/fixtures/oidc-provider) run by the
//! machine's Node.js on a loopback port, stopped when dropped.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

/// The confidential client the provider knows.
pub const CLIENT_ID: &str = "test-client";
/// Its secret.
pub const CLIENT_SECRET: &str = "test-secret";
/// The public (PKCE-only) client the provider knows.
pub const PUBLIC_CLIENT_ID: &str = "public-client";

/// A running provider.
#[derive(Debug)]
pub struct TestProvider {
    /// `http://127.0.0.1:<port>`.
    pub issuer: String,
    child: Child,
}

impl Drop for TestProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/oidc-provider")
}

use crate::required_under_ci as required;

/// A free loopback port (bound, then released for the provider).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Installs the fixture's packages from its lockfile once per test binary.
fn install() -> Result<(), String> {
    static INSTALLED: Mutex<bool> = Mutex::new(false);
    let mut done = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    if *done || fixture().join("node_modules/oidc-provider").exists() {
        *done = true;
        return Ok(());
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(fixture())
        .status()
        .map_err(|e| format!("npm: {e}"))?;
    if !status.success() {
        return Err(format!("npm ci failed: {status}"));
    }
    *done = true;
    Ok(())
}

impl TestProvider {
    /// Starts the provider with `accounts` (`{"<id>": {"email", "email_verified"}}`)
    /// and the test app's `redirect_uris`. `None` (the test skips) when
    /// Node.js is missing, unless under CI (`CI` or `CRUDAUTH_REQUIRE_PG`),
    /// where that is a failure.
    pub fn start(accounts: &Value, redirect_uris: &[String]) -> Option<Self> {
        let node = Command::new("node").arg("--version").output();
        if node.is_err() {
            assert!(!required(), "Node.js is required (CI) for the OIDC tests");
            eprintln!("skipping an OIDC test: no node");
            return None;
        }
        if let Err(err) = install() {
            assert!(!required(), "installing the OIDC provider fixture: {err}");
            eprintln!("skipping an OIDC test: {err}");
            return None;
        }
        let port = free_port();
        let mut child = Command::new("node")
            .arg("server.js")
            .current_dir(fixture())
            .env("PORT", port.to_string())
            .env("REDIRECT_URIS", redirect_uris.join(","))
            .env("ACCOUNTS", accounts.to_string())
            .env("CLIENT_ID", CLIENT_ID)
            .env("CLIENT_SECRET", CLIENT_SECRET)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start node");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("listening on") {
                    let _ = tx.send(());
                }
            }
        });
        let provider = Self {
            issuer: format!("http://127.0.0.1:{port}"),
            child,
        };
        rx.recv_timeout(Duration::from_secs(30))
            .expect("the OIDC provider did not start within 30 s");
        Some(provider)
    }
}
