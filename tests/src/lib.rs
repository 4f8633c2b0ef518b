//! The harness of the integration tests: a real server on a loopback socket
//! over a real database (a fresh SQLite file, or a fresh PostgreSQL database
//! dropped afterwards), and a client for it.
//!
//! Every file in `tests/tests/` is a test binary that cargo finds on its own
//! and that uses this library as `crudauth_tests`; `tests/ui/` holds the
//! trybuild cases that `tests/tests/ui.rs` runs.

mod api_key;
pub mod chromium;
mod client;
mod database;
pub mod oidc_browser;
mod oidc_provider;
mod process;
pub mod second_factor;
mod server;
mod smtp;
mod totp;

pub use api_key::ApiKeyTransport;
pub use client::{
    Browser, Endpoint, PASSWORD, assert_error, client, retry_after, set_cookies, token_pair,
    weak_hash,
};
pub use database::{Backend, TestDb, postgres_enabled};
pub use oidc_provider::{CLIENT_ID, CLIENT_SECRET, PUBLIC_CLIENT_ID, TestProvider, free_port};
pub use process::{example_binary, server_rendered_binary, start_binary};
pub use server::{
    SECRET, Server, config, start, start_app, start_beside, start_router, start_router_on,
    start_sharing, start_through,
};
pub use smtp::{Received, SmtpMode, SmtpServer};
pub use totp::{MFA_KEY, totp_code};

/// Whether a test that needs a real part (PostgreSQL, Node.js, Chromium,
/// schemathesis) must fail rather than skip when it is absent: under CI
/// (`CI` or `CRUDAUTH_REQUIRE_PG` set).
pub fn required_under_ci() -> bool {
    std::env::var_os("CI").is_some() || std::env::var_os("CRUDAUTH_REQUIRE_PG").is_some()
}

/// Runs each named async test fn (taking a [`Backend`]) on SQLite and on
/// PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if !$crate::postgres_enabled().await {
                        return;
                    }
                    super::$name($crate::Backend::Postgres).await
                }
            )*
        }
    };
}
