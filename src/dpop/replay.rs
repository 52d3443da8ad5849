//! The replay cache: each (`jkt`, `jti`) pair accepted once within its window
//! (RFC 9449 §11.1).

use std::{fmt, future::ready};

use dashmap::DashMap;

use crate::{
    crypto::digest,
    store::{BoxError, BoxFuture},
};

/// The identity of one proof in a [`ReplayCache`]: SHA-256 of its key thumbprint and its
/// `jti`, so that every entry has the same small size whatever the client sent.
///
/// ```
/// use tower_jwt_auth::dpop::ReplayKey;
///
/// let a = ReplayKey::new("jkt-1", "jti-1");
/// assert_eq!(a, ReplayKey::new("jkt-1", "jti-1"));
/// assert_ne!(a, ReplayKey::new("jkt-1j", "ti-1"));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReplayKey([u8; 32]);

impl ReplayKey {
    /// The key of the proof with thumbprint `jkt` and identifier `jti`.
    ///
    /// ```
    /// use tower_jwt_auth::dpop::ReplayKey;
    ///
    /// assert_eq!(ReplayKey::new("a", "b").as_bytes().len(), 32);
    /// ```
    pub fn new(jkt: &str, jti: &str) -> Self {
        let mut ctx = digest::Context::new(&digest::SHA256);
        // The length first: ("ab", "c") and ("a", "bc") never collide.
        ctx.update(&(jkt.len() as u64).to_be_bytes());
        ctx.update(jkt.as_bytes());
        ctx.update(jti.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        Self(out)
    }

    /// The 32 bytes of the key.
    ///
    /// ```
    /// use tower_jwt_auth::dpop::ReplayKey;
    ///
    /// let key = ReplayKey::new("a", "b");
    /// assert_ne!(key.as_bytes(), &[0; 32]);
    /// ```
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// The 32 bytes as 64 lower-case hexadecimal digits: the one text form of a key, as the
/// shared caches name their entries. It is a digest: it tells nothing of the proof.
///
/// ```
/// use tower_jwt_auth::dpop::ReplayKey;
///
/// let text = ReplayKey::new("jkt", "jti").to_string();
/// assert_eq!(text.len(), 64);
/// assert!(text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
/// ```
impl fmt::Display for ReplayKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ReplayKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReplayKey(")?;
        for b in &self.0[..4] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "…)")
    }
}

/// Where accepted proofs are remembered until they expire, so that each is accepted once.
/// Shared by every instance of a service when the implementation is (an in-memory cache
/// protects one process only).
///
/// Usable as `Arc<dyn ReplayCache>`. An error refuses the proof: the cache fails closed.
///
/// ```
/// use tower_jwt_auth::{
///     dpop::{ReplayCache, ReplayKey},
///     store::{BoxError, BoxFuture},
/// };
///
/// /// A cache that refuses everything: never a wrong acceptance.
/// #[derive(Debug)]
/// struct Closed;
///
/// impl ReplayCache for Closed {
///     fn first_use<'a>(
///         &'a self,
///         _key: &'a ReplayKey,
///         _now_millis: u64,
///         _expires_at_millis: u64,
///     ) -> BoxFuture<'a, Result<bool, BoxError>> {
///         Box::pin(async { Err("closed".into()) })
///     }
/// }
/// ```
pub trait ReplayCache: Send + Sync + fmt::Debug + 'static {
    /// Records `key` until `expires_at_millis` (milliseconds since the Unix epoch) and
    /// answers `true`, unless it is already recorded and not expired at `now_millis`: then
    /// `false`, a replay. The check and the record are one atomic step.
    fn first_use<'a>(
        &'a self,
        key: &'a ReplayKey,
        now_millis: u64,
        expires_at_millis: u64,
    ) -> BoxFuture<'a, Result<bool, BoxError>>;
}

/// The replay cache refused to record a proof because it is full of unexpired entries.
#[derive(Debug, thiserror::Error)]
#[error("the replay cache is full of unexpired entries")]
struct Full;

/// A [`ReplayCache`] in this process's memory, for a single instance: a sharded map from
/// [`ReplayKey`] to expiry, **bounded** by a number of entries.
///
/// When it is full, the expired entries are dropped; if it is still full, the proof is
/// refused (it **fails closed**: an unexpired entry is never evicted, since that would let
/// its proof be replayed). Each entry takes about 48 bytes plus the map's overhead: the
/// default of 1,000,000 entries holds a minute of proofs at more than 16,000 requests a
/// second in under 100 MB.
///
/// ```
/// use tower_jwt_auth::dpop::{MemoryReplayCache, ReplayCache, ReplayKey};
///
/// # tokio_test_block_on(async {
/// let cache = MemoryReplayCache::new(10_000);
/// let key = ReplayKey::new("jkt", "jti");
/// assert!(cache.first_use(&key, 1_000, 61_000).await?);
/// assert!(!cache.first_use(&key, 2_000, 62_000).await?);
/// // Once expired, the entry no longer counts.
/// assert!(cache.first_use(&key, 61_001, 121_001).await?);
/// # Ok::<(), tower_jwt_auth::store::BoxError>(())
/// # })?;
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// # Ok::<(), tower_jwt_auth::store::BoxError>(())
/// ```
pub struct MemoryReplayCache {
    entries: DashMap<ReplayKey, u64>,
    capacity: usize,
}

