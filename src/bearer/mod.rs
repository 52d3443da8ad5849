//! The bearer-token middleware: [`BearerAuthLayer`] wraps any tower service over
//! `http::Request`, verifies the access token of every request and either hands the typed
//! [`Claims`](crate::Claims) to the inner service (in the request extensions) or answers with
//! the RFC 6750 response itself. [`RequireScopeLayer`] adds per-route scope requirements.

mod future;
mod layer;
mod rejection;
mod scope;
mod service;
mod source;

pub use future::ResponseFuture;
pub use layer::BearerAuthLayer;
pub use rejection::{AuthError, DefaultRejection, JsonRejection, OnRejection};
pub use scope::{RequireScope, RequireScopeLayer};
pub use service::BearerAuth;

/// Inserted into the request extensions by [`BearerAuth`] on a request it lets through without
/// claims (optional mode), so that extractors can tell "no token" from "the layer is not
/// installed".
#[derive(Debug, Clone, Copy)]
pub(crate) struct Authenticated;
