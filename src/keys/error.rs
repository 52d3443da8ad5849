//! [`KeyError`]: why a key could not be loaded.

use super::Algorithm;

/// Why a key could not be loaded or a key set could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key material could not be parsed for the algorithm it was loaded for.
    #[error("invalid {algorithm} key: {reason}")]
    InvalidKey {
        /// The algorithm the key was loaded for.
        algorithm: Algorithm,
        /// What was wrong with it.
        reason: &'static str,
    },
    /// An HMAC secret shorter than the hash output (RFC 7518 §3.2).
    #[error("{algorithm} secret is {len} bytes; at least {min} are required")]
    SecretTooShort {
        /// The HMAC algorithm.
        algorithm: Algorithm,
        /// The length given.
        len: usize,
        /// The minimum length for this algorithm.
        min: usize,
    },
    /// The key's algorithm family cannot be used with the requested algorithm.
    #[error("a {family} key cannot be used for {algorithm}")]
    WrongAlgorithm {
        /// The requested algorithm.
        algorithm: Algorithm,
        /// The family of key that was given.
        family: &'static str,
    },
    /// A `kid` that is empty, too long or not printable ASCII.
    #[error("invalid key id: {0}")]
    InvalidKid(&'static str),
    /// Two keys of one set share a `kid`.
    #[error("duplicate key id {0:?}")]
    DuplicateKid(String),
    /// The system's random number generator failed.
    #[error("the system random number generator failed")]
    Rng,
    /// An `alg` this crate does not implement (`none` included).
    #[error("unsupported algorithm")]
    UnsupportedAlgorithm,
    /// A JWK without `alg` whose key type allows several algorithms (`RSA`, `oct`).
    #[error("the JWK names no `alg` and its key type allows several algorithms")]
    AmbiguousAlgorithm,
    /// The operation would remove or replace the key that signs.
    #[error("key id {0:?} is the signing key")]
    SigningKeyInUse(String),
}

/// A key that could not be parsed for `algorithm`.
pub(super) fn invalid(algorithm: Algorithm, reason: &'static str) -> KeyError {
    KeyError::InvalidKey { algorithm, reason }
}
