//! A uuid primary key, a username-only login, a renamed `Column` variant.
#![deny(warnings)]

mod user {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, crudauth::AuthUser)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        #[sea_orm(unique)]
        pub username: String,
        #[sea_orm(enum_name = "Hash")]
        pub password_hash: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use crudauth::AuthUser;

fn main() {
    let id = uuid::Uuid::nil();
    let row = user::Model {
        id,
        username: "ada".to_owned(),
        password_hash: "hash".to_owned(),
    };
    assert_eq!(row.key(), id);
    assert_eq!(row.email(), None);
    assert_eq!(row.username(), Some("ada"));
    let columns = user::Model::auth_columns();
    assert!(columns.email.is_none());
    assert_eq!(format!("{:?}", columns.password_hash), "Hash");
}
