//! Input robustness: property tests drive the example application (its real
//! router, over PostgreSQL when available) with arbitrary cookies,
//! `Authorization` headers, CSRF tokens, origins, content types and bodies.
//! Whatever the bytes, the answer is a success or a 4xx with the JSON error
//! body: never a 5xx, never a panic.
//!
//! Requests go through `tower::ServiceExt::oneshot` rather than a socket, for
//! speed; a case that reaches a password check still costs an argon2 hash
//! (about 30-50 ms), which is why the case counts are modest.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use crudauth_tests::{Backend, PASSWORD, TestDb};
use http_body_util::BodyExt;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};
use tower::ServiceExt;

const EMAIL: &str = "ada@example.com";

/// A real login to mix into the garbage.
#[derive(Debug, Clone)]
struct Creds {
    /// `name=value` of the session cookie.
    session: String,
    /// `name=value` of the CSRF cookie.
    csrf_cookie: String,
    csrf: String,
    access: String,
}

/// The example application on a fresh database, and a runtime to drive it
/// from proptest's synchronous runner.
struct Fixture {
    rt: tokio::runtime::Runtime,
    app: Router,
    creds: Mutex<Creds>,
    _db: Option<TestDb>,
}

/// One answer: status, headers, body.
type Answer = (StatusCode, HeaderMap, Bytes);

fn peer(ip: u32) -> ConnectInfo<SocketAddr> {
    ConnectInfo(SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), 40000))
}

impl Fixture {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (app, db) = rt.block_on(async {
            // Without PostgreSQL (outside CI), an in-memory SQLite database.
            let db = if crudauth_tests::postgres_enabled().await {
                Some(TestDb::create(Backend::Postgres).await)
            } else {
                None
            };
            let url = db.as_ref().map_or("sqlite::memory:", |db| db.url.as_str());
            let conn = example_web_and_api::connect(url).await.expect("connect");
            let auth = example_web_and_api::auth_builder(conn, crudauth_tests::config())
                .build()
                .expect("configuration");
            auth.migrate().await.expect("migrate");
            (example_web_and_api::app(auth), db)
        });
        let mut fixture = Self {
            rt,
            app,
            creds: Mutex::new(Creds {
                session: String::new(),
                csrf_cookie: String::new(),
                csrf: String::new(),
                access: String::new(),
            }),
            _db: db,
        };
        let (status, _, _) = fixture.send(json_post(
            "/register",
            json!({ "email": EMAIL, "password": PASSWORD }),
        ));
        assert_eq!(status, StatusCode::CREATED);
        *fixture.creds.get_mut().unwrap() = fixture.log_in();
        fixture
    }

    fn send(&self, mut request: Request<Body>) -> Answer {
        if request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .is_none()
        {
            request.extensions_mut().insert(peer(0x7f00_0001));
        }
        self.rt.block_on(async {
            let response = self.app.clone().oneshot(request).await.expect("infallible");
            let (parts, body) = response.into_parts();
            let bytes = body.collect().await.expect("response body").to_bytes();
            (parts.status, parts.headers, bytes)
        })
    }

    /// A fresh session and token pair for the test user.
    fn log_in(&self) -> Creds {
        let credentials = json!({ "username": EMAIL, "password": PASSWORD });
        let (status, headers, body) = self.send(json_post("/login", credentials.clone()));
        assert_eq!(status, StatusCode::OK, "{body:?}");
        let cookie = |name: &str| {
            headers
                .get_all(header::SET_COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find(|c| c.contains(name))
                .and_then(|c| c.split(';').next())
                .expect("cookie")
                .to_owned()
        };
        let login: Value = serde_json::from_slice(&body).unwrap();
        let (status, _, body) = self.send(json_post("/token", credentials));
        assert_eq!(status, StatusCode::OK);
        let pair: Value = serde_json::from_slice(&body).unwrap();
        Creds {
            session: cookie("session_id="),
            csrf_cookie: cookie("csrf_token="),
            csrf: login["csrf_token"].as_str().unwrap().to_owned(),
            access: pair["access_token"].as_str().unwrap().to_owned(),
        }
    }

    fn creds(&self) -> Creds {
        self.creds.lock().unwrap().clone()
    }

    /// Sends `request` and checks the answer; a route that ends sessions or
    /// token families and succeeded gets the test user logged in again.
    fn check(&self, what: &str, request: Request<Body>) -> Result<(), TestCaseError> {
        let path = request.uri().path().to_owned();
        let (status, headers, body) = self.send(request);
        let shown = String::from_utf8_lossy(&body);
        prop_assert!(!status.is_server_error(), "{what}: {status} {shown}");
        if status.is_client_error() {
            let is_json = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/json"));
            prop_assert!(is_json, "{what}: {status} without a JSON body: {shown}");
            let error: Value = serde_json::from_slice(&body)
                .map_err(|e| TestCaseError::fail(format!("{what}: {e}: {shown}")))?;
            prop_assert!(
                error["code"].is_string() && error["detail"].is_string(),
                "{what}: {status} {error}"
            );
        }
        if status.is_success() && ["/logout", "/logout-all"].contains(&path.as_str()) {
            *self.creds.lock().unwrap() = self.log_in();
        }
        Ok(())
    }
}

