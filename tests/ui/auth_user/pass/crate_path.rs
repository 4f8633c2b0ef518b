//! `#[auth(crate = "..")]` names crudauth through a re-export.
#![deny(warnings)]

mod reexport {
    pub use crudauth as auth;
}

mod user {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, crate::reexport::auth::AuthUser)]
    #[sea_orm(table_name = "users")]
    #[auth(crate = "crate::reexport::auth")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub email: String,
        pub password_hash: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

fn main() {
    let _ = crudauth::CrudAuth::builder().user_model::<user::Model>();
}
