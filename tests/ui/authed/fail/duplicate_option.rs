use crudauth::{Principal, authed};

#[authed(superuser, verified, superuser)]
async fn admin(_user: Principal) {}

fn main() {}
