use crudauth::{Principal, authed};

#[authed(fersh = "5m")]
async fn settings(_user: Principal) {}

fn main() {}
