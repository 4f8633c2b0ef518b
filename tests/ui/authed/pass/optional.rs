//! `#[authed(optional)]` hands the handler an `Option<Principal>`.
#![deny(warnings)]

use axum::Router;
use axum::routing::get;
use crudauth::{CrudAuth, Principal, authed};

#[authed(optional)]
async fn greet(user: Option<Principal>) -> String {
    match user {
        Some(user) => format!("hello {}", user.user_id),
        None => "hello stranger".to_owned(),
    }
}

fn main() {
    let _: Router<CrudAuth> = Router::new().route("/", get(greet));
}
