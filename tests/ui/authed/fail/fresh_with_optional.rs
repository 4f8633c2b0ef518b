use crudauth::{Principal, authed};

#[authed(optional, fresh = "5m")]
async fn settings(_user: Option<Principal>) {}

fn main() {}
