//! Several instances: two example-server processes on one PostgreSQL
//! database behave as one application. Sessions, logout, lockout and refresh
//! reuse detection live in the database, so either process sees what the
//! other did.

use std::ops::Deref;
use std::process::Stdio;
use std::time::Duration;

use crudauth_tests::{
    Backend, Endpoint, PASSWORD, TestDb, assert_error, example_binary, retry_after,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

const SECRET_KEY: &str = "instances-test-secret-key-of-at-least-32-bytes";

/// One running example-server process, and a client of it.
struct Instance {
    name: &'static str,
    endpoint: Endpoint,
    child: Child,
    stderr: JoinHandle<String>,
}

impl Deref for Instance {
    type Target = Endpoint;

    fn deref(&self) -> &Endpoint {
        &self.endpoint
    }
}

impl Instance {
    async fn start_with(name: &'static str, database_url: &str, env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(example_binary())
            .envs(env.iter().copied())
            .env("DATABASE_URL", database_url)
            .env("CRUDAUTH_SECRET_KEY", SECRET_KEY)
            .env("CRUDAUTH_ADDR", "127.0.0.1:0")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the example server");
        let mut err = child.stderr.take().expect("stderr");
        let stderr = tokio::spawn(async move {
            let mut bytes = Vec::new();
            let _ = err.read_to_end(&mut bytes).await;
            String::from_utf8_lossy(&bytes).into_owned()
        });
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("{name} did not start within 30 s"));
        let Some(addr) = first
            .as_ref()
            .ok()
            .and_then(Option::as_deref)
            .and_then(|line| line.strip_prefix("listening on http://"))
            .map(str::to_owned)
        else {
            let _ = child.kill().await;
            let stderr = stderr.await.unwrap_or_default();
            panic!("{name} did not print its address ({first:?}); stderr:\n{stderr}");
        };
        Self {
            name,
            endpoint: Endpoint::new(format!("http://{addr}")),
            child,
            stderr,
        }
    }

    /// Kills the process and fails on errors it logged.
    async fn stop(mut self) {
        let _ = self.child.kill().await;
        let stderr = self.stderr.await.unwrap_or_default();
        if stderr.contains("ERROR") || stderr.contains("panicked") {
            panic!("{} logged errors:\n{stderr}", self.name);
        }
    }
}

/// Two processes started at once on one fresh database (so that they also
/// race to create the tables), and the database.
async fn pair() -> Option<(Instance, Instance, TestDb)> {
    pair_with(&[]).await
}

