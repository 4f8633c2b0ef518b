//! The principal keeps its place among other extractors, with any pattern
//! and any path to the `Principal` type; the body extractor stays last.
#![deny(warnings)]

use axum::extract::{FromRef, Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use crudauth::{CrudAuth, Principal, authed};
use std::collections::HashMap;

#[derive(Clone, FromRef)]
struct AppState {
    auth: CrudAuth,
    name: &'static str,
}

#[authed(scopes = ["jobs:write"])]
async fn create(
    State(name): State<&'static str>,
    Path(id): Path<u32>,
    mut user: crudauth::Principal,
    Query(query): Query<HashMap<String, String>>,
    Json(body): Json<serde_json::Value>,
) -> Json<serde_json::Value> {
    user.scopes.insert("touched".to_owned());
    Json(serde_json::json!({ "name": name, "id": id, "q": query, "body": body, "user": user }))
}

#[authed]
async fn ignored(_: Principal, Path(id): Path<u32>) -> String {
    id.to_string()
}

#[authed(optional)]
async fn qualified(user: std::option::Option<crudauth::Principal>) -> String {
    format!("{}", user.is_some())
}

#[authed]
pub(crate) async fn visible(user: Principal) -> String {
    user.user_id.to_string()
}

fn main() {
    let _: Router<AppState> = Router::new()
        .route("/create/{id}", post(create))
        .route("/ignored/{id}", get(ignored))
        .route("/qualified", get(qualified))
        .route("/visible", get(visible));
}
