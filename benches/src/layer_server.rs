//! The server of `crudauth-bench layer` (issue 24): the same two routes of
//! an application twice, under `/bare` without crudauth's layer and under
//! `/layered` behind `auth.layer()`, so that what the layer costs the
//! application's own routes is measured in one process.

use axum::Router;
use axum::body::Bytes;
use axum::routing::{get, post};
use crudauth::{CrudAuth, CrudAuthConfig};
use serde_json::{Value, json};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn hello() -> axum::Json<Value> {
    axum::Json(json!({ "hello": "world" }))
}

/// The length of the body: the handler reads all of it.
async fn echo(body: Bytes) -> String {
    body.len().to_string()
}

fn routes() -> Router {
    Router::new()
        .route("/hello", get(hello))
        .route("/echo", post(echo))
}

pub async fn app() -> Result<Router, BoxError> {
    let url = std::env::var("DATABASE_URL").map_err(|_| "DATABASE_URL is not set")?;
    let db = example_web_and_api::connect(&url).await?;
    let auth: CrudAuth =
        example_web_and_api::auth_builder(db, CrudAuthConfig::from_env()?).build()?;
    auth.migrate().await?;
    Ok(Router::new()
        .nest("/bare", routes())
        .nest("/layered", routes().layer(auth.layer())))
}
