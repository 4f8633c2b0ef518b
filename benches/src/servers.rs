//! The servers under test, each run as its own process by
//! `crudauth-bench server <kind>`. Every one answers `GET /me` with
//! `{"id": <user id>}` and prints `listening on http://ADDR` once it accepts
//! connections. (The axum-login peer lives in `axum-login-peer/`.)

use axum::extract::{FromRef, FromRequestParts};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::routing::get;
use axum::{Json, Router};
use crudauth::{CrudAuth, CrudAuthConfig, Principal};
use example_web_and_api::user;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseConnection, DbErr, EntityTrait};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::net::TcpListener;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Runs server `kind` until the process is killed.
pub async fn run(kind: &str) -> Result<(), BoxError> {
    let addr = std::env::var("BENCH_ADDR").unwrap_or_else(|_| "127.0.0.1:0".to_owned());
    let listener = TcpListener::bind(&addr).await?;
    let app = match kind {
        "bare" => bare(),
        "jwt-minimal" => jwt_minimal(false).await?,
        "jwt-minimal-all" => jwt_minimal(true).await?,
        "jwt-only" => jwt_only()?,
        "jwt-only-spec" => jwt_spec()?,
        "crudauth" => crudauth_app(false).await?,
        "crudauth-uncached" => crudauth_uncached().await?,
        "crudauth-tuned" => crudauth_app(true).await?,
        "crudauth-gates" => crate::gates_server::app(true).await?,
        "crudauth-gates-uncached" => crate::gates_server::app(false).await?,
        "crudauth-recovery" => crate::recovery_server::app().await?,
        "crudauth-layer" => crate::layer_server::app().await?,
        "crudauth-rate" => crate::rate_server::app().await?,
        other => return Err(format!("unknown server kind {other:?}").into()),
    };
    println!("listening on http://{}", listener.local_addr()?);
    example_web_and_api::serve(listener, app, std::future::pending()).await?;
    Ok(())
}

fn env(name: &str) -> Result<String, BoxError> {
    std::env::var(name).map_err(|_| format!("{name} is not set").into())
}

// ---- bare: the ceiling --------------------------------------------------

fn bare() -> Router {
    Router::new().route("/me", get(|| async { Json(json!({ "id": 1 })) }))
}

// ---- jwt-minimal: the least a correct bearer check can do ---------------

/// The claims the driver signs (see `driver::mint_jwt`).
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: u64,
    pub iat: u64,
}

#[derive(Clone)]
struct JwtState {
    db: DatabaseConnection,
    key: DecodingKey,
    validation: Validation,
    /// Load the row with `.all()` rather than `.one()`, whose bound `LIMIT`
    /// makes SQLite re-prepare the statement on every execution.
    limitless: bool,
}

/// The user row of a valid `Authorization: Bearer` HS256 token.
struct CurrentUser(user::Model);

impl<S> FromRequestParts<S> for CurrentUser
where
    JwtState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = StatusCode;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, StatusCode> {
        let state = JwtState::from_ref(state);
        let data = jsonwebtoken::decode::<Claims>(bearer(parts)?, &state.key, &state.validation)
            .map_err(|_| StatusCode::UNAUTHORIZED)?;
        let id: i64 = data
            .claims
            .sub
            .parse()
            .map_err(|_| StatusCode::UNAUTHORIZED)?;
        let found = if state.limitless {
            user::Entity::find_by_id(id)
                .all(&state.db)
                .await
                .map(|rows| rows.into_iter().next())
        } else {
            user::Entity::find_by_id(id).one(&state.db).await
        };
        let row = found
            .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?
            .filter(|u| u.is_active)
            .ok_or(StatusCode::UNAUTHORIZED)?;
        Ok(Self(row))
    }
}

async fn jwt_me(CurrentUser(user): CurrentUser) -> Json<Value> {
    Json(json!({ "id": user.id }))
}

async fn jwt_minimal(limitless: bool) -> Result<Router, BoxError> {
    // The same connection settings as the crudauth example.
    let db = example_web_and_api::connect(&env("DATABASE_URL")?).await?;
    let email = env("BENCH_EMAIL")?;
    let password = env("BENCH_PASSWORD")?;
    let hash =
        tokio::task::spawn_blocking(move || crudauth::hash_password_blocking(&password)).await?;
    user::ActiveModel {
        email: Set(email),
        password_hash: Set(hash),
        is_active: Set(true),
        is_superuser: Set(false),
        email_verified: Set(false),
        scopes: Set(String::new()),
        ..Default::default()
    }
    .insert(&db)
    .await?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.set_required_spec_claims(&["exp", "sub"]);
    let state = JwtState {
        db,
        key: DecodingKey::from_secret(env("BENCH_SECRET")?.as_bytes())?,
        validation,
        limitless,
    };
    Ok(Router::new().route("/me", get(jwt_me)).with_state(state))
}

/// The token of the request's `Authorization: Bearer` header.
fn bearer(parts: &Parts) -> Result<&str, StatusCode> {
    parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(StatusCode::UNAUTHORIZED)
}

// ---- jwt-only: a stateless token, no database, the same handler ---------

#[derive(Clone)]
struct JwtOnly {
    key: DecodingKey,
    validation: Validation,
}

