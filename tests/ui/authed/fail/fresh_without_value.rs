use crudauth::{Principal, authed};

#[authed(fresh)]
async fn settings(_user: Principal) {}

fn main() {}
