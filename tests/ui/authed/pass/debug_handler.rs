//! `#[authed]` goes above `#[axum::debug_handler]`, which then checks the
//! rewritten handler; the state is named because the guard reads
//! `CrudAuth` from it.
#![deny(warnings)]

use axum::Router;
use axum::extract::{FromRef, State};
use axum::routing::get;
use crudauth::{CrudAuth, Principal, authed};

#[derive(Clone, FromRef)]
struct AppState {
    auth: CrudAuth,
    greeting: &'static str,
}

#[authed(transport = "bearer")]
#[axum::debug_handler(state = AppState)]
async fn hello(State(greeting): State<&'static str>, user: Principal) -> String {
    format!("{greeting} {}", user.user_id)
}

#[authed(optional)]
#[axum::debug_handler(state = CrudAuth)]
async fn maybe(user: Option<Principal>) -> String {
    format!("{}", user.is_some())
}

fn main() {
    let _: Router<AppState> = Router::new().route("/", get(hello));
    let _: Router<CrudAuth> = Router::new().route("/", get(maybe));
}
