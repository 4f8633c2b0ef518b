use crudauth::{Principal, authed};

#[authed(transport = "berer", scopes = [], superuser = true, sueruser)]
fn admin(first: Principal, second: Principal) {
    let _ = (first, second);
}

fn main() {}
