//! The gates: superuser, verified, scopes and check, alone and combined.
#![deny(warnings)]

use axum::Router;
use axum::routing::get;
use crudauth::{CrudAuth, Principal, authed};

#[authed(superuser)]
async fn admin(_user: Principal) {}

#[authed(verified)]
async fn verified(_user: Principal) {}

#[authed(scopes = ["jobs:read", "jobs:write"])]
async fn jobs(_user: Principal) {}

#[authed(transport = "bearer", optional, scopes = ["a"])]
async fn combined(_user: Option<Principal>) {}

#[authed(superuser, verified, scopes = ["admin"], transport = "session")]
async fn everything(_user: Principal) {}

fn main() {
    let _: Router<CrudAuth> = Router::new()
        .route("/admin", get(admin))
        .route("/verified", get(verified))
        .route("/jobs", get(jobs))
        .route("/combined", get(combined))
        .route("/everything", get(everything));
}
