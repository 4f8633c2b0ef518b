use crudauth::{Principal, authed};

#[authed(transport = bearer)]
async fn api(_user: Principal) {}

fn main() {}
