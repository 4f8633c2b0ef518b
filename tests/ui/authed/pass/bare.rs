//! `#[authed]` with no options: any enabled transport, principal required.
#![deny(warnings)]

use axum::routing::get;
use axum::{Json, Router};
use crudauth::{CrudAuth, Principal, authed};

#[authed]
async fn me(user: Principal) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "id": user.user_id }))
}

fn main() {
    let _: Router<CrudAuth> = Router::new().route("/me", get(me));
}
