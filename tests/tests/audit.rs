//! The audit trail: every event of a full flow, captured by a real
//! `tracing` subscriber, carries its stable name and fields, and none holds
//! a password, token, CSRF token or cookie value that the flow used.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Mutex, OnceLock};

use crudauth::LockoutPolicy;
use crudauth_tests::{Backend, PASSWORD, assert_error, on_both_backends, start, token_pair};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tracing::field::{Field, Visit};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};

/// One captured event: its target, metadata name and fields as text.
#[derive(Debug, Clone)]
struct Captured {
    target: String,
    name: String,
    fields: BTreeMap<String, String>,
}

impl Captured {
    fn field(&self, key: &str) -> &str {
        self.fields.get(key).map_or("", String::as_str)
    }
}

impl fmt::Display for Captured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {:?}", self.target, self.name, self.fields)
    }
}

static EVENTS: Mutex<Vec<Captured>> = Mutex::new(Vec::new());

/// Collects every event of crudauth's targets (the audit trail and its
/// other logs alike: no secret may reach either).
struct Capture;

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: tracing::Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let meta = event.metadata();
        if !meta.target().starts_with("crudauth") {
            return;
        }
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        EVENTS.lock().unwrap().push(Captured {
            target: meta.target().to_owned(),
            name: meta.name().to_owned(),
            fields,
        });
    }
}

/// The process-wide subscriber (the server's tasks run on other threads, so
/// a scoped one would miss them), and a lock that gives one test at a time
/// the captured events.
fn capture() -> &'static tokio::sync::Mutex<()> {
    static ONCE: OnceLock<tokio::sync::Mutex<()>> = OnceLock::new();
    ONCE.get_or_init(|| {
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Capture))
            .expect("no other global subscriber in this binary");
        tokio::sync::Mutex::new(())
    })
}

fn audit_events() -> Vec<Captured> {
    EVENTS
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.target == "crudauth::audit")
        .cloned()
        .collect()
}

/// The events named `name`.
fn named(events: &[Captured], name: &str) -> Vec<Captured> {
    events.iter().filter(|e| e.name == name).cloned().collect()
}

