//! [`RevocationStore::replay_cache`]: the DPoP replay cache of the store's backend, behind
//! the store's time limit and failure reporting.

use super::*;
use crate::dpop::ReplayKey;

impl RevocationStore {
    /// The DPoP replay cache shared by every instance over this store's backend, for a
    /// [`ProofVerifier`](crate::dpop::ProofVerifier): the backend's own
    /// ([`RevocationBackend::replay_cache`]: in the shared state for Redis, PostgreSQL and
    /// SQLite, in the [`MemoryBackend`]), or, for a backend that keeps none, a bounded
    /// [`MemoryReplayCache`] of this store (one per store, shared by its clones: it protects
    /// this process only).
    ///
    /// Each check passes through the store like every other backend call: bounded by its
    /// [time limit](RevocationStoreBuilder::with_backend_timeout), its failure reported once,
    /// and refused when it fails or is late (fail closed: a proof is never accepted without
    /// its record). Every call returns a handle onto the same cache.
    ///
    /// A [read-only](RevocationStoreBuilder::read_only) store records proofs too: a proof is
    /// the one thing a follower writes, so that a replay is refused whichever instance saw
    /// the proof first. Its credentials then need to write proofs (on PostgreSQL `GRANT
    /// SELECT, INSERT, UPDATE ON PREFIXdpop_proofs`; on Redis `SET` on the keys
    /// `PREFIX:p:*`); without that grant every proof is refused (with an error, never
    /// accepted), and a verifier that should accept them needs a cache of its own (a
    /// [`MemoryReplayCache`] protects one process).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tower_jwt_auth::{
    ///     dpop::{ProofVerifier, ReplayKey},
    ///     store::{MemoryBackend, RevocationStore},
    /// };
    ///
    /// let shared = Arc::new(MemoryBackend::new());
    /// let a = RevocationStore::builder().with_backend(shared.clone()).build()?;
    /// let b = RevocationStore::builder().with_backend(shared).build()?;
    /// let verifier = ProofVerifier::builder("https://api.example.com")
    ///     .with_replay_cache(a.replay_cache())
    ///     .build()?;
    /// # let _ = verifier;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build()?.block_on(async {
    /// // A proof seen by one instance is a replay on the other.
    /// let key = ReplayKey::new("jkt", "jti");
    /// assert!(a.replay_cache().first_use(&key, 1_000, 61_000).await?);
    /// assert!(!b.replay_cache().first_use(&key, 2_000, 61_000).await?);
    /// # Ok::<(), tower_jwt_auth::store::BoxError>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn replay_cache(&self) -> Arc<dyn ReplayCache> {
        Arc::new(StoreReplayCache {
            store: self.clone(),
        })
    }
}

/// What [`RevocationStore::replay_cache`] hands out.
struct StoreReplayCache {
    store: RevocationStore,
}

impl fmt::Debug for StoreReplayCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreReplayCache")
            .field("cache", &self.store.inner.replay)
            .field("timeout", &self.store.inner.backend_timeout)
            .finish()
    }
}

impl ReplayCache for StoreReplayCache {
    fn first_use<'a>(
        &'a self,
        key: &'a ReplayKey,
        now_millis: u64,
        expires_at_millis: u64,
    ) -> BoxFuture<'a, Result<bool, BoxError>> {
        Box::pin(async move {
            let check = self
                .store
                .inner
                .replay
                .first_use(key, now_millis, expires_at_millis);
            self.store
                .call("dpop_first_use", check)
                .await
                .map_err(|err| Box::new(err) as BoxError)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{LiveSession, NewSession, RotateOutcome, Rotation};

    /// The in-process backend without its replay cache, as a custom backend may be.
    #[derive(Debug, Default)]
    struct NoCache(MemoryBackend);

    impl RevocationBackend for NoCache {
        fn create_session<'a>(
            &'a self,
            s: &'a NewSession<'a>,
        ) -> BoxFuture<'a, Result<(), BoxError>> {
            self.0.create_session(s)
        }
        fn rotate<'a>(
            &'a self,
            r: &'a Rotation<'a>,
        ) -> BoxFuture<'a, Result<RotateOutcome, BoxError>> {
            self.0.rotate(r)
        }
        fn revoke<'a>(&'a self, e: &'a RevocationEntry) -> BoxFuture<'a, Result<(), BoxError>> {
            self.0.revoke(e)
        }
        fn load(&self, now: u64) -> BoxFuture<'_, Result<Vec<RevocationEntry>, BoxError>> {
            self.0.load(now)
        }
        fn subscribe(&self) -> BoxFuture<'_, Result<ChangeStream, BoxError>> {
            self.0.subscribe()
        }
        fn purge(&self, now: u64) -> BoxFuture<'_, Result<u64, BoxError>> {
            self.0.purge(now)
        }
        fn heartbeat<'a>(&'a self, b: &'a Heartbeat) -> BoxFuture<'a, Result<(), BoxError>> {
            self.0.heartbeat(b)
        }
        fn list_sessions<'a>(
            &'a self,
            sub: &'a str,
            now: u64,
        ) -> BoxFuture<'a, Result<Vec<LiveSession>, BoxError>> {
            self.0.list_sessions(sub, now)
        }
    }

    #[tokio::test]
    async fn a_backend_without_a_replay_cache_gets_one_per_store() {
        let backend: Arc<dyn RevocationBackend> = Arc::new(NoCache::default());
        let a = RevocationStore::builder()
            .with_backend(backend.clone())
            .build()
            .unwrap();
        let b = RevocationStore::builder()
            .with_backend(backend)
            .build()
            .unwrap();
        let key = ReplayKey::new("jkt", "jti");
        assert!(a.replay_cache().first_use(&key, 0, 60_000).await.unwrap());
        // The store's clones and every handle it gives share its cache...
        assert!(
            !a.clone()
                .replay_cache()
                .first_use(&key, 1, 60_000)
                .await
                .unwrap()
        );
        // ...which protects its own process only.
        assert!(b.replay_cache().first_use(&key, 2, 60_000).await.unwrap());
    }

    #[tokio::test]
    async fn a_store_of_its_own_keeps_proofs_in_its_backend() {
        let store = RevocationStore::new();
        let key = ReplayKey::new("jkt", "jti");
        let cache = store.replay_cache();
        assert!(cache.first_use(&key, 0, 60_000).await.unwrap());
        assert!(
            !store
                .replay_cache()
                .first_use(&key, 1, 60_000)
                .await
                .unwrap()
        );
        assert!(!format!("{cache:?}").contains("jkt"));
    }
}
