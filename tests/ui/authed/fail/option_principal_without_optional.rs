use crudauth::{Principal, authed};

#[authed(transport = "bearer")]
async fn greet(user: Option<Principal>) {
    let _ = user;
}

fn main() {}
