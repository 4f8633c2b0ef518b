use crudauth::{Principal, authed};

#[authed(mfa = true)]
async fn settings(_user: Principal) {}

fn main() {}
