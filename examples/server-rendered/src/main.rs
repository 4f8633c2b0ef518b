//! `cargo run -p example-server-rendered`: the server-rendered pages on
//! `CRUDAUTH_ADDR` (default 127.0.0.1:3000) with `DATABASE_URL` (default an
//! in-memory SQLite database); `CRUDAUTH_MFA_KEY` (32 bytes, base64) turns
//! the second factor on; `CRUDAUTH_SMTP_URL` delivers the reset mails
//! (otherwise they are logged), whose links lead to `/reset-password`.
//! The other settings are crudauth's `CrudAuthConfig::from_env()`
//! (`CRUDAUTH_SECRET_KEY`, `CRUDAUTH_INSECURE_COOKIES=1` for plain
//! `http://`, `CRUDAUTH_PUBLIC_ORIGIN`, …).

use crudauth::CrudAuthConfig;
use example_web_and_api::{auth_builder, connect, serve};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let addr = std::env::var("CRUDAUTH_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite::memory:".to_owned());
    let db = connect(&url).await?;
    let mut config = CrudAuthConfig::from_env()?;
    // Mail links need the public origin; the example's is its own address.
    if config.smtp_url.is_some() && config.public_origin.is_none() {
        config.public_origin = Some(format!("http://{addr}"));
    }
    // The web-and-API recipe's `CrudAuth` (its user table, sessions first):
    // these pages are another face on the same accounts.
    let auth = auth_builder(db, config).build()?;
    auth.migrate().await?;
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    serve(listener, example_server_rendered::app(auth), async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
