//! The dense `#[sea_orm::model]` form copies the derives onto `ModelEx`;
//! the derive implements `AuthUser` for `Model` only.
#![deny(warnings)]

mod user {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, crudauth::AuthUser)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        #[sea_orm(unique)]
        #[auth(email)]
        pub login: String,
        pub password_hash: String,
        #[sea_orm(has_many)]
        pub notes: HasMany<super::note::Entity>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

mod note {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "notes")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub user_id: i64,
        pub text: String,
        #[sea_orm(belongs_to, from = "user_id", to = "id")]
        pub user: HasOne<super::user::Entity>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

use crudauth::AuthUser;

fn main() {
    let row = user::Model {
        id: 1,
        login: "ada@example.com".to_owned(),
        password_hash: "hash".to_owned(),
    };
    assert_eq!(row.email(), Some("ada@example.com"));
    assert_eq!(format!("{:?}", user::Model::auth_columns().email), "Some(Login)");
    let _ = crudauth::CrudAuth::builder().user_model::<user::Model>();
}
