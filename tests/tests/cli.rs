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
    let mut child = Command::new(example_binary())
        .args(args)
        .env("DATABASE_URL", url)
        .env(
            "CRUDAUTH_SECRET_KEY",
            "cli-test-secret-key-of-at-least-32-bytes",
        )
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
