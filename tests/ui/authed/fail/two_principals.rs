use crudauth::{Principal, authed};

#[authed]
async fn twice(first: Principal, second: Principal) {
    let _ = (first, second);
}

fn main() {}
