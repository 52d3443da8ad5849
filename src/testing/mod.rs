//! A testing kit for applications (feature `test-util`): [`TestEnv`], an issuer, sessions and
//! a bearer layer on a [`MockClock`](crate::clock::MockClock) in one call, and
//! [`TestClient`], which sends requests to any tower service (an axum `Router` included)
//! and keeps the cookies it is given, as a browser would.
//!
//! ```
//! use axum::{Router, routing::get};
//! use tower_jwt_auth::{Claims, testing::{TestClient, TestEnv}};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build()?.block_on(async {
//! let env = TestEnv::new()?;
//! let app: Router = Router::new()
//!     .route("/me", get(|claims: Claims| async move { claims.sub }))
//!     .route_layer(env.layer());
//! let client = TestClient::new(app);
//! let pair = env.login("alice").await?;
//!
//! let me = client.get("/me").bearer(pair.access_token()).send().await?;
//! assert_eq!((me.status().as_u16(), me.text().as_str()), (200, "alice"));
//! env.advance(env.access_ttl());
//! assert_eq!(client.get("/me").bearer(pair.access_token()).send().await?.status(), 401);
//! # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
//! ```

mod client;
mod env;
mod jar;

pub use client::{TestClient, TestRequest, TestResponse};
pub use env::TestEnv;
