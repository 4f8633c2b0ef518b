//! The example servers as separate processes, for tests that run their
//! binaries (several instances, the admin commands, a real browser).

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Once;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

/// The web-and-API example's binary, next to this test's own profile
/// directory, built (or brought up to date) once per test process.
pub fn example_binary() -> PathBuf {
    static BUILD: Once = Once::new();
    built("example-web-and-api", &BUILD)
}

/// The server-rendered example's binary, as [`example_binary`].
pub fn server_rendered_binary() -> PathBuf {
    static BUILD: Once = Once::new();
    built("example-server-rendered", &BUILD)
}

/// The binary of `package` (named as the package), built once per `build`.
fn built(package: &str, build: &Once) -> PathBuf {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_owned();
    build.call_once(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = std::process::Command::new(cargo);
        build
            .current_dir(&workspace)
            .args(["build", "--quiet", "-p", package, "--bin", package]);
        if !cfg!(debug_assertions) {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo build");
        assert!(status.success(), "cargo build -p {package} failed");
    });
    // target/<profile>/deps/<this test> -> target/<profile>/
    let profile_dir = std::env::current_exe()
        .expect("the test's path")
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>")
        .to_owned();
    profile_dir.join(format!("{package}{}", std::env::consts::EXE_SUFFIX))
}

/// An example server's `binary` on `addr` with `env` (cookies without
/// `Secure`: a browser reaches it over plain HTTP; an in-memory database),
/// once it listens. It is killed when dropped.
pub async fn start_binary(binary: PathBuf, addr: &str, env: &[(&str, String)]) -> Child {
    let mut command = Command::new(binary);
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
