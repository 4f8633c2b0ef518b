//! The audit trail: every event of a full flow, captured by a real
//! `tracing` subscriber, carries its stable name and fields, and none holds
//! a secret the flow used: passwords, session and CSRF tokens, access and
//! refresh tokens, mailed link tokens (over a real SMTP peer), the TOTP
//! secret, codes and recovery codes, login challenges, and the provider
//! flow's state, nonce and authorization code (a real `oidc-provider`).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Mutex, OnceLock};

use crudauth::{LockoutPolicy, SmtpSender};
use crudauth_tests::oidc_browser::{Jar, setup};
use crudauth_tests::{
    Backend, Browser, MFA_KEY, PASSWORD, SmtpMode, SmtpServer, assert_error, on_both_backends,
    start, token_pair, totp_code,
};
use reqwest::{Method, StatusCode, Url};
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

/// Gives this test the captured events, from an empty list.
async fn begin() -> tokio::sync::MutexGuard<'static, ()> {
    let guard = capture().lock().await;
    EVENTS.lock().unwrap().clear();
    guard
}

/// The audit events captured so far.
struct Trail(Vec<Captured>);

impl Trail {
    fn now() -> Self {
        let trail = Self(audit_events());
        for e in &trail.0 {
            assert_eq!(e.field("event"), e.name, "the event field is the name: {e}");
        }
        trail
    }

