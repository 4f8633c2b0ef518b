//! The server under test: the example application (or a router of the
//! test's own) on a loopback socket over a [`TestDb`].

use std::net::SocketAddr;

use crudauth::{CrudAuth, CrudAuthBuilder, CrudAuthConfig};
use reqwest::{Client, Method, Response, StatusCode};
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::{Backend, Browser, PASSWORD, TestDb, client};

/// The signing key of every test server.
pub const SECRET: &[u8] = b"test-secret-key-of-at-least-32-bytes!!";

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

/// The configuration every test server starts from: the defaults, signed
/// with [`SECRET`].
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
