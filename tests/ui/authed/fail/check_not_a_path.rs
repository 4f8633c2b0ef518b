use crudauth::{Principal, authed};

#[authed(check = |_| true)]
async fn edit(_user: Principal) {}

fn main() {}
