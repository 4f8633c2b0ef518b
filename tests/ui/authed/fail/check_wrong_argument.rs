use crudauth::{Principal, authed};

fn can_edit(user_id: i64) -> bool {
    user_id == 1
}

#[authed(check = can_edit)]
async fn edit(_user: Principal) {}

fn main() {}
