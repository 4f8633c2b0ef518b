//! Authentication for axum applications where a browser (cookie session with
//! CSRF) and an API client (JWT bearer) reach the same handler and get the
//! same [`Principal`].
//!
//! # The recipe
//!
//! ```no_run
//! use axum::{routing::get, Json, Router};
//! use crudauth::{BearerTransport, CrudAuth, Principal, SessionTransport, authed};
//! # mod user { pub type Model = crudauth::__private::doc_user::Model; }
//!
//! #[authed]
//! async fn me(user: Principal) -> Json<serde_json::Value> {
//!     Json(serde_json::json!({ "id": user.user_id })) // cookie OR bearer
//! }
//!
//! # async fn run(db: sea_orm::DatabaseConnection) -> Result<(), Box<dyn std::error::Error>> {
//! let auth = CrudAuth::builder()
//!     .database(db)
//!     .user_model::<user::Model>()
//!     .secret_key(std::env::var("CRUDAUTH_SECRET_KEY")?) // >= 32 bytes
//!     .transport(SessionTransport::new()) // order = precedence
//!     .transport(BearerTransport::new())
//!     .me_route(false) // we serve our own /me
//!     .build()?;
//! auth.migrate().await?;
//!
//! let app = Router::new()
//!     .route("/me", get(me))
//!     .merge(auth.router())
//!     .layer(auth.layer())
//!     .with_state(auth);
//! # let _: Router = app;
//! # Ok(()) }
//! ```
//!
//! A transport whose credential is absent lets the next one try; a credential
//! that is present but invalid (a tampered token, a session request failing
//! CSRF) fails the request, even where the principal is optional.
//!
//! # Macros
//!
//! [`#[authed(..)]`](macro@authed) guards a handler: which transports,
//! which gates (superuser, verified email, scopes, a custom check), and
//! whether anonymous requests pass. [`#[derive(AuthUser)]`](derive@AuthUser)
//! maps the application's SeaORM user entity. Both report misuse at
//! compile time, pointing at the tokens to fix.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod auth;
mod body;
mod config;
mod cookies;
mod csrf;
mod error;
mod guard;
mod jwt;
mod layer;
mod lockout;
mod password;
mod principal;
mod routes;
mod store;
mod tokens;
mod transport;
mod user;
mod user_fields;

pub use auth::{AuthEvent, CrudAuth, CrudAuthBuilder};
pub use config::{CookiePolicy, CrudAuthConfig, LockoutPolicy};
pub use error::{AuthError, ConfigError};
pub use layer::{AuthLayer, LayerFuture};
pub use password::hash_password_blocking;
pub use principal::{Principal, UserId};
#[cfg(feature = "migration")]
pub use store::migration::Migration;
pub use transport::bearer::BearerTransport;
pub use transport::session::SessionTransport;
pub use transport::{Transport, TransportFuture};
pub use user::{AuthColumns, AuthUser, UserKey};

#[cfg(feature = "macros")]
#[doc = include_str!("docs/derive_auth_user.md")]
pub use crudauth_macros::AuthUser;
#[cfg(feature = "macros")]
#[doc = include_str!("docs/authed.md")]
pub use crudauth_macros::authed;

/// What the macros' generated code names. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::guard::{
        AsyncCheck, Authed, CheckFuture, CheckOutput, GuardRegistration, GuardSpec, SyncCheck,
        TransportRef, run_guard, transport_id,
    };
    pub use crate::principal::Principal;
    pub use crate::user::{AuthColumns, AuthUser, UserKey};
    pub use crate::user_fields::{FlagField, HashField, KeyField, ScopesField, TextField};
    pub use axum;
    pub use inventory;
    pub use sea_orm;

    /// A user entity for the documentation's examples.
    #[cfg(feature = "macros")]
    pub mod doc_user {
        use sea_orm::entity::prelude::*;

        /// A minimal user row.
        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, crate::AuthUser)]
        #[sea_orm(table_name = "users")]
        #[auth(crate = "crate")]
        pub struct Model {
            /// Key.
            #[sea_orm(primary_key)]
            pub id: i64,
            /// Email.
            #[sea_orm(unique)]
            pub email: String,
            /// PHC hash.
            pub password_hash: String,
        }

        /// None.
        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }
}
