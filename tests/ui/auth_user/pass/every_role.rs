//! Every role, picked up by field name; flags and scopes read from the row.
#![deny(warnings)]

mod user {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, crudauth::AuthUser)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        #[sea_orm(unique)]
        pub email: String,
        #[sea_orm(unique, nullable)]
        pub username: Option<String>,
        pub hashed_password: String,
        pub is_active: bool,
        pub is_superuser: bool,
        pub email_verified: Option<bool>,
        pub scopes: String,
        pub display_name: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use crudauth::AuthUser;

fn main() {
    let row = user::Model {
        id: 3,
        email: "ada@example.com".to_owned(),
        username: Some("ada".to_owned()),
        hashed_password: "hash".to_owned(),
        is_active: false,
        is_superuser: true,
        email_verified: None,
        scopes: "jobs:read  jobs:write".to_owned(),
        display_name: "Ada".to_owned(),
    };
    assert_eq!(row.key(), 3i32);
    assert_eq!(row.username(), Some("ada"));
    assert_eq!(row.password_hash(), "hash");
    assert!(!row.is_active());
    assert!(row.is_superuser());
    assert!(!row.email_verified());
    assert_eq!(row.scopes(), ["jobs:read", "jobs:write"]);
    let columns = user::Model::auth_columns();
    assert_eq!(format!("{:?}", columns.username), "Some(Username)");
    assert_eq!(format!("{:?}", columns.password_hash), "HashedPassword");
    assert_eq!(format!("{:?}", columns.is_active), "Some(IsActive)");
    assert_eq!(format!("{:?}", columns.is_superuser), "Some(IsSuperuser)");
    assert_eq!(format!("{:?}", columns.email_verified), "Some(EmailVerified)");
}