/// The claims of the request's `Authorization: Bearer` token, decoded and
/// validated by jsonwebtoken with `state`'s rules.
fn bearer_claims<C: DeserializeOwned>(parts: &Parts, state: &JwtOnly) -> Result<C, StatusCode> {
    jsonwebtoken::decode::<C>(bearer(parts)?, &state.key, &state.validation)
        .map(|data| data.claims)
        .map_err(|_| StatusCode::UNAUTHORIZED)
}

/// The subject of a valid `Authorization: Bearer` HS256 token, checked
/// without any lookup: what a cache hit competes with.
struct Subject(i64);

impl<S> FromRequestParts<S> for Subject
where
    JwtOnly: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = StatusCode;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, StatusCode> {
        bearer_claims::<Claims>(parts, &JwtOnly::from_ref(state))?
            .sub
            .parse()
            .map(Self)
            .map_err(|_| StatusCode::UNAUTHORIZED)
    }
}

async fn jwt_only_me(Subject(id): Subject) -> Json<Value> {
    Json(json!({ "id": id }))
}

fn jwt_only() -> Result<Router, BoxError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.set_required_spec_claims(&["exp", "sub"]);
    let state = JwtOnly {
        key: DecodingKey::from_secret(env("BENCH_SECRET")?.as_bytes())?,
        validation,
    };
    Ok(Router::new()
        .route("/me", get(jwt_only_me))
        .with_state(state))
}

// ---- jwt-only with crudauth's claims: the same token contract, stateless --

/// The claims of a crudauth access token (SPEC section 5), signed by the
/// driver: `sub, exp, iat, nbf, jti, iss, aud, typ, scope, sid`.
#[derive(Debug, Serialize, Deserialize)]
pub struct SpecClaims {
    pub sub: String,
    pub exp: u64,
    pub iat: u64,
    pub nbf: u64,
    pub jti: String,
    pub iss: String,
    pub aud: String,
    pub typ: String,
    pub scope: String,
    pub sid: String,
}

/// The issuer and audience of the driver's spec tokens (crudauth's
/// defaults).
pub const SPEC_ISSUER: &str = "crudauth";

/// The subject of a valid token with crudauth's claims, checked as crudauth
/// checks them (every claim, leeway 0, `typ` = access, `iat` not in the
/// future) and without any lookup: a stateless server of the same token
/// contract.
struct SpecSubject(i64);

impl<S> FromRequestParts<S> for SpecSubject
where
    JwtOnly: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = StatusCode;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, StatusCode> {
        let claims = bearer_claims::<SpecClaims>(parts, &JwtOnly::from_ref(state))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|_| StatusCode::UNAUTHORIZED)?
            .as_secs();
        if claims.typ != "access" || claims.iat > now {
            return Err(StatusCode::UNAUTHORIZED);
        }
        claims
            .sub
            .parse()
            .map(Self)
            .map_err(|_| StatusCode::UNAUTHORIZED)
    }
}

async fn jwt_spec_me(SpecSubject(id): SpecSubject) -> Json<Value> {
    Json(json!({ "id": id }))
}

fn jwt_spec() -> Result<Router, BoxError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.validate_nbf = true;
    validation.set_issuer(&[SPEC_ISSUER]);
    validation.set_audience(&[SPEC_ISSUER]);
    validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
    let state = JwtOnly {
        key: DecodingKey::from_secret(env("BENCH_SECRET")?.as_bytes())?,
        validation,
    };
    Ok(Router::new()
        .route("/me", get(jwt_spec_me))
        .with_state(state))
}

// ---- crudauth: the example application ----------------------------------

/// The `#[authed]` side of the pair, on a route beside its plain twin.
#[crudauth::authed]
async fn me_authed(user: Principal) -> Json<Value> {
    Json(json!({ "id": user.user_id }))
}

/// The plain-extractor side of the pair.
async fn me_plain(user: Principal) -> Json<Value> {
    Json(json!({ "id": user.user_id }))
}

/// The example's `connect` with one setting changed: a ping only for a
/// connection idle over 30 s rather than before every use. Only the
/// diagnostic `--tuned` rows use it.
async fn connect_tuned(url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut options = example_web_and_api::connect_options(url);
    options.test_before_acquire_if_idle_for(Duration::from_secs(30));
    example_web_and_api::connect_with(options).await
}

/// The example application with the principal cache off: every request
/// reads its session or family, the path a credential's first request
/// takes.
async fn crudauth_uncached() -> Result<Router, BoxError> {
    let url = env("DATABASE_URL")?;
    let db = example_web_and_api::connect(&url).await?;
    let mut config = CrudAuthConfig::from_env()?;
    config.cache_ttl = Duration::ZERO;
    let auth: CrudAuth = example_web_and_api::auth_builder(db, config).build()?;
    auth.migrate().await?;
    Ok(example_web_and_api::app(auth))
}

async fn crudauth_app(tuned: bool) -> Result<Router, BoxError> {
    let url = env("DATABASE_URL")?;
    let db = if tuned {
        connect_tuned(&url).await?
    } else {
        example_web_and_api::connect(&url).await?
    };
    let auth: CrudAuth =
        example_web_and_api::auth_builder(db, CrudAuthConfig::from_env()?).build()?;
    auth.migrate().await?;
    // The example application as it ships, plus the `#[authed]` pair under
    // the same layer.
    let pair = Router::new()
        .route("/pair/plain", get(me_plain))
        .route("/pair/authed", get(me_authed))
        .layer(auth.layer())
        .with_state(auth.clone());
    Ok(example_web_and_api::app(auth).merge(pair))
}
