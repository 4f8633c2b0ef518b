//! A custom transport: `X-Api-Key: <key>` beside cookie sessions and bearer
//! tokens, resolving to the same `Principal`.
//!
//! Keys are minted by a logged-in user at `POST /api-keys` and shown once;
//! only their SHA-256 is stored. A route narrowed with
//! `#[authed(transport = ApiKeyTransport)]` accepts nothing else.

use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use crudauth::{
    AuthError, BearerTransport, CrudAuth, CrudAuthBuilder, CrudAuthConfig, Principal,
    SessionTransport, Transport, TransportFuture, UserId, authed,
};
use rand::RngCore;
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, ConnectionTrait, Schema};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The `api_keys` table.
pub mod api_key {
    use sea_orm::entity::prelude::*;

    /// One key; only its hash is stored.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "api_keys")]
    pub struct Model {
        /// SHA-256 (hex) of the key.
        #[sea_orm(primary_key, auto_increment = false)]
        pub key_hash: String,
        /// The owner.
        pub user_id: i64,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

fn hash(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `X-Api-Key: <key>`: absent header → next transport; unknown key → 401.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiKeyTransport;

impl Transport for ApiKeyTransport {
    fn name(&self) -> &'static str {
        "api_key"
    }

    fn authenticate<'a>(&'a self, parts: &'a Parts, auth: &'a CrudAuth) -> TransportFuture<'a> {
        Box::pin(async move {
            let Some(value) = parts.headers.get("x-api-key") else {
                return Ok(None);
            };
            let key = value
                .to_str()
                .map_err(|_| AuthError::InvalidToken("malformed API key"))?;
            let row = api_key::Entity::find_by_id(hash(key.trim()))
                .one(auth.db())
                .await?;
            let row = row.ok_or(AuthError::InvalidToken("unknown API key"))?;
            Ok(Some(Principal::new(UserId::Int(row.user_id), "api_key")))
        })
    }
}

/// Creates the `api_keys` table if needed.
///
/// # Errors
///
/// The database's error.
pub async fn create_tables(db: &DatabaseConnection) -> Result<(), DbErr> {
    let mut table =
        Schema::new(db.get_database_backend()).create_table_from_entity(api_key::Entity);
    table.if_not_exists();
    db.execute(&table).await?;
    Ok(())
}

/// Three transports, in this order: session, bearer, API key.
pub fn auth_builder(db: DatabaseConnection, config: CrudAuthConfig) -> CrudAuthBuilder {
    CrudAuth::builder()
        .database(db)
        .user_model::<example_web_and_api::user::Model>()
        .config(config)
        .transport(SessionTransport::new())
        .transport(BearerTransport::new())
        .transport(ApiKeyTransport)
}

/// Connects, creates every table, and builds the `CrudAuth`.
///
/// # Errors
///
/// A database or configuration error.
pub async fn setup(
    url: &str,
    config: CrudAuthConfig,
) -> Result<CrudAuth, Box<dyn std::error::Error>> {
    let db = example_web_and_api::connect(url).await?;
    create_tables(&db).await?;
    let auth = auth_builder(db, config).build()?;
    auth.migrate().await?;
    Ok(auth)
}

/// Mints a key for the caller (session or bearer; not with a key).
#[authed(transport = ["session", "bearer"])]
async fn mint(
    axum::extract::State(auth): axum::extract::State<CrudAuth>,
    user: Principal,
) -> impl IntoResponse {
    let UserId::Int(user_id) = user.user_id else {
        return AuthError::Invalid("integer user ids only".into()).into_response();
    };
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let key = format!(
        "ck_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let row = api_key::ActiveModel {
        key_hash: Set(hash(&key)),
        user_id: Set(user_id),
    };
    match api_key::Entity::insert(row)
        .exec_without_returning(auth.db())
        .await
    {
        Ok(_) => (StatusCode::CREATED, Json(json!({ "api_key": key }))).into_response(),
        Err(err) => AuthError::from(err).into_response(),
    }
}

/// Any transport, the key included.
#[authed]
async fn whoami(user: Principal) -> Json<Value> {
    Json(json!({ "id": user.user_id, "transport": user.transport }))
}

/// Machine-to-machine only.
#[authed(transport = ApiKeyTransport)]
async fn ingest(user: Principal) -> (StatusCode, Json<Value>) {
    (StatusCode::ACCEPTED, Json(json!({ "owner": user.user_id })))
}

/// The application.
pub fn app(auth: CrudAuth) -> Router {
    Router::new()
        .route("/api-keys", post(mint))
        .route("/whoami", get(whoami))
        .route("/ingest", post(ingest))
        .merge(auth.router())
        .layer(auth.layer())
        .with_state(auth)
}
