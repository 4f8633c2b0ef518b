use crudauth::{Principal, authed};

#[authed(transport = [])]
async fn api(_user: Principal) {}

fn main() {}
