//! The issuer: mints and signs access + refresh pairs (no store, no I/O).

mod builder;
mod error;
mod issue;
mod pair;

pub use builder::IssuerBuilder;
pub use error::IssueError;
pub use issue::Issuer;
pub(crate) use issue::{Grant, custom_claims};
pub use pair::TokenPair;
