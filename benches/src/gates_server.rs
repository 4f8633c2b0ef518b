//! The servers of `crudauth-bench gates` (issue 13): the example
//! application with a second-factor key, two routes that differ only in
//! their guard (`#[authed]` and `#[authed(mfa, fresh = "5m")]`), and a count
//! of the SQL statements its database connection has run.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::routing::get;
use axum::{Json, Router};
use crudauth::{CrudAuth, CrudAuthConfig, Principal};
use serde_json::{Value, json};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Seals the bench user's TOTP secret; any 32 bytes other than the secret
/// key do.
pub const MFA_KEY: [u8; 32] = *b"crudauth-bench-mfa-key-32-bytes!";

/// The plain side of the pair.
#[crudauth::authed]
async fn plain(user: Principal) -> Json<Value> {
    Json(json!({ "id": user.user_id }))
}

/// The gated side: the same handler behind a second factor and a proof of
/// at most five minutes.
#[crudauth::authed(mfa, fresh = "5m")]
async fn gated(user: Principal) -> Json<Value> {
    Json(json!({ "id": user.user_id }))
}

/// The example application with the `/gates/*` pair and
/// `GET /bench/statements`, the number of statements sea-orm has sent on
/// the server's connection so far. `cached` false turns the principal
/// cache off, so that every request reads its token family.
pub async fn app(cached: bool) -> Result<Router, BoxError> {
    let url = std::env::var("DATABASE_URL").map_err(|_| "DATABASE_URL is not set")?;
    let mut db = example_web_and_api::connect(&url).await?;
    let statements = Arc::new(AtomicU64::new(0));
    let counter = statements.clone();
    // Installed before crudauth gets its handle: clones share the callback.
    // It sees every statement crudauth sends, not the pool's pings.
    db.set_metric_callback(move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
    });
    let mut builder =
        example_web_and_api::auth_builder(db, CrudAuthConfig::from_env()?).mfa_key(MFA_KEY);
    if !cached {
        builder = builder.principal_cache(Duration::ZERO, 0);
    }
    let auth: CrudAuth = builder.build()?;
    auth.migrate().await?;
    let pair = Router::new()
        .route("/gates/plain", get(plain))
        .route("/gates/mfa-fresh", get(gated))
        .layer(auth.layer())
        .with_state(auth.clone());
    let count = Router::new().route(
        "/bench/statements",
        get(move || {
            let statements = statements.clone();
            async move { Json(json!({ "statements": statements.load(Ordering::Relaxed) })) }
        }),
    );
    Ok(example_web_and_api::app(auth).merge(pair).merge(count))
}
