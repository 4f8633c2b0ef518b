// A SeaORM entity always has a primary key (sea-orm refuses one without);
// this struct has none and no `#[auth(id)]` either.
#[derive(crudauth::AuthUser)]
pub struct Model {
    pub id: i64,
    pub email: String,
    pub password_hash: String,
}

fn main() {}
