//! The bearer middleware on a plain hyper 1 server, without axum.
//!
//! `BearerAuthLayer` is an ordinary tower layer: wrap any `Service<http::Request<_>>` with it
//! and hand the result to hyper through hyper-util's `TowerToHyperService`. The verified
//! claims arrive in the request extensions.
//!
//! ```sh
//! cargo run --example hyper
//! ```
//!
//! It issues an access token at start and prints a `curl` command that uses it. `ADDR`
//! (default `127.0.0.1:3001`) sets where it listens.

use std::{convert::Infallible, error::Error, sync::Arc};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::{rt::TokioIo, service::TowerToHyperService};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_jwt_auth::{BearerAuthLayer, Claims, Issuer, KeySet, Sessions, SigningKey};

/// `GET /`: greets the subject of the verified token.
async fn hello(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (status, body) = if request.uri().path() != "/" {
        (StatusCode::NOT_FOUND, "not found\n".to_owned())
    } else if request.method() != Method::GET {
        (StatusCode::METHOD_NOT_ALLOWED, "use GET\n".to_owned())
    } else {
        // The layer in front put the claims here; the handler never sees an unverified request.
        match request.extensions().get::<Arc<Claims>>() {
            Some(claims) => (StatusCode::OK, format!("hello, {}\n", claims.sub)),
            None => (StatusCode::INTERNAL_SERVER_ERROR, "no claims\n".to_owned()),
        }
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    Ok(response)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?))
        .with_issuer("hyper-example")
        .with_audience("hyper-example")
        .build()?;
    let token = Sessions::new(issuer.clone())
        .start_with_scope("alice", "read")
        .await?;

    let service = ServiceBuilder::new()
        .layer(BearerAuthLayer::new(&issuer).with_realm("hyper-example"))
        .service_fn(hello);

    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3001".to_owned());
    let listener = TcpListener::bind(&addr).await?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}");
    println!(
        "try:\n  curl -i http://{addr}/ -H 'authorization: Bearer {}'",
        token.access_token()
    );
    println!("  curl -i http://{addr}/    # no token: 401 with a Bearer challenge");

    loop {
        let (stream, _) = listener.accept().await?;
        let service = TowerToHyperService::new(service.clone());
        tokio::spawn(async move {
            if let Err(err) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                eprintln!("connection error: {err}");
            }
        });
    }
}
