use crudauth::{Principal, authed};

#[authed(fresh = "25h")]
async fn settings(_user: Principal) {}

fn main() {}
