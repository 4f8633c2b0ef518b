//! The harness of the integration tests in `tests/`: a real server on a
//! loopback socket over a real database (a fresh SQLite file, or a fresh
//! PostgreSQL database dropped afterwards), and a client for it.

use std::net::SocketAddr;
use std::time::Duration;

use crudauth::{CrudAuth, CrudAuthBuilder, CrudAuthConfig};
use reqwest::header::{HeaderMap, SET_COOKIE};
use reqwest::{Client, Method, Response, StatusCode};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// The signing key of every test server.
pub const SECRET: &[u8] = b"test-secret-key-of-at-least-32-bytes!!";
pub const PASSWORD: &str = "correct horse battery";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named async test fn (taking a [`Backend`]) on SQLite and on
/// PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if !$crate::postgres_enabled().await {
                        return;
                    }
                    super::$name($crate::Backend::Postgres).await
                }
            )*
        }
    };
}

fn admin_url() -> String {
    std::env::var("CRUDAUTH_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// Whether PostgreSQL tests run. In CI (`CI` or `CRUDAUTH_REQUIRE_PG` set) an
/// unreachable server fails the test instead of skipping it.
pub async fn postgres_enabled() -> bool {
    static REACHABLE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let required =
        std::env::var_os("CI").is_some() || std::env::var_os("CRUDAUTH_REQUIRE_PG").is_some();
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
            eprintln!("skipping a PostgreSQL test: {err}");
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

/// A running server.
#[derive(Debug)]
pub struct Server {
    pub base: String,
    pub auth: CrudAuth,
    pub db: DatabaseConnection,
    pub client: Client,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    _db: TestDb,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

pub fn config() -> CrudAuthConfig {
    let mut config = CrudAuthConfig::default();
    config.secret_key = Some(SECRET.to_vec());
    config
}

/// The example server's configuration, adjusted by `tweak`.
pub async fn start(
    backend: Backend,
    tweak: impl FnOnce(CrudAuthBuilder) -> CrudAuthBuilder,
) -> Server {
    start_app(
        backend,
        |db| tweak(example_web_and_api::auth_builder(db, config())),
        |_| axum::Router::new(),
    )
    .await
}

/// A server for a custom `CrudAuth` (`make`) with extra routes merged into
/// the example application.
pub async fn start_app(
    backend: Backend,
    make: impl FnOnce(DatabaseConnection) -> CrudAuthBuilder,
    extra: impl FnOnce(&CrudAuth) -> axum::Router,
) -> Server {
    let test_db = TestDb::create(backend).await;
    let url = test_db.url.clone();
    serve_over(test_db, &url, make, extra).await
}

/// The example server over `test_db`, reaching it through `url` (for
/// instance a proxy in front of the database), adjusted by `tweak`.
pub async fn start_through(
    test_db: TestDb,
    url: &str,
    tweak: impl FnOnce(CrudAuthBuilder) -> CrudAuthBuilder,
) -> Server {
    serve_over(
        test_db,
        url,
        |db| tweak(example_web_and_api::auth_builder(db, config())),
        |_| axum::Router::new(),
    )
    .await
}

async fn serve_over(
    test_db: TestDb,
    url: &str,
    make: impl FnOnce(DatabaseConnection) -> CrudAuthBuilder,
    extra: impl FnOnce(&CrudAuth) -> axum::Router,
) -> Server {
    serve_router(test_db, url, make, |auth| {
        example_web_and_api::app(auth.clone())
            .merge(extra(auth))
            .layer(auth.layer())
    })
    .await
}

/// A server whose whole router is `router(&auth)` (no example routes), for
/// testing crudauth's built-in routes alone.
pub async fn start_router(
    backend: Backend,
    make: impl FnOnce(DatabaseConnection) -> CrudAuthBuilder,
    router: impl FnOnce(&CrudAuth) -> axum::Router,
) -> Server {
    let test_db = TestDb::create(backend).await;
    let url = test_db.url.clone();
    serve_router(test_db, &url, make, router).await
}

async fn serve_router(
    test_db: TestDb,
    url: &str,
    make: impl FnOnce(DatabaseConnection) -> CrudAuthBuilder,
    router: impl FnOnce(&CrudAuth) -> axum::Router,
) -> Server {
    let db = example_web_and_api::connect(url)
        .await
        .expect("connect test database");
    let auth = make(db.clone()).build().expect("valid test configuration");
    auth.migrate().await.expect("migrate");
    let app = router(&auth);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    let (tx, rx) = oneshot::channel();
    let task = tokio::spawn(async move {
        let _ = example_web_and_api::serve(listener, app, async {
            let _ = rx.await;
        })
        .await;
    });
    Server {
        base: format!("http://{addr}"),
        auth,
        db,
        client: client(),
        shutdown: Some(tx),
        task: Some(task),
        _db: test_db,
    }
}

pub fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// A logged-in browser: its cookies and CSRF token.
#[derive(Debug, Clone)]
pub struct Browser {
    pub session: String,
    pub csrf: String,
    pub user_id: Value,
    pub set_cookies: Vec<String>,
}

impl Browser {
    /// The browser's state from a successful `/login` answer.
    pub async fn from_login(res: Response) -> Self {
        let set_cookies = set_cookies(res.headers());
        let body: Value = res.json().await.unwrap();
        let session = set_cookies
            .iter()
            .find(|c| c.contains("session_id="))
            .map(|c| c.split(';').next().unwrap().to_owned())
            .expect("session cookie");
        Self {
            session,
            csrf: body["csrf_token"].as_str().unwrap().to_owned(),
            user_id: body["user_id"].clone(),
            set_cookies,
        }
    }

    /// The `Cookie` header value.
    pub fn cookie(&self) -> String {
        format!("{}; {}", self.session, self.csrf_cookie())
    }

    fn csrf_cookie(&self) -> String {
        self.set_cookies
            .iter()
            .find(|c| c.contains("csrf_token="))
            .map(|c| c.split(';').next().unwrap_or_default().to_owned())
            .unwrap_or_default()
    }
}

pub fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post_json(&self, path: &str, body: Value) -> Response {
        self.client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    /// Registers a user and returns its id.
    pub async fn register(&self, email: &str) -> Value {
        let res = self
            .post_json("/register", json!({ "email": email, "password": PASSWORD }))
            .await;
        assert_eq!(res.status(), StatusCode::CREATED, "register {email}");
        res.json::<Value>().await.unwrap()["id"].clone()
    }

    /// Logs in through `/login` and returns the browser's state.
    pub async fn login(&self, username: &str) -> Browser {
        self.login_with(username, PASSWORD, None)
            .await
            .expect("login succeeds")
    }

    pub async fn login_with(
        &self,
        username: &str,
        password: &str,
        cookie: Option<&str>,
    ) -> Result<Browser, Response> {
        let mut req = self
            .client
            .post(self.url("/login"))
            .json(&json!({ "username": username, "password": password }));
        if let Some(cookie) = cookie {
            req = req.header("cookie", cookie);
        }
        let res = req.send().await.expect("request");
        if res.status() != StatusCode::OK {
            return Err(res);
        }
        Ok(Browser::from_login(res).await)
    }

    /// A request carrying the browser's cookie (and CSRF header if `csrf`).
    pub async fn as_browser(
        &self,
        browser: &Browser,
        method: Method,
        path: &str,
        csrf: Option<&str>,
    ) -> Response {
        let mut req = self
            .client
            .request(method, self.url(path))
            .header("cookie", browser.cookie());
        if let Some(token) = csrf {
            req = req.header("x-csrf-token", token);
        }
        req.send().await.expect("request")
    }

    /// Obtains a token pair through `/token`.
    pub async fn token(&self, username: &str) -> Value {
        let res = self
            .post_json(
                "/token",
                json!({ "username": username, "password": PASSWORD }),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK, "token for {username}");
        res.json().await.unwrap()
    }

    pub async fn get_bearer(&self, path: &str, token: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }
}

/// Asserts a crudauth JSON error.
pub async fn assert_error(res: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(res.status(), status, "status for expected code {code}");
    let body: Value = res.json().await.expect("JSON error body");
    assert_eq!(body["code"], code, "body: {body}");
    assert!(body["detail"].is_string(), "detail: {body}");
    body
}
