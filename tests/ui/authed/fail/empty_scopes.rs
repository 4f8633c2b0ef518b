use crudauth::{Principal, authed};

#[authed(scopes = [])]
async fn jobs(_user: Principal) {}

fn main() {}
