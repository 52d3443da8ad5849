//! Revocation state: a deny-list of tokens, sessions and subjects, and the record of consumed
//! refresh tokens.
//!
//! [`RevocationStore`] keeps the state in concurrent in-memory maps that the verifier reads on
//! every request without locking or awaiting. A [`RevocationBackend`] makes the state
//! persistent and shared between instances; writes go to the backend first, so when it fails
//! the operation fails and nothing is half-done.

mod backend;
mod entry;
mod store;

pub use backend::{BoxFuture, RevocationBackend};
pub use entry::{ConsumeOutcome, RevocationEntry};
pub use store::RevocationStore;
