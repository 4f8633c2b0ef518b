use crudauth::{Principal, authed};

#[authed(transport = ["bearer", "session", "bearer"])]
async fn api(_user: Principal) {}

fn main() {}
