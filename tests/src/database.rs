//! Throwaway databases: a fresh SQLite file, or a fresh PostgreSQL database
//! dropped afterwards.

use std::time::Duration;

use sea_orm::{ConnectionTrait, Database};

/// The database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

fn admin_url() -> String {
    std::env::var("CRUDAUTH_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// Whether PostgreSQL tests run. In CI (`CI` or `CRUDAUTH_REQUIRE_PG` set) an
/// unreachable server fails the test instead of skipping it.
pub async fn postgres_enabled() -> bool {
    static REACHABLE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let required = crate::required_under_ci();
    let reachable = match REACHABLE.get() {
        Some(known) => known.clone(),
        None => {
            let mut options = sea_orm::ConnectOptions::new(admin_url());
            options
                .connect_timeout(Duration::from_secs(3))
                .acquire_timeout(Duration::from_secs(3))
                .sqlx_logging(false);
            let probe = match Database::connect(options).await {
                Ok(db) => {
                    let _ = db.close().await;
                    Ok(())
                }
                Err(err) => Err(err.to_string()),
            };
            REACHABLE.get_or_init(|| probe).clone()
        }
    };
    match reachable {
        Ok(()) => true,
        Err(err) if required => panic!(
            "PostgreSQL is required (CI) but unreachable at {}: {err}",
            admin_url()
        ),
        Err(err) => {
            // Said once per test binary, past libtest's capture (which
            // hides what passing tests print): these tests are reported
            // `ok` without having run.
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "note: PostgreSQL is unreachable at {} ({err}): this binary's \
                     postgres:: tests pass without running (CRUDAUTH_REQUIRE_PG=1 fails them)",
                    admin_url()
                );
            });
            false
        }
    }
}

/// A database that exists for one test.
#[derive(Debug)]
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    name: String,
}

fn unique_name() -> String {
    format!("crudauth_t_{}", uuid::Uuid::new_v4().simple())
}

impl TestDb {
    pub async fn create(backend: Backend) -> Self {
        let name = unique_name();
        match backend {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("{name}.db"));
                Self {
                    url: format!("sqlite://{}?mode=rwc", path.display()),
                    backend,
                    name,
                }
            }
            Backend::Postgres => {
                let admin = Database::connect(admin_url())
                    .await
                    .expect("connect to PostgreSQL");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create test database");
                let _ = admin.close().await;
                let base = admin_url();
                let url = format!(
                    "{}/{name}",
                    &base[..base.rfind('/').expect("url has a database")]
                );
                Self { url, backend, name }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match self.backend {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("{}.db", self.name));
                for suffix in ["", "-wal", "-shm", "-journal"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Backend::Postgres => {
                let name = self.name.clone();
                // Drop runs inside the test's runtime; the cleanup gets a
                // runtime of its own on a plain thread.
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("runtime");
                    rt.block_on(async {
                        if let Ok(admin) = Database::connect(admin_url()).await {
                            let _ = admin
                                .execute_unprepared(&format!(
                                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                                ))
                                .await;
                            let _ = admin.close().await;
                        }
                    });
                })
                .join();
            }
        }
    }
}
