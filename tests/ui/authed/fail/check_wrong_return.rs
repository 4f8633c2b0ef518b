use crudauth::{Principal, authed};

fn can_edit(_user: &Principal) -> Option<bool> {
    Some(true)
}

#[authed(check = can_edit)]
async fn edit(_user: Principal) {}

fn main() {}
