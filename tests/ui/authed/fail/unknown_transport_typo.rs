use crudauth::{Principal, authed};

#[authed(transport = "bearr")]
async fn api(_user: Principal) {}

fn main() {}
