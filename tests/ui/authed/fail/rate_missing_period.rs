use crudauth::{Principal, authed};

#[authed(rate = "10")]
async fn search(_user: Principal) {}

fn main() {}
