//! A handler that takes no principal is still guarded.
#![deny(warnings)]

use axum::Router;
use axum::routing::get;
use crudauth::{CrudAuth, authed};

#[authed(superuser)]
async fn purge() -> &'static str {
    "purged"
}

#[authed]
async fn ping() {}

fn main() {
    let _: Router<CrudAuth> = Router::new()
        .route("/purge", get(purge))
        .route("/ping", get(ping));
}
