use crudauth::{Principal, authed};

#[authed(rate = "1000001/s")]
async fn search(_user: Principal) {}

fn main() {}
