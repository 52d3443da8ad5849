//! Tokens: their kinds, their claims, the compact JWS they travel in, and the [`Verifier`] that
//! checks them.

#[cfg(any(test, feature = "test-util"))]
mod builder;
mod claims;
mod error;
pub(crate) mod jws;
mod kind;
mod verifier;

pub use crate::config::DEFAULT_MAX_TOKEN_LEN;
#[cfg(any(test, feature = "test-util"))]
pub use builder::ClaimsBuilder;
pub use claims::{Claims, NoCustomClaims};
pub(crate) use claims::{OutClaims, REGISTERED};
pub use error::TokenError;
pub use kind::TokenKind;
pub use verifier::{Verifier, VerifierBuilder};
