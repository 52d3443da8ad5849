//! The bearer-token middleware: [`BearerAuthLayer`] wraps any tower service over
//! `http::Request`, verifies the access token of every request and either hands the typed
//! [`Claims`](crate::Claims) to the inner service (in the request extensions, as an
//! `Arc<Claims<T>>`) or answers with the RFC 6750 response itself.
//! [`BearerAuthLayer::require_scope`], [`require_any_scope`](BearerAuthLayer::require_any_scope),
//! [`require`](BearerAuthLayer::require) and [`check`](BearerAuthLayer::check) make the layer
//! of the routes that need scopes or a rule on the claims. Tokens
//! that verified once are kept by the layer's verified-token cache (see [`BearerAuthLayer`]).
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
pub use layer::{BearerAuthLayer, DpopPolicy};
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
