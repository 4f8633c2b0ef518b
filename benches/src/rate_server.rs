//! The server of `crudauth-bench rate` (issue 28): the example application
//! with three routes that differ only in their guard: `#[authed]`, a
//! `rate` no benchmark reaches (`1000000/s`), and a `rate` every request
//! after the first exceeds (`1/h`). With `CRUDAUTH_REDIS_URL` the counters
//! are Redis's.

use axum::routing::get;
use axum::{Json, Router};
use crudauth::{CrudAuth, CrudAuthConfig, Principal, RateLimitStore};
use serde_json::{Value, json};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[crudauth::authed]
async fn plain(user: Principal) -> Json<Value> {
    Json(json!({ "id": user.user_id }))
}

#[crudauth::authed(rate = "1000000/s")]
async fn limited(user: Principal) -> Json<Value> {
    Json(json!({ "id": user.user_id }))
}

#[crudauth::authed(rate = "1/h")]
async fn over(user: Principal) -> Json<Value> {
    Json(json!({ "id": user.user_id }))
}

pub async fn app() -> Result<Router, BoxError> {
    let url = std::env::var("DATABASE_URL").map_err(|_| "DATABASE_URL is not set")?;
    let db = example_web_and_api::connect(&url).await?;
    let mut builder = example_web_and_api::auth_builder(db, CrudAuthConfig::from_env()?);
    if let Ok(redis) = std::env::var("CRUDAUTH_REDIS_URL") {
        builder = builder.rate_limits(RateLimitStore::Redis(redis));
    }
    let auth: CrudAuth = builder.build()?;
    auth.migrate().await?;
    let routes = Router::new()
        .route("/rate/plain", get(plain))
        .route("/rate/limited", get(limited))
        .route("/rate/over", get(over))
        .layer(auth.layer())
        .with_state(auth.clone());
    Ok(example_web_and_api::app(auth).merge(routes))
}
