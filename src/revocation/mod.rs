//! Revocation state: session records, a deny-list of tokens, sessions and subjects, and the
//! contract of the backends that share them between instances.
//!
//! [`RevocationStore`] keeps the deny-list in concurrent in-memory maps that the verifier
//! reads on every request without locking or awaiting. A [`RevocationBackend`] holds the
//! session records and the shared deny-list; writes go to the backend first, so when it fails
//! the operation fails and nothing is half-done. [`MemoryBackend`] is the in-process one;
//! `RedisBackend` (feature `redis`) shares the state through Redis.

mod backend;
#[cfg(any(test, feature = "test-util"))]
pub mod conformance;
mod deny;
mod entry;
mod error;
mod memory;
mod record;
#[cfg(feature = "redis")]
mod redis;
mod store;

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::redis::{RedisBackend, RedisBackendBuilder, RedisBackendError};
pub use backend::{BoxFuture, ChangeStream, RevocationBackend};
pub use entry::RevocationEntry;
pub use error::{BoxError, RevocationError};
pub use memory::MemoryBackend;
pub use record::{NewSession, RotateOutcome, Rotation};
pub use store::{RevocationStore, RevocationStoreBuilder};
