//! Revocation state: session records, a deny-list of tokens, sessions and subjects, and the
//! contract of the backends that share them between instances.
//!
//! [`RevocationStore`] keeps the deny-list in concurrent in-memory maps that the verifier
//! reads on every request without locking or awaiting. A [`RevocationBackend`] holds the
//! session records and the shared deny-list; writes go to the backend first, so when it fails
//! the operation fails and nothing is half-done. [`MemoryBackend`] is the in-process one;
//! `RedisBackend` (feature `redis`) shares the state through Redis; `PostgresBackend`
//! (feature `postgres`) and `SqliteBackend` (feature `sqlite`) keep it in a database.

mod backend;
#[cfg(any(test, feature = "test-util"))]
pub mod conformance;
mod deny;
mod entry;
mod error;
mod local;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
mod record;
#[cfg(feature = "redis")]
mod redis;
#[cfg(any(feature = "postgres", feature = "sqlite"))]
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::redis::{RedisBackend, RedisBackendBuilder};
pub use backend::{BoxFuture, Change, ChangeStream, Heartbeat, RevocationBackend};
pub use entry::RevocationEntry;
pub use error::{BackendError, BoxError, RevocationError};
pub use local::{RevocationStore, RevocationStoreBuilder};
pub use memory::MemoryBackend;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use postgres::{PostgresBackend, PostgresBackendBuilder};
pub use record::{LiveSession, NewSession, RotateOutcome, Rotation};
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::{SqliteBackend, SqliteBackendBuilder};