fn json_post(path: &str, body: Value) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn run<S: Strategy>(cases: u32, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    if let Err(failure) = runner.run(&strategy, test) {
        panic!("{failure}");
    }
}

/// Bytes a header value may hold: visible ASCII, tab, and obs-text.
fn header_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![Just(b'\t'), 0x20u8..=0x7e, 0x80u8..=0xff],
        0..max,
    )
}

fn header_value(bytes: &[u8]) -> HeaderValue {
    HeaderValue::from_bytes(bytes).expect("valid header bytes by construction")
}

/// A real token damaged: one character replaced, cut short, or extended.
fn damaged(token: &str, how: u8, at: usize, with: char) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    if chars.is_empty() {
        return with.to_string();
    }
    let at = at % chars.len();
    match how % 3 {
        0 if chars[at] != with => chars[at] = with,
        0 | 1 => chars.truncate(at),
        _ => chars.insert(at, with),
    }
    chars.into_iter().collect()
}

/// Routes of the example application, with the method they answer.
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/me"),
    ("GET", "/account"),
    ("GET", "/sessions"),
    ("POST", "/login"),
    ("POST", "/register"),
    ("POST", "/token"),
    ("POST", "/refresh"),
    ("POST", "/revoke"),
    ("POST", "/logout"),
    ("POST", "/logout-all"),
    ("POST", "/change-password"),
    ("POST", "/api/notes"),
    ("POST", "/api/jobs"),
    ("DELETE", "/sessions/some-id"),
];

fn route() -> impl Strategy<Value = (&'static str, &'static str)> {
    select(ROUTES)
}

/// A piece of a `Cookie` header.
#[derive(Debug, Clone)]
enum CookiePart {
    RealSession,
    RealCsrf,
    /// The session cookie's name with a damaged or arbitrary value.
    SessionNamed(Vec<u8>),
    Raw(Vec<u8>),
}

fn cookie_part() -> impl Strategy<Value = CookiePart> {
    prop_oneof![
        Just(CookiePart::RealSession),
        Just(CookiePart::RealCsrf),
        header_bytes(64).prop_map(CookiePart::SessionNamed),
        header_bytes(96).prop_map(CookiePart::Raw),
    ]
}

/// How a case presents the CSRF token.
#[derive(Debug, Clone)]
enum Csrf {
    Absent,
    Real,
    Damaged(u8, usize, char),
    Raw(Vec<u8>),
}

fn csrf() -> impl Strategy<Value = Csrf> {
    prop_oneof![
        Just(Csrf::Absent),
        Just(Csrf::Real),
        (
            any::<u8>(),
            any::<usize>(),
            any::<char>().prop_filter("header-safe", |c| {
                *c != '\u{7f}' && (*c >= ' ' || *c == '\t')
            })
        )
            .prop_map(|(how, at, with)| Csrf::Damaged(how, at, with)),
        header_bytes(64).prop_map(Csrf::Raw),
    ]
}

