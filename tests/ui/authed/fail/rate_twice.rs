use crudauth::{Principal, authed};

#[authed(rate = "10/m", rate = "100/h")]
async fn search(_user: Principal) {}

fn main() {}
