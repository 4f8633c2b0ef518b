use crudauth::{Principal, authed};

struct Api;

impl Api {
    #[authed]
    async fn me(&self, _user: Principal) {}
}

fn main() {}
