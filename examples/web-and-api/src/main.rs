//! `cargo run -p example-web-and-api`: the web-and-API recipe on
//! `CRUDAUTH_ADDR` (default 127.0.0.1:3000) with `DATABASE_URL` (default an
//! in-memory SQLite database); sign-in with an OpenID provider when
//! `CRUDAUTH_OIDC_ISSUER` is set (`_CLIENT_ID`, `_CLIENT_SECRET`, `_NAME`);
//! `CRUDAUTH_MFA_KEY` (32 bytes, base64) turns the second factor on;
//! `CRUDAUTH_METRICS_ADDR` serves `/metrics` (Prometheus) on its own address;
//! `CRUDAUTH_REDIS_URL` shares `rate` limits (`GET /api/limited`) with
//! every instance naming the same Redis server;
//! `CRUDAUTH_REQUIRE_MFA` (`superusers` or `all`, with `CRUDAUTH_MFA_KEY`)
//! holds such users to enrolling a second factor;
//! `CRUDAUTH_MAX_SESSIONS` caps each user's live sessions (the oldest end);
//! `CRUDAUTH_SMTP_URL` delivers the recovery mails (otherwise they are
//! logged), whose links lead back to the page at `/verify-email`,
//! `/reset-password` and `/confirm-email`.
//!
//! With a subcommand it runs crudauth's admin command on that database
//! instead of serving: `create-user [--superuser] --email E` (password on
//! standard input), `revoke-user ID`, `purge`.

use clap::Parser;
use crudauth::{CrudAuthConfig, OidcProvider};
use example_web_and_api::{app, auth_builder, connect, in_memory, serve};

/// The example server, or one admin command.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    #[command(subcommand)]
    admin: Option<crudauth::cli::Command>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let addr = std::env::var("CRUDAUTH_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite::memory:".to_owned());
    if args.admin.is_some() && in_memory(&url) {
        // SPEC section 12 runs `create-user` with the default database, so
        // the command still runs; the warning says what it is worth.
        eprintln!(
            "warning: DATABASE_URL is {url:?}, an in-memory SQLite database that ends with this command: what it writes is gone when it exits; set DATABASE_URL to a file (sqlite://app.db?mode=rwc) or a PostgreSQL URL"
        );
    }
    let db = connect(&url).await?;
    let mut config = CrudAuthConfig::from_env()?;
    // Mail links need the public origin; the example's is its own address.
    if config.smtp_url.is_some() && config.public_origin.is_none() {
        config.public_origin = Some(format!("http://{addr}"));
    }
    let public_origin = config.public_origin.clone();
    // An admin command signs nothing: without a configured key it gets a
    // throwaway one, rather than the server's warning that sessions and
    // tokens die with the process.
    if args.admin.is_some() && config.secret_key.is_none() {
        use rand::RngCore;
        let mut key = [0u8; 48];
        rand::rng().fill_bytes(&mut key);
        config.secret_key = Some(key.to_vec());
    }
    let mut builder = auth_builder(db, config);
    if let Ok(redis) = std::env::var("CRUDAUTH_REDIS_URL") {
        builder = builder.rate_limits(crudauth::RateLimitStore::Redis(redis));
    }
    if let Ok(who) = std::env::var("CRUDAUTH_REQUIRE_MFA") {
        let requirement = match who.trim() {
            "superusers" => crudauth::MfaRequirement::Superusers,
            "all" => crudauth::MfaRequirement::All,
            _ => {
                return Err(format!(
                    "CRUDAUTH_REQUIRE_MFA={who:?}: expected `superusers` or `all`"
                )
                .into());
            }
        };
        builder = builder.require_mfa(requirement);
    }
    if let Ok(cap) = std::env::var("CRUDAUTH_MAX_SESSIONS") {
        let cap = cap.trim().parse().map_err(|_| {
            format!(
                "CRUDAUTH_MAX_SESSIONS={cap:?}: expected a whole number of sessions, at least 1"
            )
        })?;
        builder = builder.max_sessions_per_user(cap);
    }
    if let Ok(issuer) = std::env::var("CRUDAUTH_OIDC_ISSUER") {
        // The provider's redirect URI is built from the public origin; a
        // local run serves at its own address.
        if public_origin.is_none() {
            builder = builder.public_origin(format!("http://{addr}"));
        }
        let name = std::env::var("CRUDAUTH_OIDC_NAME").unwrap_or_else(|_| "oidc".to_owned());
        let client_id = std::env::var("CRUDAUTH_OIDC_CLIENT_ID")
            .map_err(|_| "CRUDAUTH_OIDC_ISSUER is set: set CRUDAUTH_OIDC_CLIENT_ID too")?;
        let secret = std::env::var("CRUDAUTH_OIDC_CLIENT_SECRET").ok();
        let provider =
            OidcProvider::discover(&name, &issuer, &client_id, secret.as_deref()).await?;
        builder = builder.oidc_provider(provider);
    }
    let auth = builder.build()?;
    auth.migrate().await?;
    if let Some(command) = args.admin {
        match command.run(&auth, std::io::stdin().lock()).await {
            Ok(said) => println!("{said}"),
            Err(err) => {
                eprintln!("error: {err}");
                std::process::exit(1);
            }
        }
        return Ok(());
    }
    if let Ok(metrics_addr) = std::env::var("CRUDAUTH_METRICS_ADDR") {
        serve_metrics(&metrics_addr, auth.clone()).await?;
    }
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let shutdown = shutdown()?;
    println!("listening on http://{}", listener.local_addr()?);
    serve(listener, app(auth), shutdown).await?;
    Ok(())
}

/// `GET /metrics` in the Prometheus text format on its own listener at
/// `addr`, away from the public one: crudauth's event counters and its
/// principal cache's figures.
async fn serve_metrics(
    addr: &str,
    auth: crudauth::CrudAuth,
) -> Result<(), Box<dyn std::error::Error>> {
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("metrics on http://{}/metrics", listener.local_addr()?);
    let route = axum::routing::get(move || {
        let (auth, handle) = (auth.clone(), handle.clone());
        async move {
            auth.publish_metrics();
            handle.render()
        }
    });
    let app = axum::Router::new().route("/metrics", route);
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app).await {
            eprintln!("metrics listener: {err}");
        }
    });
    Ok(())
}

/// Installs the SIGTERM and Ctrl-C handlers at once, so that a signal that
/// arrives as soon as `listening on` is printed (a supervisor stopping a
/// fresh instance) ends the server cleanly instead of killing it; the
/// future resolves on either signal.
fn shutdown() -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {},
                _ = interrupt.recv() => {},
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
