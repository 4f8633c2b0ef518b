//! SPEC section 13: every path that ends in a session or a token pair asks
//! an account with a second factor for it, on SQLite and PostgreSQL, over
//! real sockets, with the real `oidc-provider` as the provider. Each
//! finding of the round-3 review is sent as the attack: a provider sign-in
//! into an enrolled account, `/set-password` and unlinking from a stale
//! credential, a claim that would keep the squatter's factor, an unlinked
//! identity signing in again, a forged log line, and a SIGTERM right after
//! `listening on`.

use std::io::Write as _;
use std::sync::{Mutex, Once};
use std::time::Duration;

use crudauth::SmtpSender;
use crudauth_tests::oidc_browser::{Jar, Setup, setup_with};
use crudauth_tests::second_factor::{self, wrong_code};
use crudauth_tests::{
    Backend, CLIENT_ID, CLIENT_SECRET, MFA_KEY, PASSWORD, SmtpMode, SmtpServer, assert_error,
    example_binary, on_both_backends, set_cookies, totp_code,
};
use reqwest::header::{COOKIE, LOCATION, ORIGIN};
use reqwest::{Method, StatusCode, Url};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

/// Everything this test binary's servers log, formatted as the example's
/// subscriber formats it (plain text, one event a line).
static LOG: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Sink;

impl std::io::Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        LOG.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber once, before any server of this
/// binary is built (every test calls it first).
fn capture() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(|| Sink)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
    });
}

fn log_text() -> String {
    String::from_utf8_lossy(&LOG.lock().unwrap()).into_owned()
}

/// The example with the second factor on, trusting the test provider.
async fn with_mfa(backend: Backend, accounts: &[(&str, &str, bool)]) -> Option<Setup> {
    capture();
    setup_with(backend, accounts, (CLIENT_ID, Some(CLIENT_SECRET)), |b| {
        b.mfa_key(MFA_KEY)
    })
    .await
}

/// Registers `email` with [`PASSWORD`] and marks the address verified (as
/// its link would), so that the provider's sign-in links rather than
/// claims it.
async fn verified_account(s: &Setup, email: &str) -> i64 {
    let id = s.server.register(email).await;
    s.sql(&format!(
        "UPDATE users SET email_verified = true WHERE email = '{email}'"
    ))
    .await;
    id.as_i64().unwrap()
}

/// Enrols `email` in TOTP through a password login; the base32 secret.
async fn enrol(s: &Setup, email: &str) -> String {
    second_factor::enrol(&s.server, email).await.0
}

