//! `#[authed]` above `#[utoipa::path]`: the handler still routes, and the
//! document collects it with the security section the guard wrote, next to
//! one the user wrote, a trailing comma, a `crate = ".."` path and a method
//! list.
#![deny(warnings)]

use axum::Router;
use axum::routing::{get, post};
use crudauth::{CrudAuth, Principal, authed};
use utoipa::OpenApi;

mod reexport {
    pub use crudauth;
}

#[authed(scopes = ["jobs:write"])]
#[utoipa::path(post, path = "/jobs", responses((status = 201, description = "Made."),))]
async fn jobs(_user: Principal) {}

#[authed(optional, transport = "session")]
#[utoipa::path(get, path = "/page")]
async fn page(_user: Option<Principal>) {}

#[authed(superuser)]
#[utoipa::path(post, path = "/admin", security(("bearer" = [])), responses((status = 403, description = "Mine.")))]
async fn admin(_user: Principal) {}

#[authed(crate = "reexport::crudauth", transport = "bearer")]
#[utoipa::path(method(get, head), path = "/both")]
async fn both(_user: Principal) {}

#[derive(OpenApi)]
#[openapi(paths(jobs, page, admin, both))]
struct Api;

fn main() {
    let _: Router<CrudAuth> = Router::new()
        .route("/jobs", post(jobs))
        .route("/page", get(page))
        .route("/admin", post(admin))
        .route("/both", get(both));
    let _ = Api::openapi().to_json();
}
