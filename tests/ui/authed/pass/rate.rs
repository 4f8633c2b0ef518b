use crudauth::{Principal, authed};

#[authed(rate = "100/m")]
async fn search(_user: Principal) {}

#[authed(optional, rate = "5/s", transport = "bearer")]
async fn feed(_user: Option<Principal>) {}

#[authed(superuser, rate = "1000000/h")]
async fn export(_user: Principal) {}

fn main() {
    let _ = axum::Router::<crudauth::CrudAuth>::new()
        .route("/search", axum::routing::get(search))
        .route("/feed", axum::routing::get(feed))
        .route("/export", axum::routing::get(export));
}
