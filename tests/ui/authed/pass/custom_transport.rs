//! A custom transport is named by its type, alone or in a list.
#![deny(warnings)]

use axum::Router;
use axum::http::request::Parts;
use axum::routing::get;
use crudauth::{CrudAuth, Principal, Transport, TransportFuture, authed};

mod keys {
    /// Never finds a credential.
    pub struct ApiKeyTransport;
}
use keys::ApiKeyTransport;

impl Transport for ApiKeyTransport {
    fn name(&self) -> &'static str {
        "api_key"
    }
    fn authenticate<'a>(&'a self, _: &'a Parts, _: &'a CrudAuth) -> TransportFuture<'a> {
        Box::pin(async { Ok(None) })
    }
}

#[authed(transport = ApiKeyTransport)]
async fn by_key(_user: Principal) {}

#[authed(transport = ["bearer", keys::ApiKeyTransport])]
async fn by_key_or_token(_user: Principal) {}

fn main() {
    let _: Router<CrudAuth> = Router::new()
        .route("/key", get(by_key))
        .route("/either", get(by_key_or_token));
}
