//! `#[auth(role)]` maps fields whose names say nothing, and overrides names.
#![deny(warnings)]

mod user {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, crudauth::AuthUser)]
    #[sea_orm(table_name = "accounts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        #[auth(id)]
        pub account_id: String,
        #[auth(email)]
        pub mail: Option<String>,
        #[auth(username)]
        pub email: String,
        #[auth(password_hash)]
        pub secret: String,
        #[auth(is_active)]
        pub enabled: bool,
        #[auth(scopes)]
        pub grants: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use crudauth::AuthUser;

fn main() {
    let row = user::Model {
        account_id: "acc-1".to_owned(),
        mail: None,
        email: "ada".to_owned(),
        secret: "hash".to_owned(),
        enabled: true,
        grants: Some("a b".to_owned()),
    };
    assert_eq!(row.key(), "acc-1");
    assert_eq!(row.email(), None);
    assert_eq!(row.username(), Some("ada"));
    assert_eq!(row.password_hash(), "hash");
    assert!(row.is_active());
    assert_eq!(row.scopes(), ["a", "b"]);
    let columns = user::Model::auth_columns();
    assert_eq!(format!("{:?}", columns.id), "AccountId");
    assert_eq!(format!("{:?}", columns.email), "Some(Mail)");
    assert_eq!(format!("{:?}", columns.username), "Some(Email)");
    assert_eq!(format!("{:?}", columns.password_hash), "Secret");
}