impl fmt::Debug for MemoryReplayCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryReplayCache")
            .field("len", &self.entries.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl Default for MemoryReplayCache {
    /// A cache of 1,000,000 entries.
    fn default() -> Self {
        Self::new(1_000_000)
    }
}

impl MemoryReplayCache {
    /// A cache of at most `capacity` unexpired entries (at least 1).
    ///
    /// ```
    /// use tower_jwt_auth::dpop::MemoryReplayCache;
    ///
    /// let cache = MemoryReplayCache::new(100_000);
    /// assert!(cache.is_empty());
    /// ```
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: DashMap::new(),
            capacity: capacity.max(1),
        }
    }

    /// The number of entries, expired ones not yet dropped included.
    ///
    /// ```
    /// use tower_jwt_auth::dpop::MemoryReplayCache;
    ///
    /// assert_eq!(MemoryReplayCache::new(10).len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// `true` when the cache holds no entry.
    ///
    /// ```
    /// use tower_jwt_auth::dpop::MemoryReplayCache;
    ///
    /// assert!(MemoryReplayCache::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drops the entries expired at `now_millis`; returns how many.
    pub(crate) fn purge(&self, now_millis: u64) -> usize {
        let before = self.entries.len();
        self.entries.retain(|_, expiry| *expiry > now_millis);
        before.saturating_sub(self.entries.len())
    }

    fn record(&self, key: &ReplayKey, now: u64, expires_at: u64) -> Result<bool, BoxError> {
        // The length is read without any shard lock held (the entry below takes one): under
        // concurrent inserts the bound may be passed by at most one entry per thread.
        if !self.entries.contains_key(key) && self.entries.len() >= self.capacity {
            self.entries.retain(|_, expiry| *expiry > now);
            if self.entries.len() >= self.capacity {
                return Err(Box::new(Full));
            }
        }
        match self.entries.entry(*key) {
            dashmap::Entry::Occupied(mut seen) => {
                if *seen.get() > now {
                    return Ok(false);
                }
                seen.insert(expires_at);
            }
            dashmap::Entry::Vacant(slot) => {
                slot.insert(expires_at);
            }
        }
        Ok(true)
    }
}

impl ReplayCache for MemoryReplayCache {
    fn first_use<'a>(
        &'a self,
        key: &'a ReplayKey,
        now_millis: u64,
        expires_at_millis: u64,
    ) -> BoxFuture<'a, Result<bool, BoxError>> {
        Box::pin(ready(self.record(key, now_millis, expires_at_millis)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_accepted_once_until_it_expires() {
        let cache = MemoryReplayCache::new(10);
        let key = ReplayKey::new("jkt", "jti");
        assert!(cache.record(&key, 0, 1_000).unwrap());
        assert!(!cache.record(&key, 999, 2_000).unwrap());
        // A replay does not extend the entry.
        assert!(cache.record(&key, 1_000, 2_000).unwrap());
        assert!(
            cache
                .record(&ReplayKey::new("jkt", "other"), 0, 1_000)
                .unwrap()
        );
    }

    #[test]
    fn a_full_cache_drops_expired_entries_then_fails_closed() {
        let cache = MemoryReplayCache::new(2);
        assert!(cache.record(&ReplayKey::new("k", "1"), 0, 100).unwrap());
        assert!(cache.record(&ReplayKey::new("k", "2"), 0, 1_000).unwrap());
        // Full: "1" has expired at 500 and makes room.
        assert!(cache.record(&ReplayKey::new("k", "3"), 500, 1_500).unwrap());
        assert_eq!(cache.len(), 2);
        // Full of unexpired entries: refused, and nothing is evicted.
        assert!(cache.record(&ReplayKey::new("k", "4"), 600, 1_600).is_err());
        assert!(!cache.record(&ReplayKey::new("k", "2"), 600, 1_600).unwrap());
        assert!(!cache.record(&ReplayKey::new("k", "3"), 600, 1_600).unwrap());
    }

    #[test]
    fn purge_drops_only_expired_entries() {
        let cache = MemoryReplayCache::new(10);
        assert!(cache.record(&ReplayKey::new("k", "1"), 0, 100).unwrap());
        assert!(cache.record(&ReplayKey::new("k", "2"), 0, 200).unwrap());
        assert_eq!(cache.purge(100), 1);
        assert_eq!(cache.len(), 1);
        assert!(!cache.record(&ReplayKey::new("k", "2"), 150, 300).unwrap());
    }

    #[test]
    fn the_text_form_is_the_bytes_in_hex() {
        let key = ReplayKey::new("jkt", "jti");
        let hex: String = key.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(key.to_string(), hex);
    }

    #[test]
    fn keys_separate_the_thumbprint_from_the_jti() {
        assert_ne!(ReplayKey::new("ab", "c"), ReplayKey::new("a", "bc"));
        assert!(!format!("{:?}", ReplayKey::new("secret-jkt", "jti")).contains("secret"));
    }
}
