//! Sender-constrained tokens (DPoP, RFC 9449): the proof verifier, JWK thumbprints, server
//! nonces and the replay cache.
//!
//! A client proves possession of a key by sending, with each request, a `DPoP` header: a
//! JWT signed with its private key that names the request's method and URI (and the hash
//! of the access token, at a protected resource). [`ProofVerifier`] checks it and answers
//! with a [`DpopProof`], whose [`jkt`](DpopProof::jkt) is the thumbprint a DPoP-bound token
//! names in `cnf.jkt`.
//!
//! ```
//! use std::sync::Arc;
//! use tower_jwt_auth::dpop::{DpopNonces, MemoryReplayCache, ProofVerifier};
//!
//! let verifier = ProofVerifier::builder("https://api.example.com")
//!     .with_nonces(DpopNonces::new(&[7; 32])?)
//!     .with_replay_cache(Arc::new(MemoryReplayCache::new(100_000)))
//!     .build()?;
//! # let _ = verifier;
//! # Ok::<(), tower_jwt_auth::dpop::DpopConfigError>(())
//! ```

mod error;
mod htu;
mod nonce;
mod policy;
mod proof;
mod replay;
mod thumbprint;
mod verifier;

pub use error::{DpopConfigError, DpopError};
pub use nonce::DpopNonces;
pub use policy::DpopPolicy;
pub use proof::DpopProof;
pub use replay::{MemoryReplayCache, ReplayCache, ReplayKey};
pub use thumbprint::jwk_thumbprint;
pub(crate) use verifier::DPOP_NONCE;
pub use verifier::{DpopRequest, ProofVerifier, ProofVerifierBuilder};
