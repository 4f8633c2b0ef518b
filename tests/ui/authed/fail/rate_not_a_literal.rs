use crudauth::{Principal, authed};

const LIMIT: &str = "10/m";

#[authed(rate = LIMIT)]
async fn search(_user: Principal) {}

fn main() {}
