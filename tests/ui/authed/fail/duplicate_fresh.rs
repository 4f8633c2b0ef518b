use crudauth::{Principal, authed};

#[authed(fresh = "5m", fresh = "1h")]
async fn settings(_user: Principal) {}

fn main() {}
