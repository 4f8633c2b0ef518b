#[derive(crudauth::AuthUser)]
pub enum Model {
    Admin,
    Member,
}

fn main() {}
