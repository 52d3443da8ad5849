//! A resource server: it issues no token and holds no secret. It protects its routes with the
//! access tokens of another issuer, known by its URL alone: `keys::RemoteJwks::discover` reads
//! the issuer's metadata (OpenID Connect discovery, else RFC 8414) to find its JWKS, and keeps
//! the keys fresh in the background (rotation included).
//!
//! ```sh
//! cargo run -p quickstart       # the issuer, on 127.0.0.1:3000; log in there
//! cargo run --example resource_server --features remote-jwks     # on 127.0.0.1:3002
//! curl -s 127.0.0.1:3002/me -H "authorization: Bearer $AT"       # a quickstart access token
//! ```
//!
//! `ISSUER_URL` (default: the quickstart's, `http://127.0.0.1:3000`) names the issuer, as its
//! tokens' `iss` does: `https`, or `http` on a loopback address; `ADDR` (default
//! `127.0.0.1:3002`) sets where it listens. The tokens must name the quickstart's API as `aud`.

use axum::{Json, Router, routing::get};
use tower_jwt_auth::{BearerAuthLayer, Claims, Verifier, keys::RemoteJwks};

async fn me(claims: Claims) -> Json<String> {
    Json(claims.sub)
}

pub(crate) async fn routes(issuer_url: &str) -> Result<Router, Box<dyn std::error::Error>> {
    let jwks = RemoteJwks::discover(issuer_url)
        .allow_http_loopback()
        .build()?;
    if let Err(err) = jwks.refresh_now().await {
        eprintln!("no keys yet ({err}): tokens are refused until a retry succeeds");
    }
    let verifier = Verifier::builder(jwks.keys())
        .with_issuer(issuer_url)
        .with_audience("quickstart-api")
        .build()?;
    tokio::spawn(jwks.run());
    let auth = BearerAuthLayer::new(verifier);
    Ok(Router::new().route("/me", get(me)).route_layer(auth))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let var = |name, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    let app = routes(&var("ISSUER_URL", "http://127.0.0.1:3000")).await?;
    let listener = tokio::net::TcpListener::bind(var("ADDR", "127.0.0.1:3002")).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
