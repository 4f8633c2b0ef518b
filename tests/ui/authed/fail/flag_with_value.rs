use crudauth::{Principal, authed};

#[authed(optional = 1)]
async fn greet(_user: Option<Principal>) {}

fn main() {}
