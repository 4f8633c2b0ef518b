use crudauth::{Principal, authed};

#[authed(transport = "oauth")]
async fn api(_user: Principal) {}

fn main() {}
