#[derive(crudauth::AuthUser)]
pub struct Model(i64, String, String);

fn main() {}
