//! `crate = ".."` names crudauth through a re-export.
#![deny(warnings)]

mod reexport {
    pub use crudauth as auth;
}

use axum::Router;
use axum::routing::get;
use reexport::auth::{CrudAuth, Principal, authed};

#[authed(crate = "crate::reexport::auth", transport = "bearer", check = allow)]
async fn me(_user: Principal) {}

fn allow(_: &Principal) -> bool {
    true
}

fn main() {
    let _: Router<CrudAuth> = Router::new().route("/me", get(me));
}
