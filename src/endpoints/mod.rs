//! Tower services for the token endpoints: the refresh exchange ([`RefreshService`]),
//! RFC 7009 revocation ([`RevocationService`]), the public key set ([`JwksService`]), the
//! issuer's and the resource server's metadata ([`MetadataService`],
//! [`ProtectedResourceMetadata`]),
//! plus [`token_response`] and [`verify_dpop`] for the application's own login and signup
//! handlers.

mod body;
mod document;
mod dpop;
mod introspect;
mod jwks;
mod metadata;
mod protected_resource;
mod refresh;
mod revoke;
mod session_endpoint;

pub use crate::transport::response::{ErrorResponse, token_response};
pub use body::DEFAULT_BODY_LIMIT;
pub use dpop::verify_dpop;
pub use introspect::IntrospectionService;
pub use jwks::JwksService;
pub use metadata::MetadataService;
pub use protected_resource::{ProtectedResourceMetadata, ProtectedResourceMetadataBuilder};
pub use refresh::{Refresh, RefreshService};
pub use revoke::{RevocationService, Revoke};
pub use session_endpoint::{Operation, SessionService};
