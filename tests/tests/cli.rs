//! The admin commands, run as the example binary's subcommands against a
//! real database, then checked over HTTP on SQLite and PostgreSQL.

use std::process::Stdio;

use crudauth_tests::{
    Backend, Browser, TestDb, assert_error, example_binary, on_both_backends, start_through,
    token_pair,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

const ADMIN_PASSWORD: &str = "the admin's long passphrase";

/// What one run of the binary said.
struct Ran {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Runs `example-web-and-api <args>` on the database at `url` with
/// `stdin` as its input.
async fn admin(url: &str, args: &[&str], stdin: &str) -> Ran {
    admin_keyed(
        url,
        args,
        stdin,
        Some("cli-test-secret-key-of-at-least-32-bytes"),
    )
    .await
}

/// [`admin`] with `key` as `CRUDAUTH_SECRET_KEY`, or without the variable.
async fn admin_keyed(url: &str, args: &[&str], stdin: &str, key: Option<&str>) -> Ran {
    let mut command = Command::new(example_binary());
    match key {
        Some(key) => command.env("CRUDAUTH_SECRET_KEY", key),
        None => command.env_remove("CRUDAUTH_SECRET_KEY"),
    };
    let mut child = command
        .args(args)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run the example binary");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.as_bytes())
        .await
        .expect("write stdin");
    drop(input);
    let out = child.wait_with_output().await.expect("wait");
    Ran {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

async fn admin_commands_create_a_superuser_revoke_and_purge(backend: Backend) {
    let db = TestDb::create(backend).await;
    let created = admin(
        &db.url,
        &["create-user", "--superuser", "--email", "Root@Example.com"],
        &format!("{ADMIN_PASSWORD}\n"),
    )
    .await;
    assert!(created.ok, "create-user failed: {}", created.stderr);
    assert!(
        created
            .stdout
            .starts_with("created superuser root@example.com with id "),
        "{}",
        created.stdout
    );
    let plain = admin(
        &db.url,
        &["create-user", "--email", "plain@example.com"],
        &format!("{ADMIN_PASSWORD}\r\n"),
    )
    .await;
    assert!(plain.ok, "create-user failed: {}", plain.stderr);

    // The registration rules apply, and nothing is written when they refuse.
    let short = admin(
        &db.url,
        &["create-user", "--email", "x@example.com"],
        "short\n",
    )
    .await;
    assert!(!short.ok);
    assert!(
        short.stderr.contains("at least 8 characters"),
        "{}",
        short.stderr
    );
    let again = admin(
        &db.url,
        &["create-user", "--email", "ROOT@example.com"],
        &format!("{ADMIN_PASSWORD}\n"),
    )
    .await;
    assert!(!again.ok);
    assert!(
        again.stderr.contains("already registered"),
        "{}",
        again.stderr
    );
    let bad_email = admin(
        &db.url,
        &["create-user", "--email", "nobody"],
        "whatever long\n",
    )
    .await;
    assert!(
        bad_email.stderr.contains("not a valid email"),
        "{}",
        bad_email.stderr
    );
    let unknown = admin(&db.url, &["revoke-user", "not-an-id"], "").await;
    assert!(!unknown.ok);
    assert!(
        unknown.stderr.contains("no user has the id"),
        "{}",
        unknown.stderr
    );

    let url = db.url.clone();
    // The commands run in another process: on PostgreSQL their revocations
    // reach this server's principal cache through NOTIFY at once; on SQLite
    // within the cache's TTL, kept short here.
    let server = start_through(db, &url, |b| {
        b.principal_cache(std::time::Duration::from_secs(1), 1000)
    })
    .await;
    let root = server
        .login_with("root@example.com", ADMIN_PASSWORD, None)
        .await
        .expect("the created superuser logs in");
    let res = server
        .as_browser(&root, Method::GET, "/api/admin", None)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["is_superuser"], true);
    let user: Browser = server
        .login_with("plain@example.com", ADMIN_PASSWORD, None)
        .await
        .expect("the created user logs in");
    let res = server
        .as_browser(&user, Method::GET, "/api/admin", None)
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "insufficient_privileges").await;
    // Nothing was created for the refused runs.
    let refused = server.login_with("x@example.com", "short", None).await;
    assert_error(
        refused.err().unwrap(),
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;

    // revoke-user ends the superuser's session, seen by the running server.
    let id = root.user_id.to_string().trim_matches('"').to_owned();
    let pair: Value = server
        .post_json(
            "/token",
            json!({ "username": "root@example.com", "password": ADMIN_PASSWORD }),
        )
        .await
        .json()
        .await
        .unwrap();
    let (access, _) = token_pair(&pair);
    let revoked = admin(&url, &["revoke-user", &id], "").await;
    assert!(revoked.ok, "{}", revoked.stderr);
    assert_eq!(
        revoked.stdout.trim(),
        format!("ended 2 sessions and token families of user {id}")
    );
    let waited = std::time::Instant::now();
    while server
        .as_browser(&root, Method::GET, "/me", None)
        .await
        .status()
        == StatusCode::OK
    {
        assert!(
            waited.elapsed() < std::time::Duration::from_secs(3),
            "the revocation never reached the server ({backend:?})"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let res = server.as_browser(&root, Method::GET, "/me", None).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let res = server.get_bearer("/me", &access).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_token").await;

    let purged = admin(&url, &["purge"], "").await;
    assert!(purged.ok, "{}", purged.stderr);
    assert!(purged.stdout.starts_with("purged "), "{}", purged.stdout);
}

on_both_backends!(admin_commands_create_a_superuser_revoke_and_purge);

/// An admin command against an in-memory database reports a user that
/// vanishes with the process: the binary says so on standard error.
#[tokio::test]
async fn admin_command_warns_of_an_in_memory_database() {
    for url in ["sqlite::memory:", "sqlite://file?mode=memory&cache=shared"] {
        let ran = admin(
            url,
            &["create-user", "--email", "ghost@example.com"],
            &format!("{ADMIN_PASSWORD}\n"),
        )
        .await;
        assert!(ran.ok, "{url}: create-user failed: {}", ran.stderr);
        assert!(
            ran.stderr
                .contains("an in-memory SQLite database that ends with this command"),
            "{url}: {}",
            ran.stderr
        );
    }
}

/// An admin command signs nothing: without `CRUDAUTH_SECRET_KEY` it says
/// nothing of a random key, as the server does.
#[tokio::test]
async fn admin_commands_do_not_warn_of_a_random_key() {
    let ran = admin_keyed(
        "sqlite::memory:",
        &["create-user", "--email", "quiet@example.com"],
        &format!("{ADMIN_PASSWORD}\n"),
        None,
    )
    .await;
    assert!(ran.ok, "{}", ran.stderr);
    assert!(!ran.stderr.contains("random key"), "{}", ran.stderr);
}

/// With `CRUDAUTH_METRICS_ADDR`, the binary serves `/metrics` there (and
/// only there): crudauth's events counted as they happen, and the principal
/// cache's figures at each scrape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_events_on_their_own_listener() {
    use tokio::io::AsyncBufReadExt;
    let (port, metrics_port) = (crudauth_tests::free_port(), crudauth_tests::free_port());
    let mut child = Command::new(example_binary())
        .env("CRUDAUTH_ADDR", format!("127.0.0.1:{port}"))
        .env("CRUDAUTH_METRICS_ADDR", format!("127.0.0.1:{metrics_port}"))
        .env(
            "CRUDAUTH_SECRET_KEY",
            "cli-test-secret-key-of-at-least-32-bytes",
        )
        .env("CRUDAUTH_REGISTER_PER_HOUR", "0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("run the example binary");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(line) = lines.next_line().await.unwrap() {
        if line.starts_with("listening on") {
            break;
        }
    }
    let app = crudauth_tests::Endpoint::new(format!("http://127.0.0.1:{port}"));
    let metrics_url = format!("http://127.0.0.1:{metrics_port}/metrics");
    let scrape = || async {
        let res = reqwest::get(&metrics_url).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        res.text().await.unwrap()
    };
    let count = |text: &str, series: &str| -> u64 {
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(0)
    };
    let before = scrape().await;
    app.register("ada@example.com").await;
    for _ in 0..3 {
        let res = app
            .post_json(
                "/login",
                json!({ "username": "ada@example.com", "password": "not the password" }),
            )
            .await;
        assert_error(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    let browser = app.login("ada@example.com").await;
    for _ in 0..2 {
        let res = app.as_browser(&browser, Method::GET, "/me", None).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let after = scrape().await;
    let failed = "crudauth_events_total{event=\"login_failed\"}";
    assert_eq!(count(&after, failed) - count(&before, failed), 3, "{after}");
    let registered = "crudauth_events_total{event=\"registered\"}";
    assert_eq!(count(&after, registered), 1, "{after}");
    // The second /me was served from memory.
    let hits = "crudauth_principal_cache_lookups_total{result=\"hit\"}";
    assert!(count(&after, hits) >= 1, "{after}");
    assert!(
        count(&after, "crudauth_principal_cache_entries") >= 1,
        "{after}"
    );
    // Not on the public listener.
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}
