use crudauth::{Principal, authed};

#[authed(rate = "0/m")]
async fn search(_user: Principal) {}

fn main() {}