/// A fresh proof for this browser's session: `/sudo` with the password.
async fn sudo(s: &Setup, jar: &mut Jar) {
    let res = s
        .send(jar, Method::POST, "/sudo", json!({ "password": PASSWORD }))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

/// `DELETE /oauth/identities/test` as this browser.
async fn unlink(s: &Setup, jar: &mut Jar) -> reqwest::Response {
    s.send(jar, Method::DELETE, "/oauth/identities/test", json!({}))
        .await
}

fn session_cookie_set(res: &reqwest::Response) -> bool {
    set_cookies(res.headers())
        .iter()
        .any(|c| c.contains("session_id=") && !c.contains("Max-Age=0"))
}

/// The cookie jar of a browser that logged in with a password.
async fn password_jar(s: &Setup, email: &str) -> Jar {
    let url = Url::parse(&s.base).unwrap();
    let res = s.password_login(email).await;
    assert_eq!(res.status(), StatusCode::OK);
    let mut jar = Jar::default();
    jar.keep(&url, &res);
    jar
}

async fn a_provider_sign_in_into_an_enrolled_account_waits_for_the_code(backend: Backend) {
    let Some(s) = with_mfa(backend, &[("alice", "alice@example.com", true)]).await else {
        return;
    };
    let id = verified_account(&s, "alice@example.com").await;
    let secret = enrol(&s, "alice@example.com").await;
    let sessions_before = s.count("SELECT COUNT(*) FROM crudauth_sessions").await;
    let mut jar = Jar::default();
    let callback = s
        .to_callback(&mut jar, "?redirect_to=/account%3Ftab%3D2%23top", "alice")
        .await;
    let res = s.get(&mut jar, &callback).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()[LOCATION], "/account?tab=2&mfa_required=1#top");
    let cookies = set_cookies(res.headers()).join("\n");
    assert!(!cookies.contains("session_id="), "no session: {cookies}");
    let mfa_cookie = set_cookies(res.headers())
        .into_iter()
        .find(|c| c.starts_with("__Host-crudauth_mfa="))
        .unwrap_or_else(|| panic!("the challenge cookie: {cookies}"));
    for attribute in [
        "HttpOnly",
        "SameSite=Lax",
        "Path=/",
        "Max-Age=300",
        "Secure",
    ] {
        assert!(mfa_cookie.contains(attribute), "{mfa_cookie}");
    }
    assert_eq!(
        s.count("SELECT COUNT(*) FROM crudauth_sessions").await,
        sessions_before
    );
    assert_error(
        s.me(&mut jar).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    // Nothing is tied to the account before its own factor is given.
    assert_eq!(s.count("SELECT COUNT(*) FROM crudauth_identities").await, 0);

    // Another site cannot complete it with the victim's cookie.
    let url = format!("{}/mfa/verify", s.base);
    let res = s
        .server
        .client
        .post(&url)
        .header(COOKIE, jar.header(&Url::parse(&url).unwrap()))
        .header(ORIGIN, "http://evil.example")
        .json(&json!({ "code": totp_code(&secret, 0) }))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::FORBIDDEN, "csrf_failed").await;
    let res = s
        .send(
            &mut jar,
            Method::POST,
            "/mfa/verify",
            json!({ "code": wrong_code(&secret) }),
        )
        .await;
    assert!(!session_cookie_set(&res));
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_code").await;
    assert_error(
        s.me(&mut jar).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;

    let res = s
        .send(
            &mut jar,
            Method::POST,
            "/mfa/verify",
            json!({ "code": totp_code(&secret, 0) }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let cleared = set_cookies(res.headers())
        .into_iter()
        .find(|c| c.starts_with("__Host-crudauth_mfa="))
        .expect("the challenge cookie is cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["user_id"], id);
    assert_eq!(
        s.count(&format!(
            "SELECT COUNT(*) FROM crudauth_identities WHERE user_id = '{id}'"
        ))
        .await,
        1,
        "linked once the code passed"
    );
    let me: Value = s.me(&mut jar).await.json().await.unwrap();
    assert_eq!(me["user_id"], id);
    assert_eq!(
        s.count("SELECT COUNT(*) FROM crudauth_sessions WHERE mfa = true")
            .await,
        1,
        "the new session carries the second factor"
    );
    // The challenge was used up.
    jar.set(
        &s.base,
        "__Host-crudauth_mfa",
        mfa_cookie
            .split(';')
            .next()
            .unwrap()
            .split_once('=')
            .unwrap()
            .1,
    );
    let res = s
        .send(
            &mut jar,
            Method::POST,
            "/mfa/verify",
            json!({ "code": totp_code(&secret, 1) }),
        )
        .await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

async fn set_password_needs_a_recent_proof_and_is_not_one(backend: Backend) {
    let Some(s) = with_mfa(backend, &[("pat", "pat@example.com", true)]).await else {
        return;
    };
    let mut jar = Jar::default();
    assert_eq!(s.sign_in(&mut jar, "", "pat").await, "/");
    // A stolen cookie of a provider-made account, an hour old.
    second_factor::age_proofs(&s.server, 3600).await;
    let res = s
        .send(
            &mut jar,
            Method::POST,
            "/set-password",
            json!({ "new_password": PASSWORD }),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "reauthentication_required").await;
    assert_error(
        s.password_login("pat@example.com").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;

    // The owner signs in again: fresh, and still within the window after
    // 200 s.
    assert_eq!(s.sign_in(&mut jar, "", "pat").await, "/");
    second_factor::age_proofs(&s.server, 200).await;
    let res = s
        .send(
            &mut jar,
            Method::POST,
            "/set-password",
            json!({ "new_password": PASSWORD }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(session_cookie_set(&res), "the session was rotated");
    // 150 s later the provider's proof is 350 s old: had /set-password
    // counted as a proof, it would be 150 s.
    second_factor::age_proofs(&s.server, 150).await;
    let res = unlink(&s, &mut jar).await;
    assert_error(res, StatusCode::FORBIDDEN, "reauthentication_required").await;
    sudo(&s, &mut jar).await;
    let res = unlink(&s, &mut jar).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}

async fn a_claim_removes_the_squatters_second_factor(backend: Backend) {
    let Some(s) = with_mfa(backend, &[("carol", "carol@example.com", true)]).await else {
        return;
    };
    // Someone registered Carol's address, never verified it, enrolled a
    // factor of their own, and left a login challenge and a link pending.
    let id = s.server.register("carol@example.com").await;
    let secret = enrol(&s, "carol@example.com").await;
    let res = s.password_login("carol@example.com").await;
    let challenge: Value = res.json().await.unwrap();
    let challenge = challenge["challenge"].as_str().unwrap().to_owned();
    let res = s
        .server
        .post_json(
            "/email/verify-request",
            json!({ "email": "carol@example.com" }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let user = format!("user_id = '{id}'");
    for table in [
        "crudauth_mfa",
        "crudauth_recovery_codes",
        "crudauth_mfa_challenges",
        "crudauth_one_time_tokens",
    ] {
        let n = s
            .count(&format!("SELECT COUNT(*) FROM {table} WHERE {user}"))
            .await;
        assert!(n > 0, "{table} has the squatter's rows before the claim");
    }

    let mut jar = Jar::default();
    assert_eq!(s.sign_in(&mut jar, "", "carol").await, "/");
    let me: Value = s.me(&mut jar).await.json().await.unwrap();
    assert_eq!(me["user_id"], id);
    for table in [
        "crudauth_mfa",
        "crudauth_recovery_codes",
        "crudauth_mfa_challenges",
        "crudauth_one_time_tokens",
    ] {
        let n = s
            .count(&format!("SELECT COUNT(*) FROM {table} WHERE {user}"))
            .await;
        assert_eq!(n, 0, "{table} after the claim");
    }
    let res = s
        .server
        .post_json(
            "/mfa/verify",
            json!({ "challenge": challenge, "code": totp_code(&secret, 0) }),
        )
        .await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let status: Value = s
        .get(&mut jar, &format!("{}/mfa", s.base))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["enabled"], false);
}

async fn an_unlinked_identity_stays_unlinked_until_its_owner_links_it(backend: Backend) {
    let Some(s) = with_mfa(backend, &[("alice", "alice@example.com", true)]).await else {
        return;
    };
    let alice = verified_account(&s, "alice@example.com").await;
    s.server.register("mallory@example.com").await;
    let mut jar = Jar::default();
    assert_eq!(s.sign_in(&mut jar, "", "alice").await, "/");
    assert_eq!(s.count("SELECT COUNT(*) FROM crudauth_identities").await, 1);
    second_factor::age_proofs(&s.server, 600).await;
    let res = unlink(&s, &mut jar).await;
    assert_error(res, StatusCode::FORBIDDEN, "reauthentication_required").await;
    assert_eq!(s.count("SELECT COUNT(*) FROM crudauth_identities").await, 1);
    sudo(&s, &mut jar).await;
    let res = unlink(&s, &mut jar).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    // Whoever holds the provider account is refused, also by email.
    let mut thief = Jar::default();
    assert_eq!(
        s.sign_in(&mut thief, "", "alice").await,
        "/?error=identity_unlinked"
    );
    assert_error(
        s.me(&mut thief).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    assert_eq!(s.count("SELECT COUNT(*) FROM crudauth_identities").await, 0);
    // Another account, signed in and fresh, cannot take it with ?link=1.
    let mut mallory = password_jar(&s, "mallory@example.com").await;
    assert_eq!(
        s.sign_in(&mut mallory, "?link=1", "alice").await,
        "/?error=identity_unlinked"
    );
    // ?link=1 needs a signed-in browser, and a fresh one.
    let res = s
        .get(
            &mut Jar::default(),
            &format!("{}/oauth/test/authorize?link=1", s.base),
        )
        .await;
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    second_factor::age_proofs(&s.server, 600).await;
    let res = s
        .get(&mut jar, &format!("{}/oauth/test/authorize?link=1", s.base))
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "reauthentication_required").await;
    assert_eq!(s.count("SELECT COUNT(*) FROM crudauth_identities").await, 0);

    // The owner, fresh, links it again; from then on it signs in.
    sudo(&s, &mut jar).await;
    assert_eq!(s.sign_in(&mut jar, "?link=1", "alice").await, "/");
    assert_eq!(
        s.count(&format!(
            "SELECT COUNT(*) FROM crudauth_identities WHERE user_id = '{alice}'"
        ))
        .await,
        1
    );
    let mut later = Jar::default();
    assert_eq!(s.sign_in(&mut later, "", "alice").await, "/");
    let me: Value = s.me(&mut later).await.json().await.unwrap();
    assert_eq!(me["user_id"], alice);
}

async fn request_values_reach_the_log_escaped_and_mail_addresses_masked(backend: Backend) {
    let Some(s) = with_mfa(backend, &[("alice", "alice@example.com", true)]).await else {
        return;
    };
    let mut jar = Jar::default();
    let res = s
        .get(&mut jar, &format!("{}/oauth/test/authorize", s.base))
        .await;
    let at_provider = Url::parse(res.headers()[LOCATION].to_str().unwrap()).unwrap();
    let state = at_provider
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let forged = "denied\ncrudauth::audit: event=\"login_succeeded\" user_id=1 forged";
    let mut callback = Url::parse(&format!("{}/oauth/test/callback", s.base)).unwrap();
    callback
        .query_pairs_mut()
        .append_pair("state", &state)
        .append_pair("error", forged);
    let res = s.get(&mut jar, callback.as_str()).await;
    assert_eq!(res.headers()[LOCATION], "/?error=oauth_failed");
    let log = log_text();
    assert!(
        log.contains(r#"denied\ncrudauth::audit: event="login_succeeded""#),
        "the provider's error is logged, escaped:\n{log}"
    );
    assert!(
        !log.lines().any(|line| line.starts_with("crudauth::audit")),
        "a forged line reached the log:\n{log}"
    );

    // The log sender: the link is there (it is the development sender),
    // the address is not.
    s.server.register("alice@example.com").await;
    let res = s
        .server
        .post_json(
            "/password/reset-request",
            json!({ "email": "alice@example.com" }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let line = loop {
        let found = log_text()
            .lines()
            .find(|l| l.contains("crudauth: mail") && l.contains("reset-password"))
            .map(str::to_owned);
        if let Some(line) = found {
            break line;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no mail line:\n{}",
            log_text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(line.contains("a***@example.com"), "{line}");
    assert!(!line.contains("alice@example.com"), "{line}");
    let warnings = log_text().matches("no mail sender").count();
    assert_eq!(warnings, 1, "warned once for every server of this process");
}

/// What a path that ends in a credential must demand of an account with a
/// second factor.
#[derive(Debug, Clone, Copy)]
enum Demand {
    /// A challenge instead of the credential.
    Challenge,
    /// The challenge's code; the credential then carries the factor.
    Code,
    /// Continues a credential the caller holds, keeping its factor.
    Continues,
    /// Issues no credential at all.
    Nothing,
}

/// Every path that ends in a session or a token pair (and those SPEC
/// section 13 names that end in none). A documented operation whose
/// success carries a credential and is missing here fails the test.
const PATHS: &[(&str, &str, Demand)] = &[
    ("post", "/login", Demand::Challenge),
    ("post", "/token", Demand::Challenge),
    ("get", "/oauth/{provider}/callback", Demand::Challenge),
    ("post", "/mfa/verify", Demand::Code),
    ("post", "/refresh", Demand::Continues),
    ("post", "/set-password", Demand::Continues),
    ("post", "/change-password", Demand::Continues),
    ("post", "/password/reset-confirm", Demand::Nothing),
];

/// The documented operations whose success hands out a credential: a
/// session (`LoginOk`, or a rotated one, `PasswordChanged`), a token pair,
/// or the callback's signed-in redirect.
fn credential_operations(document: &Value) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (path, operations) in document["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let successes: String = operation["responses"]
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(status, _)| status.starts_with('2') || status.starts_with('3'))
                .map(|(_, response)| response.to_string())
                .collect();
            let issues = ["LoginOk", "TokenPair", "PasswordChanged", "Signed in"]
                .iter()
                .any(|marker| successes.contains(marker));
            if issues {
                found.push((method.clone(), path.clone()));
            }
        }
    }
    found.sort();
    found
}

async fn every_sign_in_path_asks_an_enrolled_account_for_its_second_factor(backend: Backend) {
    capture();
    let smtp = SmtpServer::start(SmtpMode::Accept).await;
    let sender = SmtpSender::new(&smtp.url(), "crudauth <no-reply@example.com>").unwrap();
    let Some(s) = setup_with(
        backend,
        &[("alice", "alice@example.com", true)],
        (CLIENT_ID, Some(CLIENT_SECRET)),
        move |b| b.mfa_key(MFA_KEY).email_sender(sender),
    )
    .await
    else {
        return;
    };
    let document = serde_json::to_value(s.server.auth.openapi()).unwrap();
    let mut listed: Vec<(String, String)> = PATHS
        .iter()
        .filter(|(_, _, demand)| !matches!(demand, Demand::Nothing))
        .map(|(m, p, _)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    listed.sort();
    assert_eq!(
        credential_operations(&document),
        listed,
        "a path that hands out a credential is missing from PATHS (or is gone)"
    );
    for (method, path, _) in PATHS {
        assert!(
            document["paths"][path][method].is_object(),
            "{method} {path} is not served"
        );
    }

    // Alice: a password, a verified address, a second factor.
    let res = s
        .server
        .post_json(
            "/register",
            json!({ "email": "alice@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let token = smtp.to(1, "alice@example.com").await[0].token().unwrap();
    let res = s
        .server
        .post_json("/email/verify-confirm", json!({ "token": token }))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let (secret, recovery) = second_factor::enrol(&s.server, "alice@example.com").await;
    // One TOTP step is used below; the later proofs take recovery codes,
    // so that no proof waits for the next 30 s step.
    let mut recovery = recovery.into_iter();
    let mut refresh = None;
    for (method, path, demand) in PATHS {
        match *path {
            "/login" => {
                let res = s.password_login("alice@example.com").await;
                assert!(!session_cookie_set(&res), "{method} {path}");
                let body: Value = res.json().await.unwrap();
                assert_eq!(body["mfa_required"], true, "{path}: {body}");
            }
            "/token" => {
                let res = s
                    .server
                    .post_json(
                        "/token",
                        json!({ "username": "alice@example.com", "password": PASSWORD }),
                    )
                    .await;
                let body: Value = res.json().await.unwrap();
                assert_eq!(body["mfa_required"], true, "{path}: {body}");
                assert!(body.get("access_token").is_none(), "{body}");
                assert!(body.get("refresh_token").is_none(), "{body}");
            }
            "/oauth/{provider}/callback" => {
                let mut jar = Jar::default();
                assert_eq!(s.sign_in(&mut jar, "", "alice").await, "/?mfa_required=1");
                assert!(jar.get(&s.base, "__Host-session_id").is_none());
                assert_error(
                    s.me(&mut jar).await,
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                )
                .await;
            }
            "/mfa/verify" => {
                // Both kinds of challenge: wrong codes give nothing, the
                // right one a credential that carries the factor.
                let res = s.password_login("alice@example.com").await;
                let body: Value = res.json().await.unwrap();
                let challenge = body["challenge"].as_str().unwrap().to_owned();
                let res = s
                    .server
                    .post_json(
                        "/mfa/verify",
                        json!({ "challenge": challenge, "code": wrong_code(&secret) }),
                    )
                    .await;
                assert!(!session_cookie_set(&res));
                assert_error(res, StatusCode::BAD_REQUEST, "invalid_code").await;
                let res = s
                    .server
                    .post_json(
                        "/mfa/verify",
                        json!({ "challenge": challenge, "code": totp_code(&secret, 0) }),
                    )
                    .await;
                assert_eq!(res.status(), StatusCode::OK);
                assert!(session_cookie_set(&res));
                let res = s
                    .server
                    .post_json(
                        "/token",
                        json!({ "username": "alice@example.com", "password": PASSWORD }),
                    )
                    .await;
                let body: Value = res.json().await.unwrap();
                let res = s
                    .server
                    .post_json(
                        "/mfa/verify",
                        json!({ "challenge": body["challenge"], "code": recovery.next().unwrap() }),
                    )
                    .await;
                assert_eq!(res.status(), StatusCode::OK);
                let pair: Value = res.json().await.unwrap();
                assert!(pair["refresh_token"].is_string(), "{pair}");
                assert_eq!(
                    s.count("SELECT COUNT(*) FROM crudauth_token_families WHERE mfa = false")
                        .await,
                    0
                );
                assert_eq!(
                    s.count("SELECT COUNT(*) FROM crudauth_sessions WHERE mfa = false")
                        .await,
                    1,
                    "only the enrolment's own password session"
                );
                s.sql("DELETE FROM crudauth_sessions WHERE mfa = false")
                    .await;
                refresh = pair["refresh_token"].as_str().map(str::to_owned);
            }
            "/refresh" => {
                let refresh = refresh.take().expect("the pair /mfa/verify issued");
                let res = s
                    .server
                    .post_json("/refresh", json!({ "refresh_token": refresh }))
                    .await;
                assert_eq!(res.status(), StatusCode::OK);
                assert_eq!(
                    s.count("SELECT COUNT(*) FROM crudauth_token_families WHERE mfa = false")
                        .await,
                    0,
                    "the family keeps its factor"
                );
            }
            "/change-password" | "/set-password" => {
                // Only on the caller's own session, which keeps its factor.
                let res = s.password_login("alice@example.com").await;
                let body: Value = res.json().await.unwrap();
                let res = s
                    .server
                    .post_json(
                        "/mfa/verify",
                        json!({ "challenge": body["challenge"], "code": recovery.next().unwrap() }),
                    )
                    .await;
                let browser = crudauth_tests::Browser::from_login(res).await;
                let body = if *path == "/change-password" {
                    json!({ "current_password": PASSWORD, "new_password": "a changed long password" })
                } else {
                    json!({ "new_password": PASSWORD })
                };
                let res = s.server.post_as_browser(&browser, path, body).await;
                if *path == "/set-password" {
                    assert!(!session_cookie_set(&res));
                    assert_error(res, StatusCode::CONFLICT, "password_exists").await;
                } else {
                    assert_eq!(res.status(), StatusCode::OK);
                    assert!(session_cookie_set(&res));
                }
                assert_eq!(
                    s.count("SELECT COUNT(*) FROM crudauth_sessions WHERE mfa = false")
                        .await,
                    0,
                    "{path}"
                );
            }
            "/password/reset-confirm" => {
                let before = smtp.messages().len();
                let res = s
                    .server
                    .post_json(
                        "/password/reset-request",
                        json!({ "email": "alice@example.com" }),
                    )
                    .await;
                assert_eq!(res.status(), StatusCode::ACCEPTED);
                let mail = smtp.to(before + 1, "alice@example.com").await;
                let token = mail.last().unwrap().token().unwrap();
                let res = s
                    .server
                    .post_json(
                        "/password/reset-confirm",
                        json!({ "token": token, "new_password": "another long password" }),
                    )
                    .await;
                assert_eq!(res.status(), StatusCode::OK);
                assert!(!session_cookie_set(&res));
                let body: Value = res.json().await.unwrap();
                assert!(body.get("access_token").is_none(), "{body}");
                let res = s
                    .server
                    .post_json(
                        "/login",
                        json!({
                            "username": "alice@example.com",
                            "password": "another long password",
                        }),
                    )
                    .await;
                let body: Value = res.json().await.unwrap();
                assert_eq!(body["mfa_required"], true, "{body}");
            }
            other => panic!("no probe for {other} ({demand:?})"),
        }
    }
}

on_both_backends!(
    a_provider_sign_in_into_an_enrolled_account_waits_for_the_code,
    set_password_needs_a_recent_proof_and_is_not_one,
    a_claim_removes_the_squatters_second_factor,
    an_unlinked_identity_stays_unlinked_until_its_owner_links_it,
    request_values_reach_the_log_escaped_and_mail_addresses_masked,
    every_sign_in_path_asks_an_enrolled_account_for_its_second_factor,
);

/// The example binary, signalled as soon as it says it listens, exits
/// cleanly every time: its handlers are in place before the line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_right_after_listening_on_is_a_clean_exit() {
    let binary = example_binary();
    for run in 0..12 {
        let mut child = tokio::process::Command::new(&binary)
            .env("CRUDAUTH_ADDR", "127.0.0.1:0")
            .env(
                "CRUDAUTH_SECRET_KEY",
                "signal-test-secret-key-of-32-bytes-or-more",
            )
            .env("RUST_LOG", "error")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start the example");
        let pid = nix::unistd::Pid::from_raw(child.id().unwrap() as i32);
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("started within 30 s")
            .unwrap()
            .unwrap_or_default();
        assert!(line.starts_with("listening on "), "{line}");
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .expect("exited within 30 s")
            .unwrap();
        assert!(
            status.success(),
            "run {run}: {status} (killed by the signal, not a clean exit)"
        );
    }
    std::io::stdout().flush().unwrap();
}
