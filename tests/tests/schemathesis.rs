//! Outside fuzzing in the test suite: `scripts/schemathesis.sh` runs
//! schemathesis (from PyPI, installed by `.ci/run`) against the example
//! server binary's own `GET /openapi.json`, signed in and anonymously, with
//! a bounded number of cases per operation; any 5xx, any answer the
//! document does not allow, or a panic fails it.

use std::path::PathBuf;
use std::process::Command;

use crudauth_tests::example_binary;

/// Cases per operation: enough to reach every operation's refusals in a
/// few minutes (the script's own default, for a run by hand, is 100).
const MAX_EXAMPLES: &str = "25";

/// The venv `.ci/run` and the script install schemathesis into.
fn venv() -> PathBuf {
    if let Some(dir) = std::env::var_os("SCHEMATHESIS_VENV") {
        return dir.into();
    }
    // target/<profile>/deps/<this test> -> target/
    let target = std::env::current_exe()
        .expect("the test's path")
        .ancestors()
        .nth(3)
        .expect("the target directory")
        .to_owned();
    target.join("schemathesis-venv")
}

use crudauth_tests::required_under_ci as required;

#[test]
fn schemathesis_finds_no_5xx_and_no_answer_outside_the_document() {
    let venv = venv();
    if !venv.join("bin/st").exists() {
        assert!(
            !required(),
            "schemathesis is required (CI): .ci/run installs it into {}",
            venv.display()
        );
        eprintln!(
            "skipping: no schemathesis at {} (run .ci/run or scripts/schemathesis.sh once)",
            venv.display()
        );
        return;
    }
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_owned();
    let out = Command::new("bash")
        .arg(workspace.join("scripts/schemathesis.sh"))
        .env("SCHEMATHESIS_VENV", &venv)
        .env("EXAMPLE_BINARY", example_binary())
        .env("SCHEMATHESIS_MAX_EXAMPLES", MAX_EXAMPLES)
        .env("NO_COLOR", "1")
        .output()
        .expect("run scripts/schemathesis.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The summary lines, for the log of a passing run too.
    for line in stdout.lines().filter(|l| {
        l.starts_with("==") || l.contains("passed") || l.contains("failed") || l.contains("cases")
    }) {
        eprintln!("{line}");
    }
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{stdout}\n{stderr}"
    );
}
