use crudauth::{Principal, authed};

#[authed(scopes = "jobs:write")]
async fn jobs(_user: Principal) {}

fn main() {}
