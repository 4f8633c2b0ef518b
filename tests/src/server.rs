//! The server under test: the example application (or a router of the
//! test's own) on a loopback socket over a [`TestDb`].

use std::net::SocketAddr;
use std::ops::Deref;

use crudauth::{CrudAuth, CrudAuthBuilder, CrudAuthConfig};
use sea_orm::DatabaseConnection;
use tokio::sync::oneshot;

use crate::{Backend, Endpoint, TestDb};

/// The signing key of every test server.
pub const SECRET: &[u8] = b"test-secret-key-of-at-least-32-bytes!!";

/// A running server, and a client of it: the [`Endpoint`]'s requests are
/// called on the server itself (`server.login(..)`).
#[derive(Debug)]
pub struct Server {
    endpoint: Endpoint,
    pub auth: CrudAuth,
    pub db: DatabaseConnection,
    /// The database URL the server reaches its database through.
    pub db_url: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    /// The database, dropped with the server that created it.
    _db: Option<TestDb>,
}

impl Server {
    /// Runs `statement` on the server's database, behind crudauth's back.
    pub async fn sql(&self, statement: &str) {
        use sea_orm::ConnectionTrait;
        self.db
            .execute_unprepared(statement)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
}

impl Deref for Server {
    type Target = Endpoint;

    fn deref(&self) -> &Endpoint {
        &self.endpoint
    }
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
    serve_router(Some(test_db), url, make, |auth| {
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
    serve_router(Some(test_db), &url, make, router).await
}

/// A second instance of the example application beside `first`, sharing
/// its database (the database goes with `first`).
pub async fn start_beside(
    first: &Server,
    tweak: impl FnOnce(CrudAuthBuilder) -> CrudAuthBuilder,
) -> Server {
    start_sharing(&first.db_url.clone(), tweak).await
}

/// An instance of the example application on the database at `url`, which
/// another server owns (one reached another way, say through a proxy).
pub async fn start_sharing(
    url: &str,
    tweak: impl FnOnce(CrudAuthBuilder) -> CrudAuthBuilder,
) -> Server {
    serve_router(
        None,
        url,
        |db| tweak(example_web_and_api::auth_builder(db, config())),
        |auth| example_web_and_api::app(auth.clone()).layer(auth.layer()),
    )
    .await
}

/// [`start_router`] on a loopback port chosen beforehand, for a
/// configuration that must know its own address (an OAuth redirect URI).
pub async fn start_router_on(
    port: u16,
    backend: Backend,
    make: impl FnOnce(DatabaseConnection) -> CrudAuthBuilder,
    router: impl FnOnce(&CrudAuth) -> axum::Router,
) -> Server {
    let test_db = TestDb::create(backend).await;
    let url = test_db.url.clone();
    serve_router_on(port, Some(test_db), &url, make, router).await
}

async fn serve_router(
    test_db: Option<TestDb>,
    url: &str,
    make: impl FnOnce(DatabaseConnection) -> CrudAuthBuilder,
    router: impl FnOnce(&CrudAuth) -> axum::Router,
) -> Server {
    serve_router_on(0, test_db, url, make, router).await
}

async fn serve_router_on(
    port: u16,
    test_db: Option<TestDb>,
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
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
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
        endpoint: Endpoint::new(format!("http://{addr}")),
        auth,
        db,
        db_url: url.to_owned(),
        shutdown: Some(tx),
        task: Some(task),
        _db: test_db,
    }
}
