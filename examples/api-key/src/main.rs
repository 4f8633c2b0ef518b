//! `cargo run -p example-api-key`: API keys beside sessions and bearer tokens,
//! on `CRUDAUTH_ADDR` (default 127.0.0.1:3000) with `DATABASE_URL`.

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::var("CRUDAUTH_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite::memory:".to_owned());
    let auth = example_api_key::setup(&url, crudauth::CrudAuthConfig::from_env()?).await?;
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    example_web_and_api::serve(listener, example_api_key::app(auth), async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