/// [`pair`], both processes with `env`.
async fn pair_with(env: &[(&str, &str)]) -> Option<(Instance, Instance, TestDb)> {
    if !crudauth_tests::postgres_enabled().await {
        return None;
    }
    let db = TestDb::create(Backend::Postgres).await;
    let binary = example_binary();
    assert!(binary.exists(), "{} was not built", binary.display());
    let (a, b) = tokio::join!(
        Instance::start_with("A", &db.url, env),
        Instance::start_with("B", &db.url, env)
    );
    Some((a, b, db))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_made_on_one_instance_works_and_ends_on_the_other() {
    let Some((a, b, _db)) = pair().await else {
        return;
    };
    let id = a.register("ada@example.com").await;
    let browser = a.login("ada@example.com").await;

    let me = b
        .with_cookie(Method::GET, "/me", &browser)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(me.json::<Value>().await.unwrap(), json!({ "id": id }));
    let sessions: Value = b
        .with_cookie(Method::GET, "/sessions", &browser)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sessions.as_array().map(Vec::len), Some(1), "{sessions}");
    assert_eq!(sessions[0]["current"], true);

    // Logout on B (with the CSRF token A issued) ends the session on A.
    let logout = b
        .with_cookie(Method::POST, "/logout", &browser)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::OK);
    for instance in [&a, &b] {
        let me = instance
            .with_cookie(Method::GET, "/me", &browser)
            .send()
            .await
            .unwrap();
        assert_error(me, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lockout_earned_on_one_instance_holds_on_the_other() {
    let Some((a, b, _db)) = pair().await else {
        return;
    };
    b.register("ada@example.com").await;
    for attempt in 1..=5 {
        let res = a
            .login_with("ada@example.com", "a wrong password", None)
            .await
            .expect_err("a wrong password is refused");
        assert_eq!(
            res.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {attempt} on A"
        );
    }
    // The right password, on the other instance, through either route.
    let res = b
        .login_with("ada@example.com", PASSWORD, None)
        .await
        .expect_err("locked");
    let retry_after = retry_after(&res);
    assert!(
        (1..=60).contains(&retry_after),
        "Retry-After: {retry_after}"
    );
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "locked").await;
    let token = b
        .post_json(
            "/token",
            json!({ "username": "ADA@example.com", "password": PASSWORD }),
        )
        .await;
    assert_error(token, StatusCode::TOO_MANY_REQUESTS, "locked").await;
    let res = a
        .login_with("ada@example.com", PASSWORD, None)
        .await
        .expect_err("locked");
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "locked").await;
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_replayed_on_another_instance_revokes_its_family() {
    let Some((a, b, _db)) = pair().await else {
        return;
    };
    a.register("ada@example.com").await;
    let first: Value = a
        .post_json(
            "/token",
            json!({ "username": "ada@example.com", "password": PASSWORD }),
        )
        .await
        .json()
        .await
        .unwrap();
    // A bearer token from A is good on B.
    let me = b
        .get_bearer("/me", first["access_token"].as_str().unwrap())
        .await;
    assert_eq!(me.status(), StatusCode::OK);

    let res = a
        .post_json(
            "/refresh",
            json!({ "refresh_token": first["refresh_token"] }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let rotated: Value = res.json().await.unwrap();
    let access = rotated["access_token"].as_str().unwrap();
    assert_eq!(b.get_bearer("/me", access).await.status(), StatusCode::OK);

    // The spent token, replayed on B: reuse, and the whole family dies.
    let replay = b
        .post_json(
            "/refresh",
            json!({ "refresh_token": first["refresh_token"] }),
        )
        .await;
    assert_error(replay, StatusCode::UNAUTHORIZED, "invalid_token").await;
    for instance in [&a, &b] {
        let me = instance.get_bearer("/me", access).await;
        assert_error(me, StatusCode::UNAUTHORIZED, "invalid_token").await;
        let next = instance
            .post_json(
                "/refresh",
                json!({ "refresh_token": rotated["refresh_token"] }),
            )
            .await;
        assert_error(next, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
    a.stop().await;
    b.stop().await;
}

/// The Redis server of this machine (`.ci/run` starts it when it does not
/// answer), on a database of its own so that no other test sees its keys.
const REDIS_URL: &str = "redis://127.0.0.1:6379/9";

/// The example's `GET /api/limited` (5 a minute) with its counters in Redis:
/// two instances spend one budget, so the sixth request across both is
/// refused, whichever instance it reaches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_one_rate_limit_through_redis() {
    let Some((a, b, _db)) = pair_with(&[("CRUDAUTH_REDIS_URL", REDIS_URL)]).await else {
        return;
    };
    let id = a.register("ada@example.com").await;
    // A fresh database numbers its users from 1 again: clear what an
    // earlier run of this test counted for the same id.
    let redis = redis::Client::open(REDIS_URL).expect("the Redis URL");
    let mut connection = redis
        .get_multiplexed_async_connection()
        .await
        .expect("Redis on 127.0.0.1:6379 (started by .ci/run)");
    let key = format!("crudauth:rate:example_web_and_api::limited:u:{id}");
    redis::cmd("DEL")
        .arg(&key)
        .query_async::<()>(&mut connection)
        .await
        .unwrap();

    let token = a.access_token("ada@example.com").await;
    for (i, instance) in [&a, &b, &a, &b, &b].into_iter().enumerate() {
        let res = instance.get_bearer("/api/limited", &token).await;
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "request {i} on {}",
            instance.name
        );
    }
    for instance in [&a, &b] {
        let refused = instance.get_bearer("/api/limited", &token).await;
        assert!((1..=12).contains(&retry_after(&refused)));
        assert_error(refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    }
    let stored: Option<String> = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(stored.is_some(), "the budget lives in Redis under {key}");
    a.stop().await;
    b.stop().await;
}

/// A Redis server of the test's own, killed mid-run: the limit held while it
/// answered; afterwards requests are let through (never a 5xx) and the
/// instance says once that the store is down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_store_that_dies_lets_requests_through_and_warns_once() {
    let port = crudauth_tests::free_port();
    let mut redis = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("redis-server (Debian's redis-server package)");
    let started = std::time::Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "redis-server never listened"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let url = format!("redis://127.0.0.1:{port}/");
    let instance =
        Instance::start_with("A", "sqlite::memory:", &[("CRUDAUTH_REDIS_URL", &url)]).await;
    instance.register("ada@example.com").await;
    let token = instance.access_token("ada@example.com").await;
    for _ in 0..5 {
        let res = instance.get_bearer("/api/limited", &token).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let refused = instance.get_bearer("/api/limited", &token).await;
    assert_error(refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;

    redis.kill().await.unwrap();
    for i in 0..4 {
        let res = instance.get_bearer("/api/limited", &token).await;
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "request {i} with the store down"
        );
        // Past the one-second pause after a failure, Redis is asked again.
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    let mut instance = instance;
    let _ = instance.child.kill().await;
    let stderr = instance.stderr.await.unwrap_or_default();
    let warnings = stderr
        .matches("the rate limit store cannot be reached")
        .count();
    assert_eq!(warnings, 1, "one warning a minute:\n{stderr}");
}
