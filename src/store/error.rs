//! [`RevocationError`]: the revocation state could not be read or written.

use std::error::Error as StdError;

/// A boxed error from a revocation backend or a refresh hook, kept with its source chain.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// The revocation state could not be read or written; the operation failed closed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RevocationError {
    /// The persistent backend failed; the cause is kept as the source.
    #[error("revocation backend failed")]
    Backend(#[source] BoxError),
}
