//! The axum-login peer: `POST /login` checks an argon2id hash (the same
//! parameters as crudauth, on a blocking thread) and starts a tower-sessions
//! session in its SQLite store; `GET /me` answers `{"id": <user id>}` for a
//! logged-in session and 401 otherwise.
//!
//! Environment: `BENCH_ADDR` (default `127.0.0.1:0`), `DATABASE_URL` (a
//! SQLite URL), `BENCH_EMAIL` and `BENCH_PASSWORD` (the user seeded at
//! start). Prints `listening on http://ADDR` once it accepts connections.

use std::str::FromStr;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_login::tower_sessions::cookie::time::Duration;
use axum_login::tower_sessions::{Expiry, SessionManagerLayer};
use axum_login::{AuthManagerLayerBuilder, AuthSession, AuthUser, AuthnBackend, UserId};
use serde::Deserialize;
use serde_json::json;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use tower_sessions_sqlx_store::SqliteStore;

/// crudauth's policy (SPEC section 5): m = 19456 KiB, t = 2, p = 1.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

#[derive(Clone, sqlx::FromRow)]
struct User {
    id: i64,
    password_hash: String,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User").field("id", &self.id).finish_non_exhaustive()
    }
}

impl AuthUser for User {
    type Id = i64;

    fn id(&self) -> i64 {
        self.id
    }

    fn session_auth_hash(&self) -> &[u8] {
        self.password_hash.as_bytes()
    }
}

#[derive(Debug, Clone, Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

#[derive(Debug, thiserror::Error)]
enum BackendError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("the hashing thread failed")]
    Join,
}

#[derive(Debug, Clone)]
struct Backend {
    db: SqlitePool,
}

impl AuthnBackend for Backend {
    type User = User;
    type Credentials = Credentials;
    type Error = BackendError;

    async fn authenticate(&self, creds: Credentials) -> Result<Option<User>, BackendError> {
        let user: Option<User> =
            sqlx::query_as("SELECT id, password_hash FROM users WHERE email = ?")
                .bind(creds.username.to_lowercase())
                .fetch_optional(&self.db)
                .await?;
        let Some(user) = user else {
            return Ok(None);
        };
        let hash = user.password_hash.clone();
        let ok = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash).is_ok_and(|parsed| {
                argon2()
                    .verify_password(creds.password.as_bytes(), &parsed)
                    .is_ok()
            })
        })
        .await
        .map_err(|_| BackendError::Join)?;
        Ok(ok.then_some(user))
    }

    async fn get_user(&self, id: &UserId<Self>) -> Result<Option<User>, BackendError> {
        Ok(
            sqlx::query_as("SELECT id, password_hash FROM users WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.db)
                .await?,
        )
    }
}

type Session = AuthSession<Backend>;

async fn login(mut session: Session, Json(creds): Json<Credentials>) -> impl IntoResponse {
    match session.authenticate(creds).await {
        Ok(Some(user)) => match session.login(&user).await {
            Ok(()) => (StatusCode::OK, Json(json!({ "user_id": user.id }))),
            Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({}))),
        },
        Ok(None) => (StatusCode::UNAUTHORIZED, Json(json!({}))),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({}))),
    }
}

async fn me(session: Session) -> impl IntoResponse {
    match session.user {
        Some(user) => (StatusCode::OK, Json(json!({ "id": user.id }))),
        None => (StatusCode::UNAUTHORIZED, Json(json!({}))),
    }
}

async fn seed(db: &SqlitePool) -> Result<(), Box<dyn std::error::Error>> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY AUTOINCREMENT, \
         email TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL)",
    )
    .execute(db)
    .await?;
    let email = std::env::var("BENCH_EMAIL")?.to_lowercase();
    let password = std::env::var("BENCH_PASSWORD")?;
    let hash = tokio::task::spawn_blocking(move || {
        argon2()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
    })
    .await?
    .map_err(|e| e.to_string())?;
    sqlx::query("INSERT OR IGNORE INTO users (email, password_hash) VALUES (?, ?)")
        .bind(email)
        .bind(hash)
        .execute(db)
        .await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::var("BENCH_ADDR").unwrap_or_else(|_| "127.0.0.1:0".to_owned());
    let url = std::env::var("DATABASE_URL")?;
    let options = SqliteConnectOptions::from_str(&url)?.create_if_missing(true);
    let db = SqlitePool::connect_with(options).await?;
    seed(&db).await?;
    let store = SqliteStore::new(db.clone());
    store.migrate().await?;
    // The same policy as crudauth's default session: 30 minutes idle
    // (sliding), cookies without `Secure` because the benchmark speaks
    // plain http on loopback.
    let sessions = SessionManagerLayer::new(store)
        .with_secure(false)
        .with_expiry(Expiry::OnInactivity(Duration::minutes(30)));
    let auth = AuthManagerLayerBuilder::new(Backend { db }, sessions).build();
    let app = Router::new()
        .route("/me", get(me))
        .route("/login", post(login))
        .layer(auth);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
