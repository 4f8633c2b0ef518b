//! Narrowing to built-in transports: one name, or a list.
#![deny(warnings)]

use axum::Router;
use axum::routing::get;
use crudauth::{CrudAuth, Principal, authed};

#[authed(transport = "bearer")]
async fn api(_user: Principal) {}

#[authed(transport = "session")]
async fn account(_user: Principal) {}

#[authed(transport = ["session", "bearer"])]
async fn both(_user: Principal) {}

fn main() {
    let _: Router<CrudAuth> = Router::new()
        .route("/api", get(api))
        .route("/account", get(account))
        .route("/both", get(both));
}
