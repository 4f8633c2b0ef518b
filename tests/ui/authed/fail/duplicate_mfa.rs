use crudauth::{Principal, authed};

#[authed(mfa, verified, mfa)]
async fn settings(_user: Principal) {}

fn main() {}
