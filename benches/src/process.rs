//! Server processes: start one, wait for its `listening on` line, read its
//! peak RSS, stop it; and the databases they run on.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sea_orm::{ConnectionTrait, Database};

/// A running server process, killed on drop.
#[derive(Debug)]
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
}

impl Server {
    /// Starts `command` and waits (at most a minute) for its
    /// `listening on http://ADDR` line.
    pub fn start(mut command: Command) -> Result<Self, String> {
        command
            .env("BENCH_ADDR", "127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command
            .spawn()
            .map_err(|e| format!("spawn {command:?}: {e}"))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !sent && let Some(addr) = line.trim().strip_prefix("listening on http://") {
                    let _ = tx.send(addr.to_owned());
                    sent = true;
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().ok();
                return Err(format!(
                    "{command:?} did not print `listening on` (exit: {status:?})"
                ));
            }
        };
        let addr = addr
            .parse()
            .map_err(|e| format!("bad address {addr:?}: {e}"))?;
        Ok(Self { child, addr })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Forgets the peak RSS so far, so that the next reading covers only
    /// what follows (setup hashes passwords; the load is what we measure).
    pub fn reset_peak_rss(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5");
    }

    /// `VmHWM` in KiB: the peak resident set since start or the last reset.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Which database a server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn label(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// A database that exists for one server process: a SQLite file in the
/// temp dir, or a fresh PostgreSQL database; removed on drop.
#[derive(Debug)]
pub struct TempDb {
    pub url: String,
    kind: TempKind,
}

#[derive(Debug)]
enum TempKind {
    Sqlite(PathBuf),
    Postgres { admin: String, name: String },
}

/// The PostgreSQL server's maintenance database (trust auth on loopback).
pub fn pg_admin_url() -> String {
    std::env::var("CRUDAUTH_BENCH_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn unique_name() -> String {
    format!("crudauth_bench_{}", uuid::Uuid::new_v4().simple())
}

impl TempDb {
    pub async fn create(backend: Backend) -> Result<Self, String> {
        let name = unique_name();
        match backend {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("{name}.db"));
                Ok(Self {
                    url: format!("sqlite://{}?mode=rwc", path.display()),
                    kind: TempKind::Sqlite(path),
                })
            }
            Backend::Postgres => {
                let admin = pg_admin_url();
                let db = Database::connect(&admin)
                    .await
                    .map_err(|e| format!("PostgreSQL at {admin}: {e}"))?;
                db.execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .map_err(|e| format!("CREATE DATABASE: {e}"))?;
                let _ = db.close().await;
                let base = &admin[..admin.rfind('/').unwrap_or(admin.len())];
                Ok(Self {
                    url: format!("{base}/{name}"),
                    kind: TempKind::Postgres { admin, name },
                })
            }
        }
    }

    /// Removes the database; call after its server has stopped.
    pub async fn remove(self) {
        match &self.kind {
            TempKind::Sqlite(path) => {
                for suffix in ["", "-wal", "-shm", "-journal"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            TempKind::Postgres { admin, name } => {
                if let Ok(db) = Database::connect(admin).await {
                    let _ = db
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                    let _ = db.close().await;
                }
            }
        }
    }
}

/// Whether a PostgreSQL server answers at [`pg_admin_url`].
pub async fn postgres_reachable() -> Result<(), String> {
    let db = Database::connect(pg_admin_url())
        .await
        .map_err(|e| e.to_string())?;
    let _ = db.close().await;
    Ok(())
}