    fn all(&self) -> String {
        self.0
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn named(&self, name: &str) -> Vec<Captured> {
        named(&self.0, name)
    }

    /// The events `name` of `user` (a JSON id or its text); at least one.
    fn of(&self, name: &str, user: &str) -> Vec<Captured> {
        let found: Vec<_> = self
            .named(name)
            .into_iter()
            .filter(|e| e.field("user_id") == user)
            .collect();
        assert!(
            !found.is_empty(),
            "no {name} for user {user} in:\n{}",
            self.all()
        );
        found
    }

    /// The one event `name` of `user`, with `field = value` for each pair.
    fn has(&self, name: &str, user: &str, fields: &[(&str, &str)]) {
        let found = self.of(name, user);
        assert!(
            found
                .iter()
                .any(|e| fields.iter().all(|(k, v)| e.field(k) == *v)),
            "no {name} of {user} with {fields:?} in:\n{}",
            self.all()
        );
    }
}

/// Whether `line` holds `secret`; an all-digit secret (a TOTP code) only
/// as a whole number, not inside a longer one such as a timestamp.
fn holds(line: &str, secret: &str) -> bool {
    if !secret.bytes().all(|b| b.is_ascii_digit()) {
        return line.contains(secret);
    }
    line.match_indices(secret).any(|(at, _)| {
        let before = line[..at].chars().next_back();
        let after = line[at + secret.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit()) && !after.is_some_and(|c| c.is_ascii_digit())
    })
}

/// No event of any crudauth target holds any of `secrets`.
fn assert_no_secret(secrets: &[String]) {
    let everything: Vec<String> = EVENTS
        .lock()
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(!everything.is_empty());
    for secret in secrets {
        assert!(secret.len() >= 6, "a secret too short to grep: {secret:?}");
        for line in &everything {
            assert!(!holds(line, secret), "secret {secret:?} in {line}");
        }
    }
}

/// The text of a JSON id as the events print it.
fn id_text(id: &Value) -> String {
    id.as_str().map_or_else(|| id.to_string(), str::to_owned)
}

async fn a_full_flow_is_audited_without_any_secret(backend: Backend) {
    let _one_at_a_time = begin().await;
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

    let trail = Trail::now();
    let all = || trail.all();
    let one = |name: &str, user: &str| trail.of(name, user);
    assert_eq!(one("registered", &ada)[0].field("ip"), "127.0.0.1");
    one("registered", &bob);
    let logins = one("login_succeeded", &ada);
    assert!(logins.iter().any(|e| e.field("transport") == "session"));
    assert!(logins.iter().any(|e| e.field("transport") == "bearer"));
    assert!(logins.iter().all(|e| e.field("ip") == "127.0.0.1"));
    let failures = one("login_failed", &ada);
    assert_eq!(failures[0].field("reason"), "invalid_credentials");
    assert_eq!(failures[0].field("ip"), "127.0.0.1");
    let csrf = trail.named("csrf_refused");
    assert_eq!(csrf.len(), 1, "{}", all());
    assert_eq!(csrf[0].field("transport"), "session");
    // A stable code, not the answer's words.
    assert_eq!(csrf[0].field("reason"), "missing_token");
    one("session_revoked", &ada);
    assert_eq!(one("logout", &ada)[0].field("transport"), "session");
    let issued = one("token_issued", &ada);
    assert!(issued.iter().any(|e| e.field("reason") == "login"));
    assert!(issued.iter().any(|e| e.field("reason") == "refresh"));
    one("token_reuse_detected", &ada);
    assert_eq!(trail.named("token_revoked").len(), 1, "{}", all());
    assert_eq!(
        one("password_changed", &ada)[0].field("reason"),
        "change_password"
    );
    let bob_locked = one("locked", &bob);
    assert_eq!(bob_locked[0].field("reason"), "account");
    // The refused attempt while locked: the identifier's counter refuses
    // it before the account is looked up, so it names no user: the field
    // is absent, not an empty string.
    let anonymous: Vec<_> = trail
        .named("login_failed")
        .into_iter()
        .filter(|e| e.field("reason") == "locked" && e.field("ip") == "127.0.0.1")
        .collect();
    assert!(!anonymous.is_empty(), "{}", all());
    assert!(
        anonymous.iter().all(|e| !e.fields.contains_key("user_id")),
        "{}",
        all()
    );

    assert_no_secret(&secrets);
}

const ORIGIN: &str = "http://app.test";

async fn recovery_is_audited_without_any_link_token(backend: Backend) {
    let _one_at_a_time = begin().await;
    let smtp = SmtpServer::start(SmtpMode::Accept).await;
    let sender = SmtpSender::new(&smtp.url(), "crudauth <no-reply@example.com>").unwrap();
    let server = start(backend, move |b| {
        b.public_origin(ORIGIN)
            .email_sender(sender)
            .register_per_hour(50)
    })
    .await;
    const NEW: &str = "a brand new passphrase";
    let mut secrets: Vec<String> = vec![PASSWORD.into(), NEW.into()];
    let post = |path: &'static str, body: Value| server.post_json(path, body);

    let res = post(
        "/register",
        json!({ "email": "ada@example.com", "password": PASSWORD }),
    )
    .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let verify = smtp.wait_for(1).await.pop().unwrap().token().unwrap();
    let res = post("/email/verify-confirm", json!({ "token": verify })).await;
    assert_eq!(res.status(), StatusCode::OK);
    let ada = id_text(&res.json::<Value>().await.unwrap()["user_id"]);

    let res = post(
        "/password/reset-request",
        json!({ "email": "ada@example.com" }),
    )
    .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let reset = smtp.wait_for(2).await.pop().unwrap().token().unwrap();
    let res = post(
        "/password/reset-confirm",
        json!({ "token": reset, "new_password": NEW }),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);

    let browser = server
        .login_with("ada@example.com", NEW, None)
        .await
        .expect("the new password signs in");
    let change = |password: &'static str| {
        server
            .with_cookie(Method::POST, "/email/change-request", &browser)
            .json(&json!({ "new_email": "ada@new.example", "password": password }))
            .send()
    };
    let wrong = change(PASSWORD).await.unwrap();
    assert_error(wrong, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_eq!(change(NEW).await.unwrap().status(), StatusCode::ACCEPTED);
    let confirm = smtp.to(3, "ada@new.example").await.pop().unwrap();
    let confirm = confirm.token().unwrap();
    let res = post("/email/change-confirm", json!({ "token": confirm })).await;
    assert_eq!(res.status(), StatusCode::OK);
    smtp.wait_for(4).await;
    secrets.extend([verify, reset, confirm, browser.csrf.clone()]);
    secrets.push(browser.session.split_once('=').unwrap().1.to_owned());

    let trail = Trail::now();
    let here = [("ip", "127.0.0.1")];
    trail.has("registered", &ada, &here);
    trail.has("email_verified", &ada, &here);
    trail.has("password_reset", &ada, &here);
    trail.has("login_succeeded", &ada, &[("transport", "session")]);
    trail.has(
        "password_check_failed",
        &ada,
        &[("reason", "invalid_credentials")],
    );
    trail.has("email_changed", &ada, &here);
    assert_no_secret(&secrets);
}

/// The codes of `secret` at the steps around now, none of which may be
/// logged (each could be the one accepted).
fn codes_around(secret: &str) -> Vec<String> {
    (-2..=2).map(|step| totp_code(secret, step)).collect()
}

async fn second_factor_and_sudo_are_audited_without_any_code(backend: Backend) {
    let _one_at_a_time = begin().await;
    let server = start(backend, |b| b.mfa_key(MFA_KEY)).await;
    let ada = id_text(&server.register("ada@example.com").await);
    let browser = server.login("ada@example.com").await;
    let mut secrets: Vec<String> = vec![PASSWORD.into(), browser.csrf.clone()];
    secrets.push(browser.session.split_once('=').unwrap().1.to_owned());
    let post = |browser: &Browser, path: &'static str, body: Value| {
        server
            .with_cookie(Method::POST, path, browser)
            .json(&body)
            .send()
    };

