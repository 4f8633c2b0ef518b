//! Authentication for axum applications where a browser (cookie session with
//! CSRF) and an API client (JWT bearer) reach the same handler and get the
//! same [`Principal`].
//!
//! # The recipe
//!
//! ```no_run
//! use axum::{routing::get, Json, Router};
//! use crudauth::{BearerTransport, CrudAuth, Principal, SessionTransport, authed};
//! # mod user {
//! #     use sea_orm::entity::prelude::*;
//! #     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, crudauth::AuthUser)]
//! #     #[sea_orm(table_name = "users")]
//! #     pub struct Model { #[sea_orm(primary_key)] pub id: i64, pub email: String, pub password_hash: String }
//! #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
//! #     pub enum Relation {}
//! #     impl ActiveModelBehavior for ActiveModel {}
//! # }
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
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

// In the order a request flows through them; each module uses only the
// ones listed above it (`auth` is the public face over all of them).
mod error;
mod route;
mod origin;
mod config;
mod tokens;
mod mfa;
mod principal;
mod enrolment;
mod events;
mod audit;
mod mail;
mod user;
mod store;
mod cache;
mod password;
mod jwt;
mod cookies;
mod client;
mod rate;
mod csrf;
mod body;
#[cfg(feature = "oidc")]
mod oidc;
mod state;
mod revocation;
mod transport;
mod credentials;
mod lockout;
mod guard;
mod registry;
mod extract;
mod routes;
#[cfg(feature = "openapi")]
mod openapi;
mod layer;
mod auth;
#[cfg(test)]
mod fuzz;
#[cfg(feature = "cli")]
#[cfg_attr(docsrs, doc(cfg(feature = "cli")))]
pub mod cli;
#[cfg(feature = "migration")]
#[cfg_attr(docsrs, doc(cfg(feature = "migration")))]
pub mod migration;

pub use auth::{CrudAuthBuilder, MfaRotation};
pub use config::{CookiePolicy, CrudAuthConfig, LockoutPolicy};
pub use enrolment::MfaRequirement;
pub use error::{AuthError, AuthRejection, ConfigError, ErrorBody, NarrowedHandler};
pub use events::AuthEvent;
pub use layer::{AuthLayer, AuthService, JsonErrors, JsonErrorsService};
pub use mail::{Email, EmailKind, EmailSender, LogSender, MailError, SendFuture, SmtpSender};
#[cfg(feature = "migration")]
#[cfg_attr(docsrs, doc(cfg(feature = "migration")))]
pub use migration::Migration;
#[cfg(feature = "oidc")]
#[cfg_attr(docsrs, doc(cfg(feature = "oidc")))]
pub use oidc::{OidcError, OidcProvider};
pub use password::hash_password_blocking;
pub use password::legacy::LegacyHash;
pub use password::policy::{PasswordContext, PasswordPolicy};
pub use principal::{Principal, UserId};
pub use rate::RateLimitStore;
pub use route::Route;
pub use routes::TokenPair;
pub use routes::direct::{IssueTokens, NewAccount, SessionLogin, SignIn};
pub use state::{CrudAuth, Transport, TransportFuture};
pub use transport::bearer::BearerTransport;
pub use transport::session::SessionTransport;
pub use user::register::NewUser;
pub use user::{AuthColumns, AuthUser, UserKey};

#[cfg(feature = "macros")]
#[cfg_attr(docsrs, doc(cfg(feature = "macros")))]
#[doc = include_str!("docs/derive_auth_user.md")]
pub use crudauth_macros::AuthUser;
#[cfg(feature = "macros")]
#[cfg_attr(docsrs, doc(cfg(feature = "macros")))]
#[doc = include_str!("docs/authed.md")]
pub use crudauth_macros::authed;

/// What the macros' generated code names. Not a public API.
#[doc(hidden)]
pub mod __private {
    #[cfg(feature = "openapi")]
    pub use crate::error::ErrorBody;
    pub use crate::guard::{
        AsyncCheck, Authed, CheckFuture, CheckOutput, GuardSpec, SyncCheck, TransportRef,
        run_guard, transport_id,
    };
    pub use crate::principal::Principal;
    pub use crate::rate::Rate;
    pub use crate::registry::{GuardRegistration, UserModelRegistration, user_table};
    pub use crate::user::fields::{FlagField, HashField, KeyField, ScopesField, TextField};
    pub use crate::user::{AuthColumns, AuthUser, UserKey};
    pub use axum;
    pub use inventory;
    pub use sea_orm;
}
