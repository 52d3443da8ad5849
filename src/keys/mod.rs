//! Keys, algorithms and the key set: signing key, verification keys by `kid`, JWK import and
//! export.
//!
//! Every key is pinned to exactly one [`Algorithm`] when it is loaded. A token is only ever
//! verified with the algorithm its key is pinned to, whatever its header says, so `alg: none`,
//! HMAC-with-a-public-key confusion and algorithm substitution cannot happen. Keys are parsed
//! once, when they are loaded; verifying a token does no key parsing and no allocation.
//!
//! With the feature `remote-jwks`, `RemoteJwks` feeds a resource server's verify-only
//! [`KeySet`] from another issuer's JWKS, fetched over HTTPS and kept fresh.

mod algorithm;
mod crypto;
#[cfg(feature = "remote-jwks")]
mod discovery;
mod error;
mod jwk;
mod public;
#[cfg(feature = "remote-jwks")]
mod remote;
mod set;
mod signing;
#[cfg(feature = "remote-jwks")]
mod unknown_kid;
mod verifying;

pub use algorithm::Algorithm;
pub use error::KeyError;
pub use jwk::{Jwk, JwkSet};
#[cfg(feature = "remote-jwks")]
pub use remote::{RemoteJwks, RemoteJwksBuilder, RemoteJwksError};
pub use set::KeySet;
pub(crate) use set::Keys;
pub use signing::SigningKey;
pub use verifying::VerifyingKey;
