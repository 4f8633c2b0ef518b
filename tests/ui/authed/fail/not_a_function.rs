use crudauth::authed;

#[authed]
struct Handler;

fn main() {}
