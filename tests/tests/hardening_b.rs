//! Hardening, round 2 (second part): client addresses behind proxies,
//! settings that would switch a defence off, the `Origin` check,
//! `Cache-Control: no-store` on credentials, and NUL characters in every
//! string field of the documented bodies. Each test sends the attack over
//! a real socket, on SQLite and PostgreSQL.

use std::time::Duration;

use crudauth::{ConfigError, CrudAuthBuilder, CrudAuthConfig, LockoutPolicy};
use crudauth_tests::{
    Backend, Browser, PASSWORD, SECRET, Server, assert_error, on_both_backends, start, token_pair,
};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

async fn register_from(server: &Server, email: &str, forwarded: &str) -> Response {
    server
        .client
        .post(server.url("/register"))
        .header("x-forwarded-for", forwarded)
        .json(&json!({ "email": email, "password": PASSWORD }))
        .send()
        .await
        .unwrap()
}

/// A proxy that writes `ip:port` must not let the entry the client wrote
/// left of it become the client's address (it would pick a fresh budget per
/// request).
async fn the_proxys_ip_port_entry_keys_the_throttle_not_the_spoofed_one(backend: Backend) {
    let server = start(backend, |b| b.register_per_hour(1).trusted_proxy_hops(1)).await;
    let first = register_from(&server, "a@example.com", "198.51.100.1, 203.0.113.7:41000").await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let spoofed = register_from(&server, "b@example.com", "198.51.100.2, 203.0.113.7:41001").await;
    assert_error(spoofed, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // The same client seen through an IPv6 socket, IPv4-mapped.
    let mapped = register_from(&server, "b@example.com", "[::ffff:203.0.113.7]:443").await;
    assert_error(mapped, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // An unreadable entry in the proxy's place is not skipped either: the
    // socket peer (loopback, a fresh budget here) is the client.
    let unreadable = register_from(&server, "b@example.com", "198.51.100.3, unknown").await;
    assert_eq!(unreadable.status(), StatusCode::CREATED);
    let other = register_from(&server, "c@example.com", "198.51.100.1, 203.0.113.8:41000").await;
    assert_eq!(other.status(), StatusCode::CREATED);

    // Session metadata records the same address.
    let login = server
        .client
        .post(server.url("/login"))
        .header("x-forwarded-for", "198.51.100.9, 203.0.113.7:41002")
        .json(&json!({ "username": "a@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    let browser = Browser::from_login(login).await;
    let sessions: Value = server
        .as_browser(&browser, Method::GET, "/sessions", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sessions[0]["ip"], "203.0.113.7", "{sessions}");
}

async fn a_zero_registration_limit_turns_the_throttle_off(backend: Backend) {
    let server = start(backend, |b| b.register_per_hour(0).trusted_proxy_hops(1)).await;
    for i in 0..3 {
        let res = register_from(&server, &format!("u{i}@example.com"), "203.0.113.7").await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
}

async fn builder() -> CrudAuthBuilder {
    let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
    example_web_and_api::auth_builder(db, crudauth_tests::config())
}

fn invalid_setting(result: Result<crudauth::CrudAuth, ConfigError>) -> &'static str {
    match result {
        Err(ConfigError::Invalid { setting, .. }) => setting,
        other => panic!("expected ConfigError::Invalid, got {other:?}"),
    }
}

#[tokio::test]
async fn build_refuses_settings_that_switch_the_lockout_off() {
    let zero = Duration::ZERO;
    let cases: [(&str, LockoutPolicy); 4] = [
        (
            "lockout.attempts",
            LockoutPolicy {
                attempts: 0,
                ..LockoutPolicy::default()
            },
        ),
        (
            "lockout.ip_attempts",
            LockoutPolicy {
                ip_attempts: 0,
                ..LockoutPolicy::default()
            },
        ),
        (
            "lockout.window",
            LockoutPolicy {
                window: zero,
                ..LockoutPolicy::default()
            },
        ),
        (
            "lockout.base",
            LockoutPolicy {
                base: zero,
                ..LockoutPolicy::default()
            },
        ),
    ];
    for (setting, policy) in cases {
        let named = invalid_setting(builder().await.lockout(policy).build());
        assert_eq!(named, setting);
    }
}

#[tokio::test]
async fn build_refuses_durations_that_would_wrap() {
    let huge = Duration::from_secs(u64::MAX);
    let named = invalid_setting(builder().await.access_ttl(huge).build());
    assert_eq!(named, "access_ttl");
    let named = invalid_setting(builder().await.refresh_ttl(huge).build());
    assert_eq!(named, "refresh_ttl");
    let named = invalid_setting(
        builder()
            .await
            .session_timeouts(Duration::from_secs(60), huge)
            .build(),
    );
    assert_eq!(named, "session_absolute");
    let policy = LockoutPolicy {
        base: Duration::from_secs(i64::MAX as u64 + 1),
        ..LockoutPolicy::default()
    };
    let named = invalid_setting(builder().await.lockout(policy).build());
    assert_eq!(named, "lockout.base");
    let named = invalid_setting(builder().await.public_origin("app.example.com").build());
    assert_eq!(named, "public_origin");
}

#[tokio::test]
async fn an_explicit_secret_key_is_never_replaced_by_a_missing_one() {
    let mut without_key = CrudAuthConfig::default();
    without_key.secret_key = None;
    let explicit = [9u8; 40];
    let db = || async { sea_orm::Database::connect("sqlite::memory:").await.unwrap() };

    // A key given before a config without one (from_env with
    // CRUDAUTH_SECRET_KEY unset) is kept.
    let auth = example_web_and_api::auth_builder(db().await, without_key.clone())
        .secret_key(explicit)
        .build()
        .unwrap();
    assert_eq!(auth.config().secret_key.as_deref(), Some(&explicit[..]));
    let auth = crudauth::CrudAuth::builder()
        .database(db().await)
        .secret_key(explicit)
        .config(without_key.clone())
        .user_model::<example_web_and_api::user::Model>()
        .transport(crudauth::SessionTransport::new())
        .transport(crudauth::BearerTransport::new())
        .build()
        .unwrap();
    assert_eq!(auth.config().secret_key.as_deref(), Some(&explicit[..]));

    // A config that holds a key (the variable set) replaces an earlier one:
    // the last key given wins.
    let auth = crudauth::CrudAuth::builder()
        .database(db().await)
        .secret_key(explicit)
        .config(crudauth_tests::config())
        .user_model::<example_web_and_api::user::Model>()
        .transport(crudauth::SessionTransport::new())
        .transport(crudauth::BearerTransport::new())
        .build()
        .unwrap();
    assert_eq!(auth.config().secret_key.as_deref(), Some(SECRET));

    // No key at all: a random one for this process, different each time.
    let first = example_web_and_api::auth_builder(db().await, without_key.clone())
        .build()
        .unwrap();
    let second = example_web_and_api::auth_builder(db().await, without_key)
        .build()
        .unwrap();
    let key = first.config().secret_key.clone().unwrap();
    assert!(key.len() >= 32);
    assert_ne!(Some(key), second.config().secret_key.clone());
}

/// A session-authenticated unsafe request with a valid CSRF token, from
/// `origin`, to `host` (the server's own when `None`).
async fn post_note(
    server: &Server,
    browser: &Browser,
    host: Option<&str>,
    origin: &str,
) -> Response {
    let mut request = server
        .with_cookie(Method::POST, "/api/notes", browser)
        .header("origin", origin)
        .json(&json!({ "text": "hi" }));
    if let Some(host) = host {
        request = request.header("host", host);
    }
    request.send().await.unwrap()
}

async fn a_plain_http_origin_cannot_post_to_a_secure_app(backend: Backend) {
    let server = start(backend, |b| b).await;
    server.register("ada@example.com").await;
    let ada = server.login("ada@example.com").await;
    let host = Some("app.example");
    let res = post_note(&server, &ada, host, "http://app.example").await;
    assert_error(res, StatusCode::FORBIDDEN, "csrf_failed").await;
    let res = post_note(&server, &ada, host, "https://app.example:8443").await;
    assert_error(res, StatusCode::FORBIDDEN, "csrf_failed").await;
    let res = post_note(&server, &ada, host, "https://app.example").await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = post_note(
        &server,
        &ada,
        Some("app.example:8443"),
        "https://app.example:8443",
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    // Login refuses the same cross-origin post.
    let login = server
        .client
        .post(server.url("/login"))
        .header("host", "app.example")
        .header("origin", "http://app.example")
        .json(&json!({ "username": "ada@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_error(login, StatusCode::FORBIDDEN, "csrf_failed").await;

    // Loopback hosts are secure contexts to browsers: plain http passes.
    let port = server.base.rsplit(':').next().unwrap().to_owned();
    let own = server.base.clone();
    assert_eq!(
        post_note(&server, &ada, None, &own).await.status(),
        StatusCode::CREATED
    );
    let localhost = format!("localhost:{port}");
    let res = post_note(
        &server,
        &ada,
        Some(&localhost),
        &format!("http://{localhost}"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = post_note(&server, &ada, Some(&localhost), "http://localhost:1").await;
    assert_error(res, StatusCode::FORBIDDEN, "csrf_failed").await;
}

/// `POST /api/notes` over HTTP/2 with prior knowledge: the authority is in
/// the `:authority` pseudo-header, and there is no `Host`.
async fn post_note_over_h2(server: &Server, browser: &Browser, origin: &str) -> http::StatusCode {
    let addr = server.base.trim_start_matches("http://");
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut client = client.ready().await.unwrap();
    let request = http::Request::post(server.url("/api/notes"))
        .header("cookie", browser.cookie())
        .header("x-csrf-token", &browser.csrf)
        .header("origin", origin)
        .header("content-type", "application/json")
        .body(())
        .unwrap();
    assert!(!request.headers().contains_key("host"));
    let (response, mut body) = client.send_request(request, false).unwrap();
    // A refusal may be answered, and the stream closed, before the body is
    // sent: the status is what counts.
    let _ = body.send_data(
        bytes::Bytes::from(json!({ "text": "hi" }).to_string()),
        true,
    );
    response.await.unwrap().status()
}

async fn an_http2_request_is_checked_against_its_authority(backend: Backend) {
    let server = start(backend, |b| b).await;
    server.register("ada@example.com").await;
    let ada = server.login("ada@example.com").await;
    let status = post_note_over_h2(&server, &ada, &server.base).await;
    assert_eq!(status, http::StatusCode::CREATED);
    let status = post_note_over_h2(&server, &ada, "https://evil.example").await;
    assert_eq!(status, http::StatusCode::FORBIDDEN);
}

async fn with_a_public_origin_only_that_origin_passes(backend: Backend) {
    let server = start(backend, |b| b.public_origin("https://app.example.com")).await;
    server.register("ada@example.com").await;
    let ada = server.login("ada@example.com").await;
    let res = post_note(&server, &ada, None, "https://app.example.com").await;
    assert_eq!(res.status(), StatusCode::CREATED);
    // The Host the request reached no longer makes an origin its own.
    let res = post_note(&server, &ada, None, &server.base).await;
    assert_error(res, StatusCode::FORBIDDEN, "csrf_failed").await;
    let res = post_note(
        &server,
        &ada,
        Some("app.example.com"),
        "http://app.example.com",
    )
    .await;
    assert_error(res, StatusCode::FORBIDDEN, "csrf_failed").await;
    let res = post_note(&server, &ada, None, "https://app.example.com:8443").await;
    assert_error(res, StatusCode::FORBIDDEN, "csrf_failed").await;
}

fn assert_no_store(res: &Response, what: &str) {
    assert_eq!(
        res.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store"),
        "{what}"
    );
}

async fn answers_carrying_credentials_are_not_stored(backend: Backend) {
    let server = start(backend, |b| b).await;
    server.register("ada@example.com").await;

    let res = server
        .post_json(
            "/login",
            json!({ "username": "ada@example.com", "password": PASSWORD }),
        )
        .await;
    assert_no_store(&res, "login");
    let ada = Browser::from_login(res).await;
    let res = server
        .post_json(
            "/login",
            json!({ "username": "ada@example.com", "password": "wrong one" }),
        )
        .await;
    assert_no_store(&res, "failed login");

    let res = server
        .post_json(
            "/token",
            json!({ "username": "ada@example.com", "password": PASSWORD }),
        )
        .await;
    assert_no_store(&res, "token");
    let (_, refresh) = token_pair(&res.json().await.unwrap());
    let res = server
        .post_json(
            "/token",
            json!({ "username": "ada@example.com", "password": "wrong one" }),
        )
        .await;
    assert_no_store(&res, "failed token");

    let res = server
        .post_json("/refresh", json!({ "refresh_token": refresh }))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_no_store(&res, "refresh");
    let res = server
        .post_json("/refresh", json!({ "refresh_token": "nonsense" }))
        .await;
    assert_no_store(&res, "failed refresh");

    let res = server
        .with_cookie(Method::POST, "/change-password", &ada)
        .json(&json!({ "current_password": PASSWORD, "new_password": "a brand new password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!crudauth_tests::set_cookies(res.headers()).is_empty());
    assert_no_store(&res, "change-password");
}

/// The schema `schema` points to in `doc`, following one `$ref`.
fn resolved<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(path) => {
            let name = path.rsplit('/').next().unwrap();
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

/// PostgreSQL text cannot hold a NUL character: a NUL in any string field
/// of any built-in JSON body, sent by a signed-in browser, is never a 5xx
/// (a refusal is a 4xx with the JSON error body; `/revoke` answers 200 for
/// any token, as RFC 7009 says). The fields come from
/// the OpenAPI document, so a route added later is tried too.
async fn a_nul_in_any_string_field_is_a_client_error(backend: Backend) {
    let server = start(backend, |b| {
        b.mfa_key(crudauth_tests::MFA_KEY).register_per_hour(0)
    })
    .await;
    let doc = serde_json::to_value(server.auth.openapi()).unwrap();
    let mut tried = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        if path.contains('{') {
            continue;
        }
        for (method, operation) in item.as_object().unwrap() {
            let Some(schema) =
                operation["requestBody"]["content"]["application/json"].get("schema")
            else {
                continue;
            };
            let schema = resolved(&doc, schema);
            let Some(properties) = schema["properties"].as_object() else {
                continue;
            };
            let strings: Vec<&String> = properties
                .iter()
                .filter(|(_, p)| p["type"] == "string" || p["type"] == json!(["string", "null"]))
                .map(|(name, _)| name)
                .collect();
            for field in &strings {
                // Every other string field plausible (names no one has, so
                // that /register gets as far as its insert; the account's
                // password, so that a signed-in route gets past it).
                let mut body = serde_json::Map::new();
                for name in &strings {
                    let plausible = if name.contains("password") {
                        PASSWORD.to_owned()
                    } else if name.contains("email") {
                        format!("nul{tried}@example.com")
                    } else {
                        format!("nul{tried}")
                    };
                    body.insert((*name).clone(), json!(plausible));
                }
                body.insert((*field).clone(), json!("ada\u{0}@example.com"));
                // A fresh account each time: a request may well change
                // its password or address, or end its session.
                let owner = format!("owner{tried}@example.com");
                server.register(&owner).await;
                let browser = server.login(&owner).await;
                let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let res = server
                    .with_cookie(method.clone(), path, &browser)
                    .json(&Value::Object(body))
                    .send()
                    .await
                    .unwrap();
                let status = res.status();
                assert!(
                    status.is_success() || status.is_client_error(),
                    "{method} {path} with a NUL in {field}: {status}"
                );
                if status.is_client_error() {
                    let body: Value = res.json().await.unwrap();
                    assert!(body["code"].is_string(), "{method} {path}: {body}");
                }
                tried += 1;
            }
        }
    }
    assert!(tried >= 20, "only {tried} fields tried");
}

on_both_backends!(
    a_nul_in_any_string_field_is_a_client_error,
    the_proxys_ip_port_entry_keys_the_throttle_not_the_spoofed_one,
    a_zero_registration_limit_turns_the_throttle_off,
    a_plain_http_origin_cannot_post_to_a_secure_app,
    an_http2_request_is_checked_against_its_authority,
    with_a_public_origin_only_that_origin_passes,
    answers_carrying_credentials_are_not_stored,
);
