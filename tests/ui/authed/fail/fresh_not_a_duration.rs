use crudauth::{Principal, authed};

#[authed(fresh = "m")]
async fn settings(_user: Principal) {}

fn main() {}
