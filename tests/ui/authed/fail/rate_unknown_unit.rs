use crudauth::{Principal, authed};

#[authed(rate = "10/x")]
async fn search(_user: Principal) {}

fn main() {}
