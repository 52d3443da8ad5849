//! [`RevocationStoreBuilder`]: the backend, clock, purge interval, time limit and staleness
//! bound of a [`RevocationStore`].

use super::{follow::random_u64, *};

/// The default purge interval.
const PURGE_EVERY: Duration = Duration::from_secs(60);

/// The default time limit of one backend call.
const BACKEND_TIMEOUT: Duration = Duration::from_secs(2);

/// The shortest time limit of a backend call accepted.
const MIN_BACKEND_TIMEOUT: Duration = Duration::from_millis(10);

/// The default staleness bound.
const MAX_STALENESS: Duration = Duration::from_secs(3);

/// The smallest staleness bound accepted (a heartbeat every 100 ms).
const MIN_STALENESS: Duration = Duration::from_millis(300);

impl RevocationStore {
    /// A builder, to share a backend between instances or to set the clock.
    ///
    /// ```
    /// use std::{sync::Arc, time::Duration};
    /// use tower_jwt_auth::{clock::MockClock, store::{MemoryBackend, RevocationStore}};
    ///
    /// let store = RevocationStore::builder()
    ///     .with_backend(Arc::new(MemoryBackend::new()))
    ///     .with_clock(MockClock::at_secs(0))
    ///     .with_purge_interval(Duration::from_secs(30))
    ///     .build()?;
    /// assert!(!store.is_ready(), "a shared state is loaded by `run` first");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder() -> RevocationStoreBuilder {
        RevocationStoreBuilder {
            backend: None,
            clock: Arc::new(SystemClock),
            purge_every: PURGE_EVERY,
            backend_timeout: BACKEND_TIMEOUT,
            max_staleness: MAX_STALENESS,
            serve_stale: false,
            read_only: false,
        }
    }

    pub(super) fn from_builder(builder: RevocationStoreBuilder) -> Self {
        let shared = builder.backend.is_some();
        let backend = builder
            .backend
            .unwrap_or_else(|| Arc::new(MemoryBackend::new()));
        Self {
            inner: Arc::new(Inner {
                deny: DenyList::default(),
                ready: AtomicBool::new(!shared),
                fresh: Freshness {
                    shared,
                    max: builder.max_staleness,
                    serve_stale: builder.serve_stale,
                    enforcing: AtomicBool::new(false),
                    epoch: Instant::now(),
                    proven_ns: AtomicU64::new(0),
                    stale: AtomicBool::new(false),
                    origin: random_u64(),
                },
                replay: backend
                    .replay_cache()
                    .unwrap_or_else(|| Arc::new(MemoryReplayCache::default())),
                backend,
                clock: builder.clock,
                purge_every: builder.purge_every,
                backend_timeout: builder.backend_timeout,
                failing: AtomicBool::new(false),
                read_only: builder.read_only,
            }),
        }
    }
}

/// Builds a [`RevocationStore`]: configure, build, then share clones.
#[derive(Debug)]
#[must_use]
pub struct RevocationStoreBuilder {
    backend: Option<Arc<dyn RevocationBackend>>,
    clock: Arc<dyn Clock>,
    purge_every: Duration,
    backend_timeout: Duration,
    max_staleness: Duration,
    serve_stale: bool,
    read_only: bool,
}

