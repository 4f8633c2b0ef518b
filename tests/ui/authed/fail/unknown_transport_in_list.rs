use crudauth::{Principal, authed};

#[authed(transport = ["sesion", "bearer"])]
async fn account(_user: Principal) {}

fn main() {}
