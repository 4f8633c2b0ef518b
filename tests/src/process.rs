//! The example server as a separate process, for tests that run its
//! binary (several instances, the admin commands).

use std::path::PathBuf;
use std::sync::Once;

/// The example server's binary, next to this test's own profile directory,
/// built (or brought up to date) once per test process.
pub fn example_binary() -> PathBuf {
    static BUILD: Once = Once::new();
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_owned();
    BUILD.call_once(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = std::process::Command::new(cargo);
        build
            .current_dir(&workspace)
            .args(["build", "--quiet", "-p", "example-web-and-api", "--bin"])
            .arg("example-web-and-api");
        if !cfg!(debug_assertions) {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo build");
        assert!(
            status.success(),
            "cargo build -p example-web-and-api failed"
        );
    });
    // target/<profile>/deps/<this test> -> target/<profile>/
    let profile_dir = std::env::current_exe()
        .expect("the test's path")
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>")
        .to_owned();
    profile_dir.join(format!(
        "example-web-and-api{}",
        std::env::consts::EXE_SUFFIX
    ))
}