async fn a_full_flow_is_audited_without_any_secret(backend: Backend) {
    let _one_at_a_time = capture().lock().await;
    EVENTS.lock().unwrap().clear();
    let policy = LockoutPolicy {
        attempts: 2,
        ..LockoutPolicy::default()
    };
    let server = start(backend, move |b| b.lockout(policy)).await;
    const WRONG: &str = "not the password at all";
    const NEW: &str = "a brand new passphrase";
    let mut secrets: Vec<String> = vec![PASSWORD.into(), WRONG.into(), NEW.into()];

    let ada = server.register("ada@example.com").await.to_string();
    let bob = server.register("bob@example.com").await.to_string();

    // Sessions: a login, a failed one, a CSRF refusal, a revoked second
    // session, a logout.
    let browser = server.login("ada@example.com").await;
    let second = server.login("ada@example.com").await;
    for b in [&browser, &second] {
        secrets.push(b.csrf.clone());
        secrets.push(b.session.split_once('=').unwrap().1.to_owned());
    }
    let failed = server
        .login_with("ada@example.com", WRONG, None)
        .await
        .expect_err("wrong password");
    assert_error(failed, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let refused = server
        .as_browser(&browser, Method::POST, "/logout-all", None)
        .await;
    assert_error(refused, StatusCode::FORBIDDEN, "csrf_failed").await;
    let listed: Value = server
        .as_browser(&browser, Method::GET, "/sessions", None)
        .await
        .json()
        .await
        .unwrap();
    let other = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false)
        .expect("the second session")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deleted = server
        .with_cookie(Method::DELETE, &format!("/sessions/{other}"), &browser)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let logout = server
        .as_browser(&browser, Method::POST, "/logout", Some(&browser.csrf))
        .await;
    assert_eq!(logout.status(), StatusCode::OK);

    // Tokens: a grant, a refresh, the old refresh token replayed, a revoke.
    let (access, first_refresh) = token_pair(&server.token("ada@example.com").await);
    let refreshed: Value = server
        .post_json("/refresh", json!({ "refresh_token": first_refresh }))
        .await
        .json()
        .await
        .unwrap();
    let (second_access, second_refresh) = token_pair(&refreshed);
    let reused = server
        .post_json("/refresh", json!({ "refresh_token": first_refresh }))
        .await;
    assert_error(reused, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let (third_access, third_refresh) = token_pair(&server.token("ada@example.com").await);
    let revoked = server
        .post_json("/revoke", json!({ "refresh_token": third_refresh }))
        .await;
    assert_eq!(revoked.status(), StatusCode::OK);
    secrets.extend([access, first_refresh, second_access, second_refresh]);
    secrets.extend([third_access.clone(), third_refresh]);

    // A password change over a bearer token.
    let (access, refresh) = token_pair(&server.token("ada@example.com").await);
    let changed = server
        .with_bearer(Method::POST, "/change-password", &access)
        .json(&json!({ "current_password": PASSWORD, "new_password": NEW }))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    secrets.extend([access, refresh]);

    // Bob's account locks after two failures.
    for _ in 0..2 {
        let _ = server.login_with("bob@example.com", WRONG, None).await;
    }
    let locked = server
        .login_with("bob@example.com", PASSWORD, None)
        .await
        .expect_err("locked");
    assert_error(locked, StatusCode::TOO_MANY_REQUESTS, "locked").await;

    let events = audit_events();
    let all = || {
        events
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    };
    let one = |name: &str, user: &str| -> Vec<Captured> {
        let found: Vec<_> = named(&events, name)
            .into_iter()
            .filter(|e| e.field("user_id") == user)
            .collect();
        assert!(
            !found.is_empty(),
            "no {name} for user {user} in:\n{}",
            all()
        );
        found
    };
    for e in &events {
        assert_eq!(e.field("event"), e.name, "the event field is the name: {e}");
    }

    assert_eq!(one("registered", &ada)[0].field("ip"), "127.0.0.1");
    one("registered", &bob);
    let logins = one("login_succeeded", &ada);
    assert!(logins.iter().any(|e| e.field("transport") == "session"));
    assert!(logins.iter().any(|e| e.field("transport") == "bearer"));
    assert!(logins.iter().all(|e| e.field("ip") == "127.0.0.1"));
    let failures = one("login_failed", &ada);
    assert_eq!(failures[0].field("reason"), "invalid_credentials");
    assert_eq!(failures[0].field("ip"), "127.0.0.1");
    let csrf = named(&events, "csrf_refused");
    assert_eq!(csrf.len(), 1, "{}", all());
    assert_eq!(csrf[0].field("transport"), "session");
    assert!(csrf[0].field("reason").contains("missing CSRF token"));
    one("session_revoked", &ada);
    assert_eq!(one("logout", &ada)[0].field("transport"), "session");
    let issued = one("token_issued", &ada);
    assert!(issued.iter().any(|e| e.field("reason") == "login"));
    assert!(issued.iter().any(|e| e.field("reason") == "refresh"));
    one("token_reuse_detected", &ada);
    assert_eq!(named(&events, "token_revoked").len(), 1, "{}", all());
    one("password_changed", &ada);
    let bob_locked = one("locked", &bob);
    assert_eq!(bob_locked[0].field("reason"), "account");
    // The refused attempt while locked: the identifier's counter refuses
    // it before the account is looked up, so it names no user.
    assert!(
        named(&events, "login_failed")
            .iter()
            .any(|e| e.field("reason") == "locked" && e.field("ip") == "127.0.0.1"),
        "{}",
        all()
    );

    // No event of any crudauth target holds a secret the flow used.
    let everything: Vec<String> = EVENTS
        .lock()
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    for secret in &secrets {
        for line in &everything {
            assert!(
                !line.contains(secret.as_str()),
                "secret {secret:?} in {line}"
            );
        }
    }
}

on_both_backends!(a_full_flow_is_audited_without_any_secret);
