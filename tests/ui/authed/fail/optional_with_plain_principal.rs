use crudauth::{Principal, authed};

#[authed(optional)]
async fn greet(user: Principal) {
    let _ = user;
}

fn main() {}
