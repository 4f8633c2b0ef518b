use crudauth::{Principal, authed};

#[authed(fresh = "99999999999999999999s")]
async fn settings(_user: Principal) {}

fn main() {}
