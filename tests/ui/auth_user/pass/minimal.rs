//! The least a user model needs: a key, an email, a password hash.
#![deny(warnings)]

mod user {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, crudauth::AuthUser)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        #[sea_orm(unique)]
        pub email: String,
        pub password_hash: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use crudauth::AuthUser;

fn main() {
    let row = user::Model {
        id: 7,
        email: "ada@example.com".to_owned(),
        password_hash: "$argon2id$...".to_owned(),
    };
    assert_eq!(row.key(), 7);
    assert_eq!(row.email(), Some("ada@example.com"));
    assert_eq!(row.username(), None);
    assert_eq!(row.password_hash(), "$argon2id$...");
    assert!(row.is_active());
    assert!(!row.is_superuser());
    assert!(row.scopes().is_empty());
    let columns = user::Model::auth_columns();
    assert_eq!(format!("{:?}", columns.id), "Id");
    assert_eq!(format!("{:?}", columns.email), "Some(Email)");
    assert_eq!(format!("{:?}", columns.password_hash), "PasswordHash");
    assert!(columns.is_active.is_none());
    let _ = crudauth::CrudAuth::builder().user_model::<user::Model>();
}