impl RevocationStoreBuilder {
    /// Shares the state through `backend` (a database every instance reaches). The store
    /// then refuses every token with
    /// [`TokenError::RevocationUnavailable`](crate::token::TokenError::RevocationUnavailable)
    /// (HTTP 503) until [`run`](RevocationStore::run) (or [`load`](RevocationStore::load))
    /// has loaded the state, because revocations made by other instances are not known yet.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tower_jwt_auth::store::{MemoryBackend, RevocationStore};
    ///
    /// let store = RevocationStore::builder().with_backend(Arc::new(MemoryBackend::new())).build()?;
    /// # let _ = store;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_backend(mut self, backend: Arc<dyn RevocationBackend>) -> Self {
        self.backend = Some(backend);
        self
    }

    /// The clock that decides what purging forgets (default [`SystemClock`]).
    ///
    /// ```
    /// use tower_jwt_auth::{clock::MockClock, store::RevocationStore};
    ///
    /// let store = RevocationStore::builder().with_clock(MockClock::at_secs(0)).build()?;
    /// # let _ = store;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    pub(crate) fn with_shared_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How often [`run`](RevocationStore::run) purges (default 60 s, at least 1 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_jwt_auth::store::RevocationStore;
    ///
    /// assert!(RevocationStore::builder().with_purge_interval(Duration::ZERO).build().is_err());
    /// ```
    pub fn with_purge_interval(mut self, every: Duration) -> Self {
        self.purge_every = every;
        self
    }

    /// The time limit of every call to the backend (default 2 s, at least 10 ms). A call
    /// without an answer in time fails (closed: a write is refused with HTTP 503, and may or
    /// may not have been applied), and is reported as every backend failure is: one `warn`
    /// event (target `tower_jwt_auth::revocation`, message "revocation backend error", fields
    /// `operation` and `error`) and, with the `metrics` feature, the backend-error counter.
    /// A change feed, once opened, is not bounded by it.
    ///
    /// ```
    /// use std::{sync::Arc, time::Duration};
    /// use tower_jwt_auth::store::{MemoryBackend, RevocationStore};
    ///
    /// let store = RevocationStore::builder()
    ///     .with_backend(Arc::new(MemoryBackend::new()))
    ///     .with_backend_timeout(Duration::from_millis(500))
    ///     .build()?;
    /// # let _ = store;
    /// assert!(RevocationStore::builder().with_backend_timeout(Duration::ZERO).build().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_backend_timeout(mut self, limit: Duration) -> Self {
        self.backend_timeout = limit;
        self
    }

    /// The staleness bound (default 3 s, at least 300 ms): how long ago, at most, a store
    /// over a shared backend may have last proved that its deny-list held every revocation
    /// made anywhere. [`run`](RevocationStore::run) publishes a heartbeat through the backend
    /// every third of the bound and watches for it on the change feed; past the bound the
    /// store is not [ready](RevocationStore::is_ready), every token is refused with
    /// [`TokenError::RevocationUnavailable`](crate::token::TokenError::RevocationUnavailable)
    /// (HTTP 503, `Retry-After`), and the store subscribes and loads again (retried at most
    /// 1 s apart) until it has caught up. Crossing the bound is reported once (a `warn`
    /// event "revocation state stale", target `tower_jwt_auth::revocation`, and with the
    /// `metrics` feature the counter `tower_jwt_auth_revocation_stale_total`), catching up
    /// with an `info` event "revocation state caught up"; the gauge
    /// `tower_jwt_auth_revocation_staleness_seconds` follows the staleness.
    ///
    /// A logout on another instance is thus never ignored here for longer than the bound
    /// plus the time a heartbeat takes to come back. A store without a shared backend is
    /// always fresh.
    ///
    /// ```
    /// use std::{sync::Arc, time::Duration};
    /// use tower_jwt_auth::store::{MemoryBackend, RevocationStore};
    ///
    /// let store = RevocationStore::builder()
    ///     .with_backend(Arc::new(MemoryBackend::new()))
    ///     .with_max_staleness(Duration::from_secs(5))
    ///     .build()?;
    /// # let _ = store;
    /// assert!(RevocationStore::builder().with_max_staleness(Duration::from_millis(100)).build().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_max_staleness(mut self, bound: Duration) -> Self {
        self.max_staleness = bound;
        self
    }

    /// Availability first: keeps accepting tokens when the state is staler than the
    /// [bound](Self::with_max_staleness), instead of refusing them with 503.
    ///
    /// **The risk:** while the store cannot follow the shared backend (a network partition,
    /// a backend down), logouts, revocations and refresh-token reuse detected on other
    /// instances are not enforced here: a stolen or logged-out token stays usable on this
    /// instance until it expires or the store catches up. The heartbeats, the resubscribing,
    /// the events and the metrics go on as without it; only the refusal is off.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tower_jwt_auth::store::{MemoryBackend, RevocationStore};
    ///
    /// let store = RevocationStore::builder()
    ///     .with_backend(Arc::new(MemoryBackend::new()))
    ///     .serve_stale()
    ///     .build()?;
    /// # let _ = store;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn serve_stale(mut self) -> Self {
        self.serve_stale = true;
        self
    }

    /// A follower that writes nothing: for a verify-only instance (a resource server) over
    /// the issuer's [backend](Self::with_backend), with credentials that can read the state
    /// and nothing more.
    ///
    /// Loading, following the change feed, the heartbeats (published on the feed's channel:
    /// no data is written) and the [staleness bound](Self::with_max_staleness) work as
    /// without it, so a logout at the issuer is refused here as soon as the feed brings it.
    /// Every write fails with [`RevocationError::ReadOnly`] without calling the backend:
    /// [`revoke`](RevocationStore::revoke), and the session records' writes (a session
    /// started, rotated or ended through [`Sessions`](crate::Sessions) over this store); and
    /// [`run`](RevocationStore::run) purges only the local deny-list, never the backend's
    /// rows or keys (the issuer's stores do). The one exception is the DPoP
    /// [replay cache](RevocationStore::replay_cache): it records each proof in the backend,
    /// and refuses every proof (fails closed) when the credentials may not write it.
    ///
    /// The grants it needs: on Redis, an ACL user with the read commands on the prefix's keys
    /// and `SUBSCRIBE`/`PUBLISH` on its channel (`ACL SETUSER follower on >PASSWORD
    /// resetkeys ~PREFIX:* resetchannels &PREFIX:feed -@all +@read +@connection +subscribe
    /// +publish`, and `(~PREFIX:p:* +set)` to record DPoP proofs); on PostgreSQL, a role
    /// with `SELECT` on the three tables (`GRANT SELECT ON PREFIXsessions, PREFIXentries,
    /// PREFIXdpop_proofs TO follower`, and `GRANT INSERT, UPDATE ON PREFIXdpop_proofs` to
    /// record DPoP proofs; `LISTEN` and `NOTIFY` need no grant), with a backend built
    /// `without_migration` (`PostgresBackendBuilder`, which then creates no table).
    ///
    /// Fails to build without a backend: a read-only store of its own would hold nothing.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tower_jwt_auth::store::{MemoryBackend, RevocationEntry, RevocationError, RevocationStore};
    ///
    /// let backend = Arc::new(MemoryBackend::new());
    /// let follower = RevocationStore::builder()
    ///     .with_backend(backend.clone())
    ///     .read_only()
    ///     .build()?;
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build()?.block_on(async {
    /// let entry = RevocationEntry::Token { jti: "t1".into(), expires_at: u64::MAX };
    /// let refused = follower.revoke(entry).await;
    /// assert!(matches!(refused, Err(RevocationError::ReadOnly { operation: "revoke" })));
    /// # });
    /// assert!(RevocationStore::builder().read_only().build().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    /// Checks the configuration and builds the store.
    pub fn build(self) -> Result<RevocationStore, ConfigError> {
        if self.read_only && self.backend.is_none() {
            return Err(ConfigError::Conflict(
                "a read-only store follows a shared backend: set one with `with_backend`",
            ));
        }
        if self.max_staleness < MIN_STALENESS {
            return Err(ConfigError::Interval(
                "the staleness bound is at least 300 ms",
            ));
        }
        if self.purge_every < Duration::from_secs(1) {
            return Err(ConfigError::Interval("the purge interval is at least 1 s"));
        }
        if self.backend_timeout < MIN_BACKEND_TIMEOUT {
            return Err(ConfigError::Interval(
                "the backend time limit is at least 10 ms",
            ));
        }
        Ok(RevocationStore::from_builder(self))
    }
}
