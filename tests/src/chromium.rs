//! Debian's headless Chromium, driven by `playwright-core` on Node.js from
//! the scripts in `tests/fixtures/browser`, against an example server's
//! binary: whether the parts are there, running a script, and answering
//! the questions it asks on its standard output.
//!
//! Without `chromium`, Node.js or the fixture's packages (installed here
//! with `npm ci` from its lockfile when missing) a browser test fails under
//! CI (`CI` or `CRUDAUTH_REQUIRE_PG` set; `.ci/run` installs them) and is
//! skipped with a message elsewhere.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use crate::SmtpServer;

/// `tests/fixtures/browser`: the scripts and their `node_modules`.
pub fn fixture() -> PathBuf {
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

/// Whether the browser test can run: `false` (after saying why) when a
/// part is missing outside CI; a panic when it is missing under CI.
pub fn browser_present() -> bool {
    let Err(missing) = browser_ready() else {
        return true;
    };
    let required = crate::required_under_ci();
    assert!(
        !required,
        "the browser test is required under CI: {missing}"
    );
    eprintln!("skipped: {missing}");
    false
}

/// Runs the fixture's `script` against `base` with `args`. Each line the
/// script prints is handed to `answer`: a `Some` is written back as one
/// line to the script's standard input (it asked a question), a `None`
/// keeps the line as the script's output.
pub async fn run_script(
    script: &str,
    base: &str,
    args: &[&str],
    mut answer: impl AsyncFnMut(&str) -> Option<String>,
) -> Output {
    let mut child = Command::new("node")
        .arg(fixture().join(script))
        .arg(base)
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
        while let Some(line) = lines.next_line().await.expect("read the script's output") {
            match answer(&line).await {
                Some(reply) => stdin
                    .write_all(format!("{reply}\n").as_bytes())
                    .await
                    .expect("answer the script"),
                None => {
                    said.extend_from_slice(line.as_bytes());
                    said.push(b'\n');
                }
            }
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

/// Answers a script's `mail-link <address>` with the link in the next mail
/// to that address not yet handed out, once it has arrived.
#[derive(Debug)]
pub struct MailLinks<'a> {
    smtp: Option<&'a SmtpServer>,
    handed_out: HashMap<String, usize>,
}

impl<'a> MailLinks<'a> {
    /// The links of the mails `smtp` receives (none: the scenario reads no
    /// mail).
    pub fn new(smtp: Option<&'a SmtpServer>) -> Self {
        Self {
            smtp,
            handed_out: HashMap::new(),
        }
    }

    /// The link, when `line` asks for one.
    pub async fn answer(&mut self, line: &str) -> Option<String> {
        let address = line.strip_prefix("mail-link ")?;
        let smtp = self
            .smtp
            .expect("the scenario reads mail: give it an SMTP server");
        let next = self.handed_out.entry(address.to_owned()).or_default();
        let link = next_link(smtp, address, *next).await;
        *next += 1;
        Some(link)
    }
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

/// Shows what the script printed, and fails with its error when it failed.
pub fn assert_passed(output: &Output) {
    eprint!("{}", String::from_utf8_lossy(&output.stdout));
    assert!(
        output.status.success(),
        "browser check failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
