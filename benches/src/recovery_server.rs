//! The server of `crudauth-bench enumeration` (issue 11): the example
//! application with a mail sender configured (so `/register` answers 202
//! uniformly), the per-IP throttles off, and accounts seeded in every state
//! the request routes must not tell apart.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::routing::get;
use axum::{Json, Router};
use crudauth::{CrudAuth, CrudAuthConfig, Email, EmailSender, SendFuture};
use example_web_and_api::user;
use sea_orm::{ActiveValue::Set, EntityTrait, TransactionTrait};
use serde_json::json;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The states an address can be in, and the seeded account's address of
/// each: `{state}-{i}@bench.test`. `unknown` addresses have no account.
pub const ACTIVE: &str = "active";
pub const INACTIVE: &str = "inactive";
pub const VERIFIED: &str = "verified";
pub const UNKNOWN: &str = "unknown";

pub fn address(state: &str, i: usize) -> String {
    format!("{state}-{i}@bench.test")
}

/// Accepts every mail and counts it by kind: the bench checks afterwards
/// that the classes it timed took the paths they were meant to (a mail for
/// an active account, none for an unknown one).
#[derive(Clone, Default)]
struct CountingSender(Arc<Mutex<BTreeMap<&'static str, u64>>>);

impl EmailSender for CountingSender {
    fn send(&self, email: Email) -> SendFuture<'_> {
        *self
            .0
            .lock()
            .expect("the count's lock")
            .entry(email.kind.as_str())
            .or_default() += 1;
        Box::pin(async { Ok(()) })
    }
}

/// `BENCH_SEED` accounts of each seeded state, one password hash shared.
async fn seed(db: &sea_orm::DatabaseConnection, count: usize) -> Result<(), BoxError> {
    let password = std::env::var("BENCH_PASSWORD").map_err(|_| "BENCH_PASSWORD is not set")?;
    let hash =
        tokio::task::spawn_blocking(move || crudauth::hash_password_blocking(&password)).await?;
    let txn = db.begin().await?;
    for (state, active, verified) in [
        (ACTIVE, true, false),
        (INACTIVE, false, false),
        (VERIFIED, true, true),
    ] {
        let rows: Vec<user::ActiveModel> = (0..count)
            .map(|i| user::ActiveModel {
                email: Set(address(state, i)),
                password_hash: Set(hash.clone()),
                is_active: Set(active),
                is_superuser: Set(false),
                email_verified: Set(verified),
                scopes: Set(String::new()),
                ..Default::default()
            })
            .collect();
        // PostgreSQL takes at most 65 535 bound values per statement.
        for chunk in rows.chunks(1000) {
            user::Entity::insert_many(chunk.to_vec()).exec(&txn).await?;
        }
    }
    txn.commit().await?;
    Ok(())
}

/// The application, plus `GET /bench/mails`: the mails sent so far by kind.
pub async fn app() -> Result<Router, BoxError> {
    let url = std::env::var("DATABASE_URL").map_err(|_| "DATABASE_URL is not set")?;
    let db = example_web_and_api::connect(&url).await?;
    let count: usize = std::env::var("BENCH_SEED")
        .map_err(|_| "BENCH_SEED is not set")?
        .parse()?;
    let sender = CountingSender::default();
    let sent = sender.0.clone();
    let auth: CrudAuth = example_web_and_api::auth_builder(db.clone(), CrudAuthConfig::from_env()?)
        .email_sender(sender)
        .public_origin("http://127.0.0.1")
        // Thousands of requests come from one address: the per-IP
        // throttles would answer 429. The per-address throttle stays,
        // and every request names an address of its own.
        .recovery_per_hour(0)
        .register_per_hour(0)
        .build()?;
    auth.migrate().await?;
    seed(&db, count).await?;
    let mails = Router::new().route(
        "/bench/mails",
        get(move || {
            let sent = sent.clone();
            async move {
                let sent = sent.lock().expect("the count's lock").clone();
                Json(json!(sent))
            }
        }),
    );
    Ok(example_web_and_api::app(auth).merge(mails))
}
