//! The web-and-API recipe: a browser with a cookie session and an API client
//! with a bearer token reach the same `GET /me` and get the same user.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post};
use axum::{Json, Router};
use crudauth::{
    AuthError, BearerTransport, CrudAuth, CrudAuthBuilder, CrudAuthConfig, JsonErrors, Principal,
    SessionTransport, authed,
};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DbErr, Schema,
    TransactionTrait,
};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;

pub mod user;

/// The router state: crudauth plus the app's own.
#[derive(Clone, Debug, axum::extract::FromRef)]
pub struct AppState {
    /// Authentication.
    pub auth: CrudAuth,
    /// Job ids.
    pub jobs: Arc<AtomicU64>,
}

/// Whether `url` names an SQLite database that lives only in this process.
pub fn in_memory(url: &str) -> bool {
    url.starts_with("sqlite:") && (url.contains(":memory:") || url.contains("mode=memory"))
}

/// Connects to `url` with [`connect_options`] and creates the users table if
/// needed.
///
/// # Errors
///
/// The database's error.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    connect_with(connect_options(url)).await
}

/// How long a request waits for a database connection before it is answered
/// 503 `unavailable`.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// The example's pool settings for `url`. An in-memory SQLite database lives
/// in one connection, so the pool keeps exactly one.
pub fn connect_options(url: &str) -> ConnectOptions {
    let mut options = ConnectOptions::new(sqlite_create_if_missing(url));
    // An unreachable database must turn into a prompt 503, not hold every
    // request for sqlx's 30 s default while it retries refused connections.
    // No ping before each use (a round trip per request): after a database
    // restart, crudauth's reads skip the dead connections the pool hands out.
    options
        .sqlx_logging(false)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .test_before_acquire(false);
    if in_memory(url) {
        // An in-memory database lives in its one connection.
        options.max_connections(1).min_connections(1);
    } else if url.starts_with("sqlite:") {
        // A SQLite file serves readers beside one writer in WAL mode; NORMAL
        // sync keeps every commit across a process crash (the last ones may
        // be lost to a power cut) without an fsync per transaction.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
        options
            .max_connections(4 * cores)
            .map_sqlx_sqlite_opts(|o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
            });
    }
    options
}

/// Connects with `options` and creates the users table if needed.
///
/// # Errors
///
/// The database's error.
pub async fn connect_with(options: ConnectOptions) -> Result<DatabaseConnection, DbErr> {
    let db = Database::connect(options).await?;
    let backend = db.get_database_backend();
    let mut table = Schema::new(backend).create_table_from_entity(user::Entity);
    table.if_not_exists();
    // Instances starting together on PostgreSQL would race to create the
    // table (`IF NOT EXISTS` does not guard against a concurrent `CREATE`):
    // they take turns under an advisory lock held until the commit.
    let txn = db.begin().await?;
    if backend == DatabaseBackend::Postgres {
        txn.execute_unprepared("SELECT pg_advisory_xact_lock(7165919031092147305)")
            .await?;
    }
    txn.execute(&table).await?;
    txn.commit().await?;
    Ok(db)
}

/// `sqlite://app.db` means "this file", created on first start: SQLite's
/// driver would otherwise refuse a file that does not exist yet.
fn sqlite_create_if_missing(url: &str) -> String {
    let file = url.starts_with("sqlite:") && !url.contains(":memory:") && !url.contains("mode=");
    match (file, url.contains('?')) {
        (false, _) => url.to_owned(),
        (true, false) => format!("{url}?mode=rwc"),
        (true, true) => format!("{url}&mode=rwc"),
    }
}

/// The recipe's `CrudAuth`: session first, then bearer; the app serves its
/// own `/me`.
pub fn auth_builder(db: DatabaseConnection, config: CrudAuthConfig) -> CrudAuthBuilder {
    CrudAuth::builder()
        .database(db)
        .user_model::<user::Model>()
        .config(config)
        .transport(SessionTransport::new())
        .transport(BearerTransport::new())
        .me_route(false)
        // The one column of ours a client may fill in when signing up.
        .register_fields(["display_name"])
}

#[authed]
#[utoipa::path(get, path = "/me", tag = "example",
    responses((status = 200, description = "The principal's id (cookie or bearer).", body = Value)))]
async fn me(user: Principal) -> Json<Value> {
    Json(json!({ "id": user.user_id }))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct NewJob {
    #[serde(default)]
    name: Option<String>,
}

#[authed(transport = "bearer")]
#[utoipa::path(post, path = "/api/jobs", tag = "example", request_body = NewJob,
    responses(
        (status = 201, description = "The job.", body = Value),
        (status = 400, description = "Malformed JSON.", body = crudauth::ErrorBody),
        (status = 413, description = "Body over 64 KiB.", body = crudauth::ErrorBody),
        (status = 415, description = "Not JSON.", body = crudauth::ErrorBody),
        (status = 422, description = "Wrong fields.", body = crudauth::ErrorBody),
    ))]
async fn create_job(
    State(jobs): State<Arc<AtomicU64>>,
    user: Principal,
    Json(job): Json<NewJob>,
) -> impl IntoResponse {
    let id = jobs.fetch_add(1, Ordering::Relaxed) + 1;
    (
        StatusCode::CREATED,
        Json(json!({ "id": id, "owner": user.user_id, "name": job.name })),
    )
}

#[authed(transport = "session")]
#[utoipa::path(get, path = "/account", tag = "example",
    responses((status = 200, description = "The session's principal.", body = Value)))]
