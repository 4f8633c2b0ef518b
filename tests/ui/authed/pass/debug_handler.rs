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

#[authed(fresh = "5m")]
#[axum::debug_handler(state = CrudAuth)]
async fn sudo(user: Principal) -> String {
    user.user_id.to_string()
}

fn main() {
    let _: Router<AppState> = Router::new().route("/", get(hello));
    let _: Router<CrudAuth> = Router::new().route("/", get(maybe));
    let _: Router<CrudAuth> = Router::new().route("/", get(sudo));
    let _: Router<CrudAuth> = Router::new().route("/", get(outer_debug_handler::me));
}

mod outer_debug_handler {
    //! The other order compiles too, but `debug_handler` then checks the
    //! handler before `#[authed]` rewrites it.
    use crudauth::{CrudAuth, Principal, authed};

    #[axum::debug_handler(state = CrudAuth)]
    #[authed(transport = "bearer")]
    pub async fn me(user: Principal) -> String {
        user.user_id.to_string()
    }
}