#[test]
fn garbage_cookies_and_csrf_tokens_never_fail_the_server() {
    let fixture = Fixture::new();
    let strategy = (
        route(),
        proptest::collection::vec(cookie_part(), 0..5),
        select(vec!["; ", ";", ", ", " ;  "]),
        csrf(),
        proptest::option::of(header_bytes(48)),
        proptest::option::of(select(vec![
            "same-origin",
            "cross-site",
            "none",
            "same-site",
        ])),
    );
    run(
        192,
        strategy,
        |((method, path), parts, separator, csrf, origin, fetch_site)| {
            let creds = fixture.creds();
            let session_name = creds
                .session
                .split('=')
                .next()
                .unwrap_or_default()
                .to_owned();
            let mut cookie = Vec::new();
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    cookie.extend_from_slice(separator.as_bytes());
                }
                match part {
                    CookiePart::RealSession => cookie.extend_from_slice(creds.session.as_bytes()),
                    CookiePart::RealCsrf => cookie.extend_from_slice(creds.csrf_cookie.as_bytes()),
                    CookiePart::SessionNamed(value) => {
                        cookie.extend_from_slice(session_name.as_bytes());
                        cookie.push(b'=');
                        cookie.extend_from_slice(value);
                    }
                    CookiePart::Raw(raw) => cookie.extend_from_slice(raw),
                }
            }
            let mut request = Request::builder().method(method).uri(path);
            if !parts.is_empty() {
                request = request.header(header::COOKIE, header_value(&cookie));
            }
            request = match &csrf {
                Csrf::Absent => request,
                Csrf::Real => request.header("x-csrf-token", &creds.csrf),
                Csrf::Damaged(how, at, with) => {
                    request.header("x-csrf-token", damaged(&creds.csrf, *how, *at, *with))
                }
                Csrf::Raw(raw) => request.header("x-csrf-token", header_value(raw)),
            };
            if let Some(origin) = &origin {
                request = request.header(header::ORIGIN, header_value(origin));
            }
            if let Some(site) = fetch_site {
                request = request.header("sec-fetch-site", site);
            }
            let body = if method == "GET" {
                Body::empty()
            } else {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(r#"{"text":"hello","keep_current":true}"#)
            };
            fixture.check(&format!("{method} {path}"), request.body(body).unwrap())
        },
    );
}

