use crudauth::{Principal, authed};

struct NotATransport;

#[authed(transport = NotATransport)]
async fn api(_user: Principal) {}

fn main() {}
