use crudauth::{Principal, authed};

#[authed]
fn me(user: Principal) -> String {
    user.user_id.to_string()
}

fn main() {}