/// An `Authorization` header value.
#[derive(Debug, Clone)]
enum Authorization {
    Raw(Vec<u8>),
    Bearer(Vec<u8>),
    DamagedReal(u8, usize, char),
    Scheme(&'static str, Vec<u8>),
}

#[test]
fn arbitrary_authorization_headers_never_fail_the_server() {
    let fixture = Fixture::new();
    let safe_char = any::<char>().prop_filter("header-safe", |c| {
        *c != '\u{7f}' && (*c >= ' ' || *c == '\t')
    });
    let authorization = prop_oneof![
        header_bytes(128).prop_map(Authorization::Raw),
        header_bytes(128).prop_map(Authorization::Bearer),
        (any::<u8>(), any::<usize>(), safe_char)
            .prop_map(|(how, at, with)| Authorization::DamagedReal(how, at, with)),
        (
            select(vec!["Basic", "bearer", "BEARER", "Bearer  ", "Token", ""]),
            header_bytes(64)
        )
            .prop_map(|(scheme, rest)| Authorization::Scheme(scheme, rest)),
    ];
    let strategy = (
        route(),
        proptest::collection::vec(authorization, 1..3),
        any::<bool>(),
    );
    run(192, strategy, |((method, path), values, with_cookie)| {
        let creds = fixture.creds();
        let mut request = Request::builder().method(method).uri(path);
        for value in &values {
            let bytes = match value {
                Authorization::Raw(raw) => raw.clone(),
                Authorization::Bearer(token) => [b"Bearer ".as_slice(), token].concat(),
                Authorization::DamagedReal(how, at, with) => {
                    format!("Bearer {}", damaged(&creds.access, *how, *at, *with)).into_bytes()
                }
                Authorization::Scheme(scheme, rest) => {
                    [scheme.as_bytes(), b" ", rest.as_slice()].concat()
                }
            };
            request = request.header(header::AUTHORIZATION, header_value(&bytes));
        }
        if with_cookie {
            request = request
                .header(
                    header::COOKIE,
                    format!("{}; {}", creds.session, creds.csrf_cookie),
                )
                .header("x-csrf-token", &creds.csrf);
        }
        let body = if method == "GET" {
            Body::empty()
        } else {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from("{}")
        };
        fixture.check(&format!("{method} {path}"), request.body(body).unwrap())
    });
}

/// Field names the built-in routes read, plus noise.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(vec![
            "username",
            "password",
            "email",
            "refresh_token",
            "remember_me",
            "scope",
            "keep_current",
            "current_password",
            "new_password",
            "text",
            "name",
            "csrf_token",
        ])
        .prop_map(str::to_owned),
        1 => ".{0,12}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::from),
        ".{250,300}".prop_map(Value::from),
        Just(Value::from(EMAIL)),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::hash_map(key(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A request body: raw bytes, a JSON object of plausible fields, any JSON,
/// a JSON text cut short, or a form.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let object = || {
        proptest::collection::hash_map(key(), json_value(), 0..6)
            .prop_map(|m| Value::Object(m.into_iter().collect()))
    };
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512),
        object().prop_map(|v| v.to_string().into_bytes()),
        // Past the parser, into validation and the password check.
        (".{0,40}", ".{0,300}", object()).prop_map(|(name, password, mut v)| {
            v["username"] = name.clone().into();
            v["email"] = name.into();
            v["password"] = password.clone().into();
            v["current_password"] = password.into();
            v.to_string().into_bytes()
        }),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        (object(), any::<usize>()).prop_map(|(v, cut)| {
            let text = v.to_string().into_bytes();
            text[..cut % (text.len() + 1)].to_vec()
        }),
        proptest::collection::vec((key(), ".{0,40}"), 0..6).prop_map(|pairs| {
            pairs
                .iter()
                .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
                .collect::<Vec<_>>()
                .join("&")
                .into_bytes()
        }),
        proptest::collection::vec(any::<u8>(), 0..256).prop_map(|raw| {
            // Form syntax with raw bytes: stray `%`, `=`, `&`, invalid UTF-8.
            [b"username=".as_slice(), &raw, b"&password=%ZZ%"].concat()
        }),
    ]
}

/// Which credential rides along with a body.
#[derive(Debug, Clone, Copy)]
enum Rider {
    Nobody,
    Session,
    SessionWithCsrf,
    Bearer,
}

#[test]
fn arbitrary_bodies_and_content_types_never_fail_the_server() {
    let fixture = Fixture::new();
    let content_type = prop_oneof![
        Just(Some(b"application/json".to_vec())),
        Just(Some(b"application/x-www-form-urlencoded".to_vec())),
        Just(Some(b"application/json; charset=utf-8".to_vec())),
        Just(Some(b"application/problem+json".to_vec())),
        Just(Some(b"text/plain".to_vec())),
        Just(Some(b"multipart/form-data; boundary=x".to_vec())),
        Just(None),
        header_bytes(48).prop_map(Some),
    ];
    let rider = select(vec![
        Rider::Nobody,
        Rider::Session,
        Rider::SessionWithCsrf,
        Rider::Bearer,
    ]);
    let strategy = (
        select(
            ROUTES
                .iter()
                .copied()
                .filter(|(method, _)| *method != "GET")
                .collect::<Vec<_>>(),
        ),
        content_type,
        body(),
        rider,
        any::<u32>(),
    );
    run(
        256,
        strategy,
        |((method, path), content_type, body, rider, ip)| {
            let creds = fixture.creds();
            let mut request = Request::builder().method(method).uri(path);
            if let Some(content_type) = &content_type {
                request = request.header(header::CONTENT_TYPE, header_value(content_type));
            }
            let cookie = format!("{}; {}", creds.session, creds.csrf_cookie);
            request = match rider {
                Rider::Nobody => request,
                Rider::Session => request.header(header::COOKIE, &cookie),
                Rider::SessionWithCsrf => request
                    .header(header::COOKIE, &cookie)
                    .header("x-csrf-token", &creds.csrf),
                Rider::Bearer => {
                    request.header(header::AUTHORIZATION, format!("Bearer {}", creds.access))
                }
            };
            // Random client addresses keep the per-IP lockout and registration
            // throttle from turning most cases into 429s.
            let mut request = request.body(Body::from(body)).unwrap();
            request.extensions_mut().insert(peer(ip));
            fixture.check(&format!("{method} {path}"), request)
        },
    );
}

