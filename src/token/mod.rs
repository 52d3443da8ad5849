//! Tokens: their kinds, their claims, the compact JWS they travel in, and the [`Verifier`] that
//! checks them.

#[cfg(any(test, feature = "test-util"))]
mod builder;
mod claims;
mod error;
pub(crate) mod jws;
mod kind;
#[cfg(any(test, feature = "test-util"))]
mod signature_only;
mod verifier;

pub use crate::config::DEFAULT_MAX_TOKEN_LEN;
#[cfg(any(test, feature = "test-util"))]
pub use builder::ClaimsBuilder;
pub use claims::{Claims, Confirmation, NoCustomClaims};
pub(crate) use claims::{OutClaims, OutConfirmation, REGISTERED};
pub use error::TokenError;
pub use kind::TokenKind;
#[cfg(any(test, feature = "test-util"))]
pub use signature_only::{verify_signature_only, verify_signature_only_with_key};
pub use verifier::{Verifier, VerifierBuilder};