async fn account(user: Principal) -> Json<Value> {
    Json(json!({ "id": user.user_id, "session_id": user.session_id, "transport": user.transport }))
}

/// Guarded by a second factor and a proof of at most five minutes: the
/// session or token must come from a login that passed its second factor,
/// and a `POST /sudo` renews an older one.
#[authed(mfa, fresh = "5m")]
#[utoipa::path(post, path = "/api/admin/rotate", tag = "example",
    responses((status = 200, description = "Rotated, by whom.", body = Value)))]
async fn rotate_keys(user: Principal) -> Json<Value> {
    Json(json!({ "rotated": true, "by": user.user_id }))
}

/// At most five requests a minute per user, whatever the transport; the
/// sixth is answered 429 `rate_limited` with `Retry-After`. With
/// `CRUDAUTH_REDIS_URL` every instance shares the count.
#[authed(rate = "5/m")]
#[utoipa::path(get, path = "/api/limited", tag = "example",
    responses((status = 200, description = "The principal's id.", body = Value)))]
async fn limited(user: Principal) -> Json<Value> {
    Json(json!({ "id": user.user_id }))
}

/// For superusers only (`create-user --superuser` makes the first one).
#[authed(superuser)]
#[utoipa::path(get, path = "/api/admin", tag = "example",
    responses((status = 200, description = "The superuser.", body = Value)))]
async fn admin(user: Principal) -> Json<Value> {
    Json(json!({ "id": user.user_id, "is_superuser": user.is_superuser }))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct NewNote {
    text: String,
}

/// Takes `Principal` as a plain extractor (no `#[authed]`), so its
/// security section is written by hand.
#[utoipa::path(post, path = "/api/notes", tag = "example", request_body = NewNote,
    security(("session" = [], "csrf" = []), ("bearer" = [])),
    responses(
        (status = 201, description = "The note.", body = Value),
        (status = 400, description = "Malformed JSON.", body = crudauth::ErrorBody),
        (status = 401, description = "No usable credential.", body = crudauth::ErrorBody),
        (status = 403, description = "`csrf_failed`.", body = crudauth::ErrorBody),
        (status = 413, description = "Body over 64 KiB.", body = crudauth::ErrorBody),
        (status = 415, description = "Not JSON.", body = crudauth::ErrorBody),
        (status = 422, description = "Wrong fields.", body = crudauth::ErrorBody),
    ))]
async fn create_note(user: Principal, Json(note): Json<NewNote>) -> impl IntoResponse {
    (
        StatusCode::CREATED,
        Json(json!({ "owner": user.user_id, "text": note.text, "transport": user.transport })),
    )
}

/// The page, with a "Sign in with <name>" link per sign-in provider (and a
/// button listing the linked identities when there is one). It is also
/// served at the paths of the links in crudauth's mails, which it reads
/// the token from.
async fn index(State(auth): State<CrudAuth>) -> Html<String> {
    let providers = auth.oidc_providers();
    let mut buttons: String = providers
        .iter()
        .map(|name| {
            format!(
                "<p><a class=\"button\" id=\"oidc-{name}\" href=\"/oauth/{name}/authorize?redirect_to=/\">Sign in with {name}</a></p>"
            )
        })
        .collect();
    if !providers.is_empty() {
        buttons.push_str("<p><button id=\"identities\">GET /oauth/identities</button></p>");
    }
    Html(include_str!("index.html").replace("<!--crudauth:oidc-->", &buttons))
}

/// Where the links in crudauth's mails lead (`{public_origin}{path}?token=…`).
pub const LINK_PATHS: [&str; 3] = ["/verify-email", "/reset-password", "/confirm-email"];

/// The example's own routes, documented by `#[utoipa::path]` (the
/// security sections of the `#[authed]` ones written by the guard).
#[derive(utoipa::OpenApi)]
#[openapi(paths(me, account, create_job, create_note, admin, rotate_keys, limited))]
struct ExampleApi;

/// The whole API's OpenAPI document: crudauth's built-in routes and the
/// example's own.
pub fn openapi(auth: &CrudAuth) -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi as _;
    let mut doc = auth.openapi();
    doc.merge(ExampleApi::openapi());
    doc.info.title = "crudauth example: web and API".to_owned();
    doc
}

/// The whole application.
pub fn app(auth: CrudAuth) -> Router {
    let state = AppState {
        auth: auth.clone(),
        jobs: Arc::new(AtomicU64::new(0)),
    };
    let document = openapi(&auth);
    // The mails' links open the page, which reads their token.
    let mut routes = Router::new().route("/", get(index));
    for path in LINK_PATHS {
        routes = routes.route(path, get(index));
    }
    routes
        // The document at /openapi.json, and a page to read it at /docs.
        .merge(utoipa_swagger_ui::SwaggerUi::new("/docs").url("/openapi.json", document))
        .route("/me", get(me))
        .route("/account", get(account))
        .route("/api/jobs", post(create_job))
        .route("/api/notes", post(create_note))
        .route("/api/admin/rotate", post(rotate_keys))
        .route("/api/admin", get(admin))
        .route("/api/limited", get(limited))
        .merge(auth.router())
        // The example's own routes answer errors (an unknown path, a wrong
        // method, a body its extractors refuse) with crudauth's JSON body,
        // as crudauth's routes do.
        .fallback(|| async { AuthError::NotFound })
        .layer(JsonErrors::new())
        // The example's own bodies are small: 64 KiB, as crudauth's.
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(auth.layer())
        .with_state(state)
}

/// Serves `app` on `listener` (with client addresses) until `shutdown`.
///
/// # Errors
///
/// The server's I/O error.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