/// Over a real socket, so that the HTTP server's own header limits answer
/// too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_kilobyte_headers_get_a_json_4xx() {
    let backend = if crudauth_tests::postgres_enabled().await {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    let server = crudauth_tests::start(backend, |b| b).await;
    server.register(EMAIL).await;
    let browser = server.login(EMAIL).await;
    let big = "a".repeat(100 * 1024);
    let cases = [
        ("cookie", format!("{}; junk={big}", browser.cookie())),
        ("authorization", format!("Bearer {big}")),
        ("x-csrf-token", big.clone()),
        ("x-anything", big.clone()),
    ];
    for (name, value) in &cases {
        for (method, path) in [("GET", "/me"), ("POST", "/logout"), ("POST", "/api/jobs")] {
            let mut request = server
                .client
                .request(method.parse().unwrap(), server.url(path))
                .header(*name, value)
                .json(&json!({}));
            if *name != "cookie" {
                request = request.header("cookie", browser.cookie());
            }
            let res = request.send().await.expect("an answer");
            let status = res.status();
            println!(
                "{method} {path} with a {} kB {name}: {status}",
                value.len() / 1024
            );
            assert!(
                status.is_success() || status.is_client_error(),
                "{method} {path} with a big {name}: {status}"
            );
            if status.is_client_error() {
                let body: Value = res.json().await.unwrap_or_else(|e| {
                    panic!("{method} {path} with a big {name}: {status} without JSON: {e}")
                });
                assert!(body["code"].is_string(), "{body}");
            }
        }
    }
    // Past the HTTP server's own limit the server answers 431 before the
    // application sees the request, so that answer has no JSON body.
    let res = server
        .client
        .get(server.url("/me"))
        .header("x-anything", "a".repeat(1024 * 1024))
        .send()
        .await
        .expect("an answer");
    assert_eq!(res.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
}

#[test]
fn arbitrary_session_ids_in_the_path_never_fail_the_server() {
    let fixture = Fixture::new();
    // Raw bytes (mostly not UTF-8), and text with control characters.
    let text = proptest::collection::vec(
        prop_oneof![
            Just('\0'),
            Just('\u{1b}'),
            Just('/'),
            Just('%'),
            any::<char>()
        ],
        0..16,
    )
    .prop_map(|chars| chars.into_iter().collect::<String>().into_bytes());
    let id = prop_oneof![proptest::collection::vec(any::<u8>(), 0..64), text];
    run(64, (id, any::<bool>()), |(id, own_session)| {
        let creds = fixture.creds();
        let encoded: String = id.iter().map(|b| format!("%{b:02X}")).collect();
        let mut request = Request::delete(format!("/sessions/{encoded}"));
        if own_session {
            request = request
                .header(
                    header::COOKIE,
                    format!("{}; {}", creds.session, creds.csrf_cookie),
                )
                .header("x-csrf-token", &creds.csrf);
        }
        fixture.check(
            "DELETE /sessions/{id}",
            request.body(Body::empty()).unwrap(),
        )
    });
}
