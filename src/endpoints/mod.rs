//! Tower services for the token endpoints: the refresh exchange ([`RefreshService`]),
//! RFC 7009 revocation ([`RevocationService`]) and the public key set ([`JwksService`]),
//! plus [`token_response`] for the application's own login and signup handlers.

mod body;
mod introspect;
mod jwks;
mod metadata;
mod refresh;
mod revoke;
mod session_endpoint;

pub use crate::transport::response::{ErrorResponse, token_response};
pub use body::DEFAULT_BODY_LIMIT;
pub use introspect::IntrospectionService;
pub use jwks::JwksService;
pub use metadata::MetadataService;
pub use refresh::{Refresh, RefreshService};
pub use revoke::{RevocationService, Revoke};
pub use session_endpoint::{Operation, SessionService};
