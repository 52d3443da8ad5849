//! The bearer-token middleware: [`BearerAuthLayer`] wraps any tower service over
//! `http::Request`, verifies the access token of every request and either hands the typed
//! [`Claims`](crate::Claims) to the inner service (in the request extensions, as an
//! `Arc<Claims<T>>`) or answers with the RFC 6750 response itself.
//! [`BearerAuthLayer::require_scope`], [`require_any_scope`](BearerAuthLayer::require_any_scope),
//! [`require`](BearerAuthLayer::require) and [`check`](BearerAuthLayer::check) make the layer
//! of the routes that need scopes or a rule on the claims. Tokens
//! that verified once are kept by the layer's verified-token cache (see [`BearerAuthLayer`]).
//!
//! # DPoP: sender-constrained tokens
//!
//! [`BearerAuthLayer::with_dpop`] makes the layer take DPoP-bound tokens (RFC 9449 §7):
//! `Authorization: DPoP <token>` with a `DPoP` proof header, checked by a
//! [`ProofVerifier`](crate::dpop::ProofVerifier) on every request (cached tokens included) and
//! recorded in its replay cache. A token with `cnf` is never accepted as a bearer token, by
//! any layer; [`DpopPolicy`](crate::dpop::DpopPolicy) says whether tokens without `cnf` still are.
//!
//! ```
//! use http::Request;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use tower_jwt_auth::{
//!     BearerAuthLayer, Issuer, KeySet, SigningKey, dpop::{DpopPolicy, ProofVerifier},
//! };
//!
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
//! let proofs = ProofVerifier::builder("https://api.example.com").build()?;
//! let auth = BearerAuthLayer::new(&issuer).with_dpop(proofs, DpopPolicy::Optional);
//! let service = ServiceBuilder::new().layer(auth).service(service_fn(|_: Request<()>| async {
//!     Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
//! }));
//! // A request without credentials learns both schemes, and the proof algorithms.
//! let refused = service.oneshot(Request::get("/items").body(())?).await?;
//! let challenges: Vec<_> = refused.headers().get_all("www-authenticate").iter().collect();
//! assert_eq!(challenges, ["Bearer", r#"DPoP algs="ES256 EdDSA""#]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Composing with tower-http
//!
//! The middleware answers with its own [`ResponseBody`], so any inner service fits, tower-http's
//! compression and tracing included. It marks `Authorization` (and the token cookie) as
//! sensitive, but only from where it sits inward; a `TraceLayer` placed outside it logs what
//! it sees first. Order a stack from the outside in:
//!
//! 1. `SetSensitiveRequestHeadersLayer::new([AUTHORIZATION, COOKIE])`, outermost, so that no
//!    layer ever sees the token as a plain header value;
//! 2. `TraceLayer`, `CompressionLayer`, …;
//! 3. `CorsLayer`, outside the authentication, so that preflight requests (which carry no
//!    token) are answered;
//! 4. [`BearerAuthLayer`] (axum: `route_layer`, so that unknown paths stay 404).

mod body;
mod cache;
mod future;
#[cfg(feature = "remote-jwks")]
mod introspection;
mod layer;
mod rejection;
mod rules;
mod service;
mod source;

pub use body::ResponseBody;
pub use future::ResponseFuture;
#[cfg(feature = "remote-jwks")]
pub use introspection::{IntrospectionError, Introspector, IntrospectorBuilder};
pub use layer::BearerAuthLayer;
pub use rejection::{AuthError, DefaultRejection, Denied, EmptyBodyRejection, OnRejection};
pub use service::BearerAuth;

/// Inserted into the request extensions by [`BearerAuth`] on a request it lets through without
/// claims (optional mode), so that extractors can tell "no token" from "the layer is not
/// installed".
#[derive(Debug, Clone, Copy)]
pub(crate) struct Authenticated;

/// Put in its response's extensions by a claims extractor that refused an anonymous request
/// (401): the optional layer the request passed replaces the challenge with its own (realm,
/// resource metadata).
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(feature = "axum"), allow(dead_code))]
pub(crate) struct AnonymousRefused;
