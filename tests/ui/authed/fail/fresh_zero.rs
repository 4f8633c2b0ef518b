use crudauth::{Principal, authed};

#[authed(fresh = "0m")]
async fn settings(_user: Principal) {}

fn main() {}
