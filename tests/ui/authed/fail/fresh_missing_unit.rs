use crudauth::{Principal, authed};

#[authed(fresh = "5")]
async fn settings(_user: Principal) {}

fn main() {}
