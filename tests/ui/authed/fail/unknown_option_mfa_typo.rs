use crudauth::{Principal, authed};

#[authed(mfs)]
async fn settings(_user: Principal) {}

fn main() {}
