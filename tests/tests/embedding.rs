//! crudauth inside an application that already exists (SPEC section 14),
//! over a real socket on SQLite and PostgreSQL: the layer leaves the
//! application's routes alone, the body limit is crudauth's own, the base
//! path moves every route (with the mailed links, the OAuth redirect URI
//! and the OpenAPI paths), routes can be switched off, and the Rust API
//! creates accounts, checks passwords behind the lockout and signs users
//! in.

use axum::Json;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use crudauth::{AuthError, ConfigError, CrudAuth, NewAccount, OidcProvider, Principal, Route};
use crudauth::{SmtpSender, UserId, authed};
use crudauth_tests::second_factor::{enrol, wrong_code};
use crudauth_tests::{
    Backend, Browser, Endpoint, MFA_KEY, PASSWORD, Server, SmtpMode, SmtpServer, TestDb,
    assert_error, on_both_backends, set_cookies, start_router,
};
use reqwest::{Method, StatusCode};
use sea_orm_migration::{MigrationName, MigrationTrait, MigratorTrait, SchemaManager};
use serde_json::{Value, json};

const ORIGIN: &str = "http://app.test";

/// Echoes its body: what the application's handler received.
async fn echo(body: Bytes) -> Bytes {
    body
}

/// An answer in the application's own words.
async fn refuse() -> (StatusCode, &'static str) {
    (StatusCode::BAD_REQUEST, "the application's own words")
}

#[authed]
async fn mine(user: Principal) -> Json<Value> {
    Json(json!({ "id": user.user_id, "mfa": user.mfa }))
}

#[authed(mfa)]
async fn guarded(user: Principal) -> Json<Value> {
    Json(json!({ "id": user.user_id }))
}

/// The example's configuration adjusted by `tweak`, inside an application
/// of its own: an unlimited upload route, a route answering its own 400, an
/// `#[authed]` and an `#[authed(mfa)]` route.
async fn embedded(
    backend: Backend,
    tweak: impl FnOnce(crudauth::CrudAuthBuilder) -> crudauth::CrudAuthBuilder,
) -> Server {
    start_router(
        backend,
        |db| {
            tweak(example_web_and_api::auth_builder(
                db,
                crudauth_tests::config(),
            ))
        },
        |auth| {
            axum::Router::new()
                .route("/upload", post(echo).layer(DefaultBodyLimit::disable()))
                .route("/refuse", get(refuse))
                .route("/mine", get(mine))
                .route("/guarded", get(guarded))
                .merge(auth.router())
                .layer(auth.layer())
                .with_state(auth.clone())
        },
    )
    .await
}

fn is_json(res: &reqwest::Response) -> bool {
    res.headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"))
}