    let res = post(&browser, "/mfa/totp/setup", json!({ "password": PASSWORD }))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let setup: Value = res.json().await.unwrap();
    let secret = setup["secret"].as_str().unwrap().to_owned();
    secrets.push(secret.clone());
    secrets.push(setup["otpauth_uri"].as_str().unwrap().to_owned());
    secrets.extend(codes_around(&secret));
    // (One chance in a million that this is the right code.)
    let res = post(&browser, "/mfa/totp/confirm", json!({ "code": "000000" }))
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_code").await;
    let res = post(
        &browser,
        "/mfa/totp/confirm",
        json!({ "code": totp_code(&secret, -1) }),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let codes = |body: &Value| -> Vec<String> {
        body["recovery_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect()
    };
    let recovery = codes(&res.json().await.unwrap());
    secrets.extend(recovery.iter().cloned());
    // The codes are typed without their dash too.
    secrets.extend(recovery.iter().map(|c| c.replace('-', "")));

    // A login: a challenge, a wrong code, the right one.
    let res = server
        .post_json(
            "/login",
            json!({ "username": "ada@example.com", "password": PASSWORD }),
        )
        .await;
    let challenge = res.json::<Value>().await.unwrap()["challenge"]
        .as_str()
        .unwrap()
        .to_owned();
    secrets.push(challenge.clone());
    let verify = |code: String| {
        server.post_json(
            "/mfa/verify",
            json!({ "challenge": challenge, "code": code }),
        )
    };
    let res = verify("000000".into()).await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_code").await;
    let res = verify(totp_code(&secret, 0)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let second = Browser::from_login(res).await;
    secrets.push(second.csrf.clone());
    secrets.push(second.session.split_once('=').unwrap().1.to_owned());

    // Sudo: a wrong code, a right one, the password.
    let res = post(&second, "/sudo", json!({ "code": "000000" }))
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let res = post(&second, "/sudo", json!({ "code": totp_code(&secret, 1) }))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = post(&second, "/sudo", json!({ "password": PASSWORD }))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // New recovery codes (with an old one), then off (with a new one).
    let res = post(
        &second,
        "/mfa/recovery-codes",
        json!({ "code": recovery[0] }),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let renewed = codes(&res.json().await.unwrap());
    secrets.extend(renewed.iter().cloned());
    secrets.extend(renewed.iter().map(|c| c.replace('-', "")));
    let res = post(&second, "/mfa/totp/disable", json!({ "code": renewed[0] }))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    let trail = Trail::now();
    let session = ("transport", "session");
    let here = ("ip", "127.0.0.1");
    trail.has("mfa_failed", &ada, &[("reason", "confirm"), here]);
    trail.has("mfa_enabled", &ada, &[session, here]);
    trail.has("mfa_challenged", &ada, &[session, here]);
    trail.has("mfa_failed", &ada, &[("reason", "verify"), here]);
    trail.has("login_succeeded", &ada, &[session, here]);
    trail.has("mfa_failed", &ada, &[("reason", "sudo"), here]);
    trail.has("sudo", &ada, &[("reason", "code"), session, here]);
    trail.has("sudo", &ada, &[("reason", "password"), session, here]);
    trail.has("mfa_recovery_code_used", &ada, &[]);
    assert_eq!(trail.of("mfa_recovery_code_used", &ada).len(), 2);
    trail.has("mfa_recovery_codes_regenerated", &ada, &[session, here]);
    trail.has("mfa_disabled", &ada, &[session, here]);
    assert_no_secret(&secrets);
}

/// The `name` parameter of `url`'s query.
fn query_param(url: &str, name: &str) -> String {
    Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no {name} in {url}"))
}

async fn provider_sign_ins_are_audited_without_state_or_code(backend: Backend) {
    let _one_at_a_time = begin().await;
    let Some(s) = setup(
        backend,
        &[
            ("alice", "alice@example.com", true),
            ("bob", "bob@example.com", true),
            ("carol", "carol@example.com", true),
        ],
    )
    .await
    else {
        return;
    };
    const NEW: &str = "alice's own passphrase";
    let mut secrets: Vec<String> = vec![PASSWORD.into(), NEW.into()];
    secrets.push(crudauth_tests::CLIENT_SECRET.into());
    // Bob registered himself and never verified his email: the provider's
    // sign-in claims the account. Carol verified hers: it is linked.
    let bob = id_text(&s.server.register("bob@example.com").await);
    let carol = id_text(&s.server.register("carol@example.com").await);
    s.sql("UPDATE users SET email_verified = true WHERE email = 'carol@example.com'")
        .await;
    s.server
        .auth
        .invalidate_user(carol.parse::<i64>().unwrap())
        .await;

    let mut sign_in = async |account: &str| -> (Jar, String) {
        let mut jar = Jar::default();
        let start = format!("{}/oauth/test/authorize", s.base);
        let res = s.get(&mut jar, &start).await;
        let at_provider = res.headers()["location"].to_str().unwrap().to_owned();
        secrets.push(query_param(&at_provider, "state"));
        secrets.push(query_param(&at_provider, "nonce"));
        secrets.push(query_param(&at_provider, "code_challenge"));
        secrets.push(jar.get(&s.base, "__Host-oauth_state").unwrap());
        let callback = s.to_callback(&mut jar, "", account).await;
        secrets.push(query_param(&callback, "code"));
        let (landing, _) = s.finish(&mut jar, &callback).await;
        assert_eq!(landing, "/", "{account} signed in");
        secrets.push(jar.get(&s.base, "__Host-session_id").unwrap());
        secrets.push(jar.get(&s.base, "__Host-csrf_token").unwrap());
        (jar, callback)
    };
    let (mut alice_jar, callback) = sign_in("alice").await;
    sign_in("bob").await;
    sign_in("carol").await;
    // The same callback again: its flow is over.
    let mut replay = Jar::default();
    let (landing, _) = s.finish(&mut replay, &callback).await;
    assert_eq!(landing, "/?error=invalid_state");

    let me: Value = s.me(&mut alice_jar).await.json().await.unwrap();
    let alice = id_text(&me["user_id"]);
    let res = s
        .send(
            &mut alice_jar,
            Method::POST,
            "/set-password",
            json!({ "new_password": NEW }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = s
        .send(
            &mut alice_jar,
            Method::DELETE,
            "/oauth/identities/test",
            json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    let trail = Trail::now();
    let here = ("ip", "127.0.0.1");
    let session = ("transport", "session");
    let test = ("provider", "test");
    trail.has("oauth_linked", &alice, &[("reason", "created"), test, here]);
    trail.has("oauth_linked", &bob, &[("reason", "claimed"), test, here]);
    trail.has("oauth_linked", &carol, &[("reason", "linked"), test, here]);
    for user in [&alice, &bob, &carol] {
        trail.has("login_succeeded", user, &[session, here]);
    }
    assert!(
        trail
            .named("oauth_failed")
            .iter()
            .any(|e| { e.field("reason") == "invalid_state" && e.field("provider") == "test" }),
        "{}",
        trail.all()
    );
    trail.has("password_changed", &alice, &[("reason", "set_password")]);
    trail.has("oauth_unlinked", &alice, &[test, here]);
    assert_no_secret(&secrets);
}

on_both_backends!(
    a_full_flow_is_audited_without_any_secret,
    recovery_is_audited_without_any_link_token,
    second_factor_and_sudo_are_audited_without_any_code,
    provider_sign_ins_are_audited_without_state_or_code,
);
