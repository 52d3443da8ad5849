//! The persistent, shared side of the revocation state.

use std::{fmt, future::Future, pin::Pin};

use super::{ConsumeOutcome, RevocationEntry};
use crate::error::BoxError;

/// A boxed, `Send` future, as returned by [`RevocationBackend`] methods so that the trait can
/// be used as `Arc<dyn RevocationBackend>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Persistent revocation state shared by every instance of an application.
///
/// The [`RevocationStore`](super::RevocationStore) writes through to the backend before it
/// updates its own map, and fails closed when the backend fails. `consume` must be atomic
/// across every instance (for example Redis `SET NX`, SQL `INSERT … ON CONFLICT DO
/// NOTHING`): among concurrent calls for one `jti`, exactly one may return
/// [`ConsumeOutcome::First`].
///
/// # Example
///
/// A backend that only records what it is asked (a real one talks to a database):
///
/// ```
/// use std::sync::Mutex;
/// use tower_jwt_auth::{BoxError, BoxFuture, ConsumeOutcome, RevocationBackend, RevocationEntry};
///
/// #[derive(Debug, Default)]
/// struct Log(Mutex<Vec<RevocationEntry>>);
///
/// impl RevocationBackend for Log {
///     fn revoke<'a>(&'a self, entry: &'a RevocationEntry) -> BoxFuture<'a, Result<(), BoxError>> {
///         Box::pin(async move {
///             self.0.lock().map_err(|_| "poisoned")?.push(entry.clone());
///             Ok(())
///         })
///     }
///     fn consume<'a>(
///         &'a self,
///         _jti: &'a str,
///         _sid: &'a str,
///         _used_ms: u64,
///         _expires_at: u64,
///     ) -> BoxFuture<'a, Result<ConsumeOutcome, BoxError>> {
///         Box::pin(async { Err("not shared".into()) })
///     }
///     fn load(&self, now: u64) -> BoxFuture<'_, Result<Vec<RevocationEntry>, BoxError>> {
///         Box::pin(async move {
///             let log = self.0.lock().map_err(|_| "poisoned")?;
///             Ok(log.iter().filter(|e| e.expires_at() >= now).cloned().collect())
///         })
///     }
///     fn purge_expired(&self, now: u64) -> BoxFuture<'_, Result<u64, BoxError>> {
///         Box::pin(async move {
///             let mut log = self.0.lock().map_err(|_| "poisoned")?;
///             let before = log.len();
///             log.retain(|e| e.expires_at() >= now);
///             Ok((before - log.len()) as u64)
///         })
///     }
/// }
/// ```
pub trait RevocationBackend: Send + Sync + fmt::Debug + 'static {
    /// Durably records `entry` (idempotent: recording it twice is not an error).
    fn revoke<'a>(&'a self, entry: &'a RevocationEntry) -> BoxFuture<'a, Result<(), BoxError>>;

    /// Atomically marks the refresh token `jti` of session `sid` as used at `used_ms`
    /// (milliseconds since the epoch), remembering it until `expires_at` (seconds).
    fn consume<'a>(
        &'a self,
        jti: &'a str,
        sid: &'a str,
        used_ms: u64,
        expires_at: u64,
    ) -> BoxFuture<'a, Result<ConsumeOutcome, BoxError>>;

    /// Every entry that has not expired at `now` (seconds), to fill a new store.
    fn load(&self, now: u64) -> BoxFuture<'_, Result<Vec<RevocationEntry>, BoxError>>;

    /// Deletes entries that expired before `now` (seconds); returns how many.
    fn purge_expired(&self, now: u64) -> BoxFuture<'_, Result<u64, BoxError>>;
}
