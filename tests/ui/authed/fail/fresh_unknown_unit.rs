use crudauth::{Principal, authed};

#[authed(fresh = "5x")]
async fn settings(_user: Principal) {}

fn main() {}
