use crudauth::{Principal, authed};

#[authed(optinal)]
async fn greet(_user: Option<Principal>) {}

fn main() {}
