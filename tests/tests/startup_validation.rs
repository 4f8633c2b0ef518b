//! A handler narrowed to a transport the `CrudAuth` does not enable makes
//! `build()` fail, naming the handler. Its own test binary, with its own user
//! model: the registry is process-wide, so these handlers would fail the
//! `build()` of any binary that links them.

use crudauth::{
    BearerTransport, ConfigError, CrudAuth, CrudAuthBuilder, Principal, SessionTransport, authed,
};

mod user {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, crudauth::AuthUser)]
    #[sea_orm(table_name = "users")]
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

#[authed(transport = "session")]
async fn account(user: Principal) -> String {
    user.user_id.to_string()
}

#[authed(transport = ["session", "bearer"])]
async fn either(_user: Principal) {}

#[authed]
async fn unrestricted(_user: Principal) {}

async fn builder() -> CrudAuthBuilder {
    let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
    CrudAuth::builder()
        .database(db)
        .user_model::<user::Model>()
        .secret_key([7u8; 32])
}

#[tokio::test]
async fn build_names_handlers_narrowed_to_a_disabled_transport() {
    let err = builder()
        .await
        .transport(BearerTransport::new())
        .build()
        .unwrap_err();
    let ConfigError::UnknownTransports { handlers } = &err else {
        panic!("expected UnknownTransports, got {err:?}");
    };
    let named: Vec<_> = handlers
        .iter()
        .map(|h| (h.handler.as_str(), h.transport.as_str()))
        .collect();
    assert_eq!(
        named,
        [
            ("startup_validation::account", "\"session\""),
            ("startup_validation::either", "\"session\""),
        ]
    );
    let message = err.to_string();
    assert!(message.contains("startup_validation::account"), "{message}");
    assert!(message.contains("\"session\""), "{message}");
}

#[tokio::test]
async fn build_succeeds_when_every_narrowed_transport_is_enabled() {
    builder()
        .await
        .transport(SessionTransport::new())
        .transport(BearerTransport::new())
        .build()
        .unwrap();
    let _ = (account, either, unrestricted);
}