async fn the_layer_leaves_the_applications_routes_alone(backend: Backend) {
    let server = embedded(backend, |b| b).await;
    // A body sixteen times crudauth's limit reaches the handler whole, as
    // JSON and as a form (which the layer would read for a CSRF field).
    let big: Vec<u8> = (0..1024 * 1024).map(|i| b'a' + (i % 26) as u8).collect();
    for content_type in ["application/json", "application/x-www-form-urlencoded"] {
        let res = server
            .client
            .post(server.url("/upload"))
            .header("content-type", content_type)
            .body(big.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{content_type}");
        assert_eq!(res.bytes().await.unwrap(), big, "{content_type}");
    }
    // A small form the layer does read for its CSRF field is handed on
    // byte for byte.
    let form = "csrf_token=abc&note=caf%C3%A9+%26+more";
    let res = server
        .client
        .post(server.url("/upload"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.bytes().await.unwrap(), form.as_bytes());
    // The application's own 4xx answers keep their words and their type.
    let res = server
        .client
        .get(server.url("/refuse"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(!is_json(&res));
    assert_eq!(res.text().await.unwrap(), "the application's own words");
    let res = server
        .client
        .get(server.url("/nowhere"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(!is_json(&res), "the application's 404 was rewritten");
    let res = server
        .client
        .put(server.url("/refuse"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(!is_json(&res), "the application's 405 was rewritten");
    // crudauth's extractor on the application's route answers in JSON.
    let res = server.client.get(server.url("/mine")).send().await.unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    // crudauth's own routes keep their limit and their JSON errors.
    let res = server
        .client
        .post(server.url("/login"))
        .header("content-type", "application/json")
        .body(vec![b' '; 65 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["connection"], "close");
    assert_error(res, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let res = server
        .client
        .get(server.url("/login"))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    let res = server
        .client
        .post(server.url("/login"))
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_error(
        res,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
}

async fn the_body_limit_is_crudauths_own_setting(backend: Backend) {
    let server = embedded(backend, |b| b.body_limit(256 * 1024)).await;
    let padded = |pad: usize| {
        json!({
            "email": format!("pad{pad}@example.com"),
            "password": PASSWORD,
            "note": "x".repeat(pad),
        })
    };
    // Over the default 64 KiB, under the configured 256 KiB.
    let res = server.post_json("/register", padded(100 * 1024)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = server.post_json("/register", padded(300 * 1024)).await;
    assert_error(res, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    // Without a declared length (chunked), the limit holds while reading.
    let status = chunked_post(&server, "/register", 40, 8 * 1024).await;
    assert_eq!(status, 413);
}

/// POSTs `chunks` chunks of `size` spaces as a chunked JSON body over a raw
/// connection; the answer's status.
async fn chunked_post(server: &Server, path: &str, chunks: usize, size: usize) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let authority = server.url("").trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&authority).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = format!("{size:x}\r\n{}\r\n", " ".repeat(size));
    for _ in 0..chunks {
        // The server may answer and close before the last chunk.
        if stream.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = vec![0u8; 12];
    stream.read_exact(&mut answer).await.unwrap();
    let line = String::from_utf8_lossy(&answer).into_owned();
    line["HTTP/1.1 ".len()..].trim().parse().unwrap()
}

/// An in-memory database for configurations that are only built.
async fn memory() -> sea_orm::DatabaseConnection {
    example_web_and_api::connect("sqlite::memory:")
        .await
        .unwrap()
}

#[tokio::test]
async fn build_refuses_a_base_path_or_body_limit_it_cannot_use() {
    for bad in ["auth", "/a b", "/{id}", "//auth", "/a//b", "/é"] {
        let err = example_web_and_api::auth_builder(memory().await, crudauth_tests::config())
            .base_path(bad)
            .build()
            .unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::Invalid {
                    setting: "base_path",
                    ..
                }
            ),
            "{bad:?}: {err}"
        );
    }
    for good in ["", "/", "/auth", "/auth/", "/api/v1/auth"] {
        let auth = example_web_and_api::auth_builder(memory().await, crudauth_tests::config())
            .base_path(good)
            .build()
            .unwrap();
        let prefix = good.trim_end_matches('/');
        assert!(
            auth.routes()
                .iter()
                .all(|(_, path)| path.starts_with(&format!("{prefix}/"))
                    && !path[prefix.len()..].starts_with("//")),
            "{good:?}: {:?}",
            auth.routes()
        );
    }
    let err = example_web_and_api::auth_builder(memory().await, crudauth_tests::config())
        .body_limit(100)
        .build()
        .unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::Invalid {
                setting: "body_limit",
                ..
            }
        ),
        "{err}"
    );
}

async fn the_base_path_moves_every_route(backend: Backend) {
    let smtp = SmtpServer::start(SmtpMode::Accept).await;
    let sender = SmtpSender::new(&smtp.url(), "crudauth <no-reply@example.com>").unwrap();
    let server = embedded(backend, move |b| {
        b.base_path("/auth")
            .public_origin(ORIGIN)
            .email_sender(sender)
            .oidc_provider(OidcProvider::github("client-id", "client-secret").unwrap())
    })
    .await;
    let auth_at = Endpoint::new(server.url("/auth"));
    // Not at the root any more.
    let res = server
        .post_json(
            "/register",
            json!({ "email": "ada@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = auth_at
        .post_json(
            "/register",
            json!({ "email": "ada@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED, "with a sender, 202");
    // The verification link is under the base path too.
    let mail = &smtp.wait_for(1).await[0];
    let link = mail.link().expect("a link in the mail");
    assert!(
        link.starts_with(&format!("{ORIGIN}/auth/verify-email?token=")),
        "{link}"
    );
    let browser = auth_at.login("ada@example.com").await;
    // Cookies keep Path=/: the session reaches the application's routes.
    for cookie in &browser.set_cookies {
        assert!(
            cookie.contains("Path=/;") || cookie.ends_with("Path=/"),
            "{cookie}"
        );
    }
    let res = server
        .as_browser(&browser, Method::GET, "/mine", None)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = auth_at
        .as_browser(&browser, Method::GET, "/sessions", None)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let pair = auth_at.token("ada@example.com").await;
    let res = auth_at
        .post_json(
            "/refresh",
            json!({ "refresh_token": pair["refresh_token"] }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    // The provider is sent back to the callback under the base path.
    let res = server
        .client
        .get(server.url("/auth/oauth/github/authorize"))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_redirection(), "{}", res.status());
    let location = reqwest::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    let redirect = location
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .map(|(_, v)| v.into_owned());
    assert_eq!(
        redirect.as_deref(),
        Some(&*format!("{ORIGIN}/auth/oauth/github/callback"))
    );
    // The document and the route list say the same.
    let document = serde_json::to_value(server.auth.openapi()).unwrap();
    let paths: Vec<&String> = document["paths"].as_object().unwrap().keys().collect();
    assert!(paths.len() > 20, "{paths:?}");
    assert!(paths.iter().all(|p| p.starts_with("/auth/")), "{paths:?}");
    let routes = server.auth.routes();
    assert!(routes.iter().all(|(_, p)| p.starts_with("/auth/")));
    for (_, path) in &routes {
        assert!(
            paths.contains(&path),
            "{path} is mounted but not documented"
        );
    }
}

async fn a_disabled_route_is_404_and_undocumented(backend: Backend) {
    let server = embedded(backend, |b| {
        b.disable(Route::Register).disable(Route::Sessions)
    })
    .await;
    let res = server
        .post_json(
            "/register",
            json!({ "email": "ada@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // An invite-only application creates its accounts itself.
    server
        .auth
        .create_user(NewAccount::email("ada@example.com").password(PASSWORD))
        .await
        .unwrap();
    let browser = server.login("ada@example.com").await;
    let res = server
        .as_browser(&browser, Method::GET, "/sessions", None)
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // `DELETE /sessions/{id}` is another route, still there.
    let res = server
        .as_browser(
            &browser,
            Method::DELETE,
            "/sessions/no-such-session",
            Some(&browser.csrf),
        )
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let document = serde_json::to_value(server.auth.openapi()).unwrap();
    assert!(document["paths"].get("/register").is_none());
    assert!(document["paths"]["/sessions"].get("get").is_none());
}

/// Each route, switched off alone, leaves the route list and the document
/// and nothing else does.
#[tokio::test]
async fn every_route_can_be_switched_off() {
    let db = memory().await;
    let full = || {
        example_web_and_api::auth_builder(db.clone(), crudauth_tests::config())
            .mfa_key(MFA_KEY)
            .me_route(true)
            .public_origin(ORIGIN)
            .oidc_provider(OidcProvider::github("client-id", "client-secret").unwrap())
    };
    let all = full().build().unwrap().routes();
    assert_eq!(
        all.len(),
        Route::ALL.len(),
        "every route is mounted: {all:?}"
    );
    for route in Route::ALL {
        let auth = full().disable(*route).build().unwrap();
        let left = auth.routes();
        let gone: Vec<_> = all.iter().filter(|r| !left.contains(r)).collect();
        assert_eq!(
            gone,
            [&(route.method(), route.path().to_owned())],
            "{route:?}"
        );
        let document = serde_json::to_value(auth.openapi()).unwrap();
        let method = route.method().as_str().to_ascii_lowercase();
        assert!(
            document["paths"][route.path()].get(&method).is_none(),
            "{route:?} is still documented"
        );
    }
}

/// The session a [`crudauth::SessionLogin`] sets, as a browser holds it.
fn browser_of(login: crudauth::SessionLogin, id: &UserId) -> Browser {
    let csrf = login.csrf_token().to_owned();
    let response = (login, "signed in").into_response();
    let set_cookies = set_cookies(response.headers());
    let session = set_cookies
        .iter()
        .find(|c| c.contains("session_id="))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .expect("a session cookie");
    Browser {
        session,
        csrf,
        user_id: json!(id),
        set_cookies,
    }
}

async fn the_rust_api_creates_checks_and_signs_in(backend: Backend) {
    let server = embedded(backend, |b| b.mfa_key(MFA_KEY)).await;
    let auth: &CrudAuth = &server.auth;
    let id = auth
        .create_user(NewAccount::email("Ada@Example.com").password(PASSWORD))
        .await
        .unwrap();
    let code = |err: AuthError| err.code();
    let taken = auth
        .create_user(NewAccount::email("ada@example.com").password(PASSWORD))
        .await
        .unwrap_err();
    assert_eq!(code(taken), "email_taken");
    for (account, expected) in [
        (
            NewAccount::email("not-an-address").password(PASSWORD),
            "invalid",
        ),
        (
            NewAccount::email("bo@example.com").password("short"),
            "invalid",
        ),
    ] {
        assert_eq!(code(auth.create_user(account).await.unwrap_err()), expected);
    }
    let admin = auth
        .create_user(
            NewAccount::email("root@example.com")
                .password(PASSWORD)
                .superuser()
                .verified(),
        )
        .await
        .unwrap();
    // Without a password nobody signs in with one.
    auth.create_user(NewAccount::email("invited@example.com"))
        .await
        .unwrap();
    let res = server
        .post_json(
            "/login",
            json!({ "username": "invited@example.com", "password": PASSWORD }),
        )
        .await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;

    // The password check is /login's, lockout included.
    let ip = "203.0.113.7".parse().unwrap();
    assert_eq!(
        auth.check_password("ada@example.com", PASSWORD, ip)
            .await
            .unwrap(),
        id
    );
    let attempts = crudauth::LockoutPolicy::default().attempts;
    let mut last = None;
    for _ in 0..attempts {
        last = Some(
            auth.check_password("ada@example.com", "wrong password!", ip)
                .await
                .unwrap_err()
                .code(),
        );
    }
    assert_eq!(last, Some("invalid_credentials"));
    let locked = auth
        .check_password("ada@example.com", PASSWORD, ip)
        .await
        .unwrap_err();
    assert_eq!(locked.code(), "locked");
    let res = server
        .post_json(
            "/login",
            json!({ "username": "ada@example.com", "password": PASSWORD }),
        )
        .await;
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "locked").await;

    // A session from Rust code works as a /login one: reads, and an unsafe
    // request with its CSRF token.
    let browser = browser_of(auth.sign_in(&admin).await.unwrap(), &admin);
    let res = server
        .as_browser(&browser, Method::GET, "/mine", None)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["id"], json!(admin));
    let res = server
        .as_browser(&browser, Method::POST, "/logout-all", None)
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "csrf_failed").await;
    let res = server
        .as_browser(&browser, Method::POST, "/logout-all", Some(&browser.csrf))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = server
        .as_browser(&browser, Method::GET, "/mine", None)
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // Tokens from Rust code: scopes clamped to the user's.
    let pair = auth
        .issue_tokens(&admin, &["jobs:read", "no-such-scope"])
        .await
        .unwrap();
    assert_eq!(pair.token_type, "bearer");
    assert!(!pair.scope.contains("no-such-scope"), "{}", pair.scope);
    let res = server.get_bearer("/mine", &pair.access_token).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = server
        .post_json("/refresh", json!({ "refresh_token": pair.refresh_token }))
        .await;
    assert_eq!(res.status(), StatusCode::OK);

    // An account with a second factor: refused unless the application
    // says it checked one, and then signed in with it.
    server
        .post_json(
            "/register",
            json!({ "email": "eve@example.com", "password": PASSWORD }),
        )
        .await;
    enrol(&server, "eve@example.com").await;
    let eve = auth
        .check_password("eve@example.com", PASSWORD, ip)
        .await
        .unwrap();
    let refused = auth.sign_in(&eve).await.unwrap_err();
    assert_eq!(refused.code(), "mfa_required");
    let refused = auth.issue_tokens(&eve, &[]).await.unwrap_err();
    assert_eq!(refused.code(), "mfa_required");
    let browser = browser_of(auth.sign_in(&eve).with_mfa().await.unwrap(), &eve);
    let res = server
        .as_browser(&browser, Method::GET, "/guarded", None)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let pair = auth.issue_tokens(&eve, &[]).with_mfa().await.unwrap();
    let res = server.get_bearer("/guarded", &pair.access_token).await;
    assert_eq!(res.status(), StatusCode::OK);

    // An inactive account is signed in by no path.
    server
        .sql("UPDATE users SET is_active = false WHERE email = 'root@example.com'")
        .await;
    auth.invalidate_user(admin.clone()).await;
    let refused = auth.sign_in(&admin).await.unwrap_err();
    assert_eq!(refused.code(), "invalid_credentials");
}

/// The application's own migration of its user table.
struct CreateUsers;

impl MigrationName for CreateUsers {
    fn name(&self) -> &str {
        "m20240101_000001_create_users"
    }
}

// The trait is declared with an elided lifetime.
#[allow(elided_lifetimes_in_paths)]
#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for CreateUsers {
    async fn up(&self, manager: &SchemaManager) -> Result<(), sea_orm::DbErr> {
        let backend = manager.get_database_backend();
        let mut table = sea_orm::Schema::new(backend)
            .create_table_from_entity(example_web_and_api::user::Entity);
        table.if_not_exists();
        manager.create_table(table).await
    }
}

/// An application's migrator: its user table, then crudauth's steps.
struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut steps: Vec<Box<dyn MigrationTrait>> = vec![Box::new(CreateUsers)];
        steps.extend(crudauth::migration::migrations());
        steps
    }
}

/// crudauth's steps alone, before any user table.
struct TooEarly;

impl MigratorTrait for TooEarly {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        crudauth::migration::migrations()
    }
}

async fn recorded(db: &sea_orm::DatabaseConnection) -> Vec<String> {
    use sea_orm::ConnectionTrait;
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT version FROM seaql_migrations ORDER BY version",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|row| row.try_get::<String>("", "version").unwrap())
        .collect()
}

async fn has_email_index(db: &sea_orm::DatabaseConnection) -> bool {
    use sea_orm::ConnectionTrait;
    let sql = match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            "SELECT COUNT(*) AS n FROM pg_indexes WHERE indexname = 'crudauth_users_email_lower'"
        }
        _ => {
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'index' \
             AND name = 'crudauth_users_email_lower'"
        }
    };
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            sql,
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap() == 1
}

const CRUDAUTH_STEPS: [&str; 3] = [
    "m20261128_000001_crudauth_tables",
    "m20261204_000002_crudauth_email_index",
    "m20261204_000003_crudauth_user_trigger",
];

async fn the_applications_migrator_takes_crudauths_steps(backend: Backend) {
    use sea_orm::ConnectionTrait;
    // crudauth's steps before the user table exists: refused by name.
    let early = TestDb::create(backend).await;
    let db = sea_orm::Database::connect(&early.url).await.unwrap();
    let err = TooEarly::up(&db, None).await.unwrap_err().to_string();
    assert!(err.contains("\"users\" does not exist"), "{err}");
    db.close().await.unwrap();

    let test_db = TestDb::create(backend).await;
    let db = sea_orm::Database::connect(&test_db.url).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    let mut expected: Vec<String> = CRUDAUTH_STEPS.iter().map(|s| (*s).to_owned()).collect();
    expected.insert(0, "m20240101_000001_create_users".to_owned());
    expected.sort();
    assert_eq!(recorded(&db).await, expected);
    assert!(has_email_index(&db).await);
    if backend == Backend::Postgres {
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT COUNT(*) AS n FROM pg_trigger WHERE tgname = 'crudauth_announce_user'",
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.try_get::<i64>("", "n").unwrap(), 1);
    }
    // auth.migrate() on top: the same steps, nothing recorded twice, and
    // the migrator has nothing pending and no file missing.
    let auth = example_web_and_api::auth_builder(db.clone(), crudauth_tests::config())
        .build()
        .unwrap();
    auth.migrate().await.unwrap();
    assert_eq!(recorded(&db).await, expected);
    assert!(
        Migrator::get_pending_migrations(&db)
            .await
            .unwrap()
            .is_empty()
    );
    // Down and up again through the migrator.
    Migrator::down(&db, Some(3)).await.unwrap();
    assert!(!has_email_index(&db).await);
    assert!(
        db.execute_unprepared("SELECT COUNT(*) FROM crudauth_sessions")
            .await
            .is_err()
    );
    Migrator::up(&db, None).await.unwrap();
    assert!(has_email_index(&db).await);
    db.close().await.unwrap();
}

async fn migrate_records_its_steps_and_upgrades_in_place(backend: Backend) {
    use sea_orm::ConnectionTrait;
    let test_db = TestDb::create(backend).await;
    // The application made its user table; crudauth's migrate() does the rest.
    let db = example_web_and_api::connect(&test_db.url).await.unwrap();
    let auth = example_web_and_api::auth_builder(db.clone(), crudauth_tests::config())
        .build()
        .unwrap();
    auth.migrate().await.unwrap();
    let steps: Vec<String> = CRUDAUTH_STEPS.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(recorded(&db).await, steps);
    // A migrator added later sees crudauth's steps applied.
    let pending: Vec<String> = Migrator::get_pending_migrations(&db)
        .await
        .unwrap()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    assert_eq!(pending, ["m20240101_000001_create_users"]);
    // A database of an earlier release: the tables, no index, nothing
    // recorded. migrate() completes it.
    db.execute_unprepared("DROP INDEX crudauth_users_email_lower")
        .await
        .unwrap();
    db.execute_unprepared("DROP TABLE seaql_migrations")
        .await
        .unwrap();
    auth.migrate().await.unwrap();
    assert!(has_email_index(&db).await);
    assert_eq!(recorded(&db).await, steps);
    // And the migrator runs over it: its steps are safe to repeat.
    db.execute_unprepared("DELETE FROM seaql_migrations")
        .await
        .unwrap();
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(recorded(&db).await.len(), 4);
}

/// A browser's form post: urlencoded, asking for a page.
async fn form_post(
    server: &Server,
    path: &str,
    fields: &[(&str, &str)],
    cookie: Option<&str>,
) -> reqwest::Response {
    let mut request = server
        .client
        .post(server.url(path))
        .header("accept", "text/html,application/xhtml+xml")
        .header("origin", server.url(""))
        .form(fields);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await.unwrap()
}

fn location(res: &reqwest::Response) -> &str {
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{res:?}");
    res.headers()["location"].to_str().unwrap()
}

/// The `name=value` pairs of the cookies an answer sets, for a `Cookie`
/// header.
fn cookie_header(res: &reqwest::Response) -> String {
    set_cookies(res.headers())
        .iter()
        .map(|c| c.split(';').next().unwrap().to_owned())
        .filter(|c| !c.ends_with('='))
        .collect::<Vec<_>>()
        .join("; ")
}

async fn html_forms_are_answered_with_redirects(backend: Backend) {
    let server = embedded(backend, |b| b.mfa_key(MFA_KEY)).await;
    let account = [
        ("email", "ada@example.com"),
        ("password", PASSWORD),
        ("next", "/welcome"),
    ];
    let res = form_post(&server, "/register", &account, None).await;
    assert_eq!(location(&res), "/welcome");
    let res = form_post(&server, "/register", &account, None).await;
    assert_eq!(location(&res), "/welcome?error=already_registered");
    // A wrong password: back where the form said, with the code.
    let wrong = [
        ("username", "ada@example.com"),
        ("password", "not the password"),
        ("next", "/signin?tab=2"),
    ];
    let res = form_post(&server, "/login", &wrong, None).await;
    assert_eq!(location(&res), "/signin?tab=2&error=invalid_credentials");
    // `next` off this origin is not followed.
    for evil in [
        "//evil.example/x",
        "https://evil.example",
        "/\\evil.example",
    ] {
        let res = form_post(
            &server,
            "/login",
            &[
                ("username", "ada@example.com"),
                ("password", "wrong!"),
                ("next", evil),
            ],
            None,
        )
        .await;
        assert_eq!(location(&res), "/?error=invalid_credentials", "{evil}");
    }
    let res = form_post(
        &server,
        "/login",
        &[
            ("username", "ada@example.com"),
            ("password", PASSWORD),
            ("next", "/home"),
        ],
        None,
    )
    .await;
    assert_eq!(location(&res), "/home");
    let cookies = cookie_header(&res);
    let res = server
        .client
        .get(server.url("/mine"))
        .header("cookie", &cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "the form's session works");
    // Logout needs the CSRF token, here the form's field.
    let csrf = cookies
        .split("; ")
        .find_map(|c| c.split_once("csrf_token=").map(|(_, v)| v.to_owned()))
        .expect("a CSRF cookie");
    let res = form_post(&server, "/logout", &[("next", "/bye")], Some(&cookies)).await;
    assert_eq!(location(&res), "/bye?error=csrf_failed");
    let res = form_post(
        &server,
        "/logout",
        &[("csrf_token", &csrf), ("next", "/bye")],
        Some(&cookies),
    )
    .await;
    assert_eq!(location(&res), "/bye");
    let res = server
        .client
        .get(server.url("/mine"))
        .header("cookie", &cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // Recovery: the request is 303 whoever the address names.
    for email in ["ada@example.com", "nobody@example.com"] {
        let res = form_post(
            &server,
            "/password/reset-request",
            &[("email", email), ("next", "/sent")],
            None,
        )
        .await;
        assert_eq!(location(&res), "/sent", "{email}");
    }
    let res = form_post(
        &server,
        "/password/reset-confirm",
        &[
            ("token", "forged"),
            ("new_password", PASSWORD),
            ("next", "/reset"),
        ],
        None,
    )
    .await;
    assert!(location(&res).starts_with("/reset?error="), "{res:?}");

    // The second factor: the login goes to `next` asking for the code, the
    // challenge in a cookie; the code's form completes the sign-in.
    let (secret, _) = enrol(&server, "ada@example.com").await;
    let res = form_post(
        &server,
        "/login",
        &[
            ("username", "ada@example.com"),
            ("password", PASSWORD),
            ("next", "/home"),
        ],
        None,
    )
    .await;
    assert_eq!(location(&res), "/home?mfa_required=1");
    let challenge = cookie_header(&res);
    assert!(challenge.contains("crudauth_mfa="), "{challenge}");
    assert!(
        !challenge.contains("session_id="),
        "no session before the code"
    );
    let wrong = wrong_code(&secret);
    let res = form_post(
        &server,
        "/mfa/verify",
        &[("code", &wrong), ("next", "/home")],
        Some(&challenge),
    )
    .await;
    assert_eq!(location(&res), "/home?error=invalid_code");
    let res = form_post(
        &server,
        "/mfa/verify",
        &[
            ("code", &crudauth_tests::totp_code(&secret, 0)),
            ("next", "/home"),
        ],
        Some(&challenge),
    )
    .await;
    assert_eq!(location(&res), "/home");
    let cookies = cookie_header(&res);
    let res = server
        .client
        .get(server.url("/guarded"))
        .header("cookie", &cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "signed in with the second factor"
    );

    // JSON clients, and forms that do not ask for a page, are unchanged.
    let res = server
        .client
        .post(server.url("/login"))
        .header("accept", "text/html")
        .json(&json!({ "username": "bo@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let res = server
        .client
        .post(server.url("/login"))
        .form(&[("username", "bo@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

on_both_backends!(
    html_forms_are_answered_with_redirects,
    the_applications_migrator_takes_crudauths_steps,
    migrate_records_its_steps_and_upgrades_in_place,
    the_layer_leaves_the_applications_routes_alone,
    the_body_limit_is_crudauths_own_setting,
    the_base_path_moves_every_route,
    a_disabled_route_is_404_and_undocumented,
    the_rust_api_creates_checks_and_signs_in,
);
