//! The README's axum program: a protected `/me`, an `/admin` that requires the `admin` scope,
//! a `/login` that starts a session, and the token endpoints under `/auth`.
//!
//! ```sh
//! cargo run --example axum   # listens on 127.0.0.1:3000 (or $ADDR)
//! ```

// The README's block, verbatim (`tests/readme.rs` checks that they agree).
include!("readme.rs");

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app()?).await?;
    Ok(())
}
