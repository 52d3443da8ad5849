//! A resource server: it issues no token and holds no secret. It protects its routes with the
//! access tokens of another issuer, whose public keys it fetches from that issuer's JWKS and
//! keeps fresh in the background (rotation included) with `keys::RemoteJwks`.
//!
//! ```sh
//! cargo run -p quickstart       # the issuer, on 127.0.0.1:3000; log in there
//! cargo run --example resource_server --features remote-jwks     # on 127.0.0.1:3002
//! curl -s 127.0.0.1:3002/me -H "authorization: Bearer $AT"       # a quickstart access token
//! ```
//!
//! `JWKS_URL` (default: the quickstart's, `http://127.0.0.1:3000/.well-known/jwks.json`) names
//! the issuer's JWKS: `https`, or `http` on a loopback address; `ADDR` (default
//! `127.0.0.1:3002`) sets where it listens. The tokens must name the quickstart as `iss` and
//! its API as `aud`.

use axum::{Json, Router, routing::get};
use tower_jwt_auth::{BearerAuthLayer, Claims, Verifier, keys::RemoteJwks};

async fn me(claims: Claims) -> Json<String> {
    Json(claims.sub)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let var = |name, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    let jwks_url = var("JWKS_URL", "http://127.0.0.1:3000/.well-known/jwks.json");
    let jwks = RemoteJwks::builder(jwks_url)
        .allow_http_loopback()
        .build()?;
    if let Err(err) = jwks.refresh_now().await {
        eprintln!("no keys yet ({err}): tokens are refused until a retry succeeds");
    }
    let verifier = Verifier::builder(jwks.keys())
        .with_issuer("quickstart")
        .with_audience("quickstart-api")
        .build()?;
    tokio::spawn(jwks.run());
    let app = Router::new()
        .route("/me", get(me))
        .route_layer(BearerAuthLayer::new(verifier));
    let listener = tokio::net::TcpListener::bind(var("ADDR", "127.0.0.1:3002")).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
