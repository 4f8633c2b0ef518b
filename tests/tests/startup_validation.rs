//! A handler narrowed to a transport the `CrudAuth` does not enable makes
//! `build()` fail, naming the handler; so does a sign-in provider without
//! what its flow needs (the session transport, a public origin). Its own
//! test binary, with its own user model: the registry is process-wide, so
//! these handlers would fail the `build()` of any binary that links them.

use crudauth::{
    BearerTransport, ConfigError, CrudAuth, CrudAuthBuilder, OidcProvider, Principal,
    SessionTransport, authed,
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

/// GitHub's preset needs no discovery, so no provider has to run.
fn provider() -> OidcProvider {
    OidcProvider::github("client-id", "client-secret").unwrap()
}

fn oidc_refusal(err: ConfigError) -> &'static str {
    match err {
        ConfigError::Invalid {
            setting: "oidc_provider",
            reason,
        } => reason,
        other => panic!("expected the oidc_provider setting refused, got {other:?}"),
    }
}

#[tokio::test]
async fn build_refuses_a_sign_in_provider_without_a_public_origin() {
    let err = builder()
        .await
        .transport(SessionTransport::new())
        .transport(BearerTransport::new())
        .oidc_provider(provider())
        .build()
        .unwrap_err();
    let reason = oidc_refusal(err);
    assert!(reason.contains("public_origin"), "{reason}");
    assert!(reason.contains("CRUDAUTH_PUBLIC_ORIGIN"), "{reason}");
}

#[tokio::test]
async fn build_refuses_a_sign_in_provider_without_the_session_transport() {
    let err = builder()
        .await
        .transport(BearerTransport::new())
        .public_origin("https://app.example.com")
        .oidc_provider(provider())
        .build()
        .unwrap_err();
    let reason = oidc_refusal(err);
    assert!(reason.contains("session transport"), "{reason}");
    assert!(reason.contains("SessionTransport::new()"), "{reason}");
}

#[tokio::test]
async fn build_accepts_a_sign_in_provider_with_a_session_and_a_public_origin() {
    builder()
        .await
        .transport(SessionTransport::new())
        .transport(BearerTransport::new())
        .public_origin("https://app.example.com")
        .oidc_provider(provider())
        .build()
        .unwrap();
}
