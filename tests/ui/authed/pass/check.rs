//! `check = path` takes a sync or an async `fn(&Principal) -> bool`.
#![deny(warnings)]

use axum::Router;
use axum::routing::get;
use crudauth::{CrudAuth, Principal, authed};

fn is_staff(user: &Principal) -> bool {
    user.scopes.contains("staff")
}

mod policy {
    use crudauth::Principal;

    pub async fn can_edit(user: &Principal) -> bool {
        user.is_superuser
    }
}

#[authed(check = is_staff)]
async fn staff(_user: Principal) {}

#[authed(check = policy::can_edit, verified)]
async fn edit(_user: Principal) {}

fn main() {
    let _: Router<CrudAuth> = Router::new()
        .route("/staff", get(staff))
        .route("/edit", get(edit));
}
