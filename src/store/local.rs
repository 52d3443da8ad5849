//! The in-memory revocation state, in front of the backend that holds the session records.

use std::{
    collections::VecDeque,
    fmt,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    task::Poll,
    time::Duration,
};

use futures::StreamExt;
use tokio::time::Instant;

use super::{
    BoxError, BoxFuture, Change, ChangeStream, Heartbeat, LiveSession, MemoryBackend, NewSession,
    RevocationBackend, RevocationEntry, RevocationError, RotateOutcome, Rotation, deny::DenyList,
};
use crate::{
    clock::{Clock, SystemClock},
    config::ConfigError,
    crypto::{SecureRandom, SystemRandom},
    telemetry::{self, Revoked},
};

/// How long the store waits before it retries a backend that failed to subscribe or load,
/// at first and at most (the wait doubles in between; each wait is shortened by a random
/// part of up to half, so that instances do not retry in step).
const RETRY_FIRST: Duration = Duration::from_millis(250);
const RETRY_MAX: Duration = Duration::from_secs(1);
/// The default staleness bound.
const MAX_STALENESS: Duration = Duration::from_secs(3);
/// The smallest staleness bound accepted (a heartbeat every 100 ms).
const MIN_STALENESS: Duration = Duration::from_millis(300);
/// How many heartbeats on their way the store remembers.
const BEATS_IN_FLIGHT: usize = 16;
/// The default purge interval.
const PURGE_EVERY: Duration = Duration::from_secs(60);
/// The default time limit of one backend call.
const BACKEND_TIMEOUT: Duration = Duration::from_secs(2);
/// The shortest time limit of a backend call accepted.
const MIN_BACKEND_TIMEOUT: Duration = Duration::from_millis(10);

/// A backend call got no answer within the store's time limit; it may or may not have been
/// applied.
#[derive(Debug, thiserror::Error)]
#[error("no answer from the revocation backend within {after:?}")]
struct TimedOut {
    after: Duration,
}

struct Inner {
    deny: DenyList,
    /// False while a shared backend's state has not been loaded: nothing can be trusted yet.
    ready: AtomicBool,
    /// How fresh the deny-list is known to be.
    fresh: Freshness,
    backend: Arc<dyn RevocationBackend>,
    clock: Arc<dyn Clock>,
    purge_every: Duration,
    backend_timeout: Duration,
    /// Set by a failed backend call, cleared by the next successful one: the recovery is
    /// reported once.
    failing: AtomicBool,
}

/// What the store knows of how stale its deny-list may be: when it last proved that it had
/// every change published before (a load, or its own heartbeat back on the feed).
struct Freshness {
    /// A shared backend: the state can fall behind. The in-process one never does.
    shared: bool,
    /// The bound past which the state is not trusted (refused, unless serving stale).
    max: Duration,
    serve_stale: bool,
    /// Set once [`RevocationStore::run`] follows the feed with the bound enforced: a store
    /// that only [loads](RevocationStore::load) is as fresh as its last load says.
    enforcing: AtomicBool,
    /// The time origin of `proven_ns`.
    epoch: Instant,
    /// When the state was last proved complete, in nanoseconds since `epoch`.
    proven_ns: AtomicU64,
    /// The bound was crossed and reported; cleared (and reported) by the next proof.
    stale: AtomicBool,
    /// This store's heartbeats' origin.
    origin: u64,
}

impl Freshness {
    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    /// How long ago the state was last proved complete, as of `now`.
    fn staleness(&self, now: Instant) -> Duration {
        Duration::from_nanos(
            self.nanos(now)
                .saturating_sub(self.proven_ns.load(Ordering::Acquire)),
        )
    }

    /// When the state was last proved complete.
    fn proven(&self) -> Instant {
        self.epoch + Duration::from_nanos(self.proven_ns.load(Ordering::Acquire))
    }

    /// The hot-path check: two atomic loads and, when the bound is enforced, one clock
    /// read.
    #[inline]
    fn trusted(&self) -> bool {
        !self.enforcing.load(Ordering::Relaxed) || self.staleness(Instant::now()) <= self.max
    }
}

/// A random number, for heartbeat origins and retry jitter; never zero.
fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    // Without randomness the jitter is merely regular and the origin the clock's.
    if SystemRandom::new().fill(&mut bytes).is_err() {
        bytes = SystemClock.now_millis().to_le_bytes();
    }
    u64::from_le_bytes(bytes).max(1)
}

/// `wait` shortened by a random part of up to half of it (`state` is a xorshift state).
fn jittered(wait: Duration, state: &mut u64) -> Duration {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    let half = wait / 2;
    let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX).max(1);
    wait - Duration::from_nanos(*state % nanos)
}

/// The revocation state the verifier consults on every request, in front of the
/// [`RevocationBackend`] that holds the session records.
///
/// Reads ([`is_revoked`](Self::is_revoked)) are synchronous, take no lock that a writer
/// holds across an await, and allocate nothing. Writes go to the backend first, then to the
/// local maps; if the backend fails, the write fails and nothing changes (fail closed).
/// Every entry carries the time after which it can be forgotten — when nothing it covers can
/// still be presented, leeway included — and purging drops those, so memory stays bounded by
/// what could still be presented.
///
/// [`new`](Self::new) keeps everything in process (a private [`MemoryBackend`]); the
/// [builder](Self::builder) shares a backend between instances. Then spawn
/// [`run`](Self::run): it loads the shared state, follows the other instances' revocations
/// on the backend's change feed and purges. Cloning is cheap and clones share the state.
///
/// # Bounded staleness
///
/// A store over a shared backend knows how long ago it last proved that it had every
/// revocation made anywhere: at each load, and each time one of the heartbeats it publishes
/// through the backend comes back on its change feed (the feed is ordered, so everything
/// published before the heartbeat was sent has arrived). Past the bound
/// ([`with_max_staleness`](RevocationStoreBuilder::with_max_staleness), 3 s by default) it
/// is [not ready](Self::is_ready): the verifier refuses every token with
/// [`TokenError::RevocationUnavailable`](crate::token::TokenError::RevocationUnavailable)
/// (HTTP 503 with `Retry-After`) until it has caught up, so a logout made on another
/// instance is never ignored here for longer than the bound, a network partition included.
/// [`serve_stale`](RevocationStoreBuilder::serve_stale) trades that for availability.
///
/// # Example
///
/// ```
/// use tower_jwt_auth::{clock::MockClock, store::{RevocationEntry, RevocationStore}};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let clock = MockClock::at_secs(1_000);
/// let store = RevocationStore::builder().with_clock(clock.clone()).build()?;
/// store.revoke(RevocationEntry::Session { sid: "s1".into(), expires_at: 2_000 }).await?;
/// assert!(store.is_session_revoked("s1"));
///
/// clock.set_secs(2_001);
/// assert_eq!(store.purge_expired(), 1);
/// assert!(!store.is_session_revoked("s1"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct RevocationStore {
    inner: Arc<Inner>,
}

impl fmt::Debug for RevocationStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        f.debug_struct("RevocationStore")
            .field("entries", &inner.deny.len())
            .field("ready", &self.is_ready())
            .field("backend", &inner.backend)
            .field("clock", &inner.clock)
            .field("purge_every", &inner.purge_every)
            .field("backend_timeout", &inner.backend_timeout)
            .field("max_staleness", &inner.fresh.max)
            .field("serve_stale", &inner.fresh.serve_stale)
            .finish()
    }
}

impl Default for RevocationStore {
    fn default() -> Self {
        Self::new()
    }
}

impl RevocationStore {
    /// An empty store on the system clock, with its state in this process only.
    ///
    /// ```
    /// use tower_jwt_auth::store::RevocationStore;
    ///
    /// assert!(RevocationStore::new().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::from_builder(Self::builder())
    }

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
        }
    }

    fn from_builder(builder: RevocationStoreBuilder) -> Self {
        let shared = builder.backend.is_some();
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
                backend: builder
                    .backend
                    .unwrap_or_else(|| Arc::new(MemoryBackend::new())),
                clock: builder.clock,
                purge_every: builder.purge_every,
                backend_timeout: builder.backend_timeout,
                failing: AtomicBool::new(false),
            }),
        }
    }

    /// `true` if the token `jti` of session `sid` and subject `sub`, whose session started at
    /// `session_started_ms` (milliseconds since the epoch), is revoked: by its `jti`, its
    /// session, or a "log out everywhere" of its subject made at or after its session started;
    /// and, for an access token (`access_seq` is its `seq` claim; `None` for a refresh
    /// token), by its session's watermark when that is at or above `access_seq`.
    ///
    /// Synchronous and allocation-free: the verifier calls it on every request. Four map
    /// lookups at most: the `jti`, the session, its watermark (for an access token), the
    /// subject.
    ///
    /// ```
    /// use tower_jwt_auth::store::{RevocationEntry, RevocationStore};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let store = RevocationStore::new();
    /// store.revoke(RevocationEntry::Subject { sub: "alice".into(), cutoff_ms: 5_000, expires_at: u64::MAX }).await?;
    /// assert!(store.is_revoked("j1", "s1", "alice", 4_000, None));
    /// assert!(!store.is_revoked("j2", "s2", "alice", 6_000, None));
    ///
    /// store.revoke(RevocationEntry::Access { sid: "s2".into(), seq: 3, expires_at: u64::MAX }).await?;
    /// assert!(store.is_revoked("j3", "s2", "alice", 6_000, Some(3)));
    /// assert!(!store.is_revoked("j4", "s2", "alice", 6_000, Some(4)));
    /// assert!(!store.is_revoked("r3", "s2", "alice", 6_000, None), "refresh tokens stay valid");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_revoked(
        &self,
        jti: &str,
        sid: &str,
        sub: &str,
        session_started_ms: u64,
        access_seq: Option<u64>,
    ) -> bool {
        let deny = &self.inner.deny;
        deny.is_token_revoked(jti)
            || deny.is_session_revoked(sid)
            || access_seq.is_some_and(|seq| deny.is_access_revoked(sid, seq))
            || deny
                .subject_cutoff_ms(sub)
                .is_some_and(|cutoff_ms| session_started_ms <= cutoff_ms)
    }

    /// `true` when the state can be trusted: always for an in-process store; with a shared
    /// backend, once the state has been [loaded](Self::load) and, while [`run`](Self::run)
    /// follows the change feed, as long as the state is proved no staler than the
    /// [bound](RevocationStoreBuilder::with_max_staleness) (unless the store
    /// [serves stale](RevocationStoreBuilder::serve_stale)).
    ///
    /// Synchronous and allocation-free (atomic loads and one clock read): the verifier calls
    /// it on every request.
    pub fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::Acquire) && self.inner.fresh.trusted()
    }

    /// How long ago the store last proved that its deny-list held every revocation made
    /// through the shared backend (a load, or its heartbeat back on the change feed):
    /// `None` for an in-process store, which is never behind, and before the first load.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tower_jwt_auth::store::{MemoryBackend, RevocationStore};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build()?.block_on(async {
    /// assert_eq!(RevocationStore::new().staleness(), None);
    /// let shared = RevocationStore::builder().with_backend(Arc::new(MemoryBackend::new())).build()?;
    /// assert_eq!(shared.staleness(), None, "not loaded yet");
    /// shared.load().await?;
    /// assert!(shared.staleness().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn staleness(&self) -> Option<Duration> {
        let fresh = &self.inner.fresh;
        (fresh.shared && self.inner.ready.load(Ordering::Acquire))
            .then(|| fresh.staleness(Instant::now()))
    }

    /// `true` if the token `jti` has been revoked.
    pub fn is_token_revoked(&self, jti: &str) -> bool {
        self.inner.deny.is_token_revoked(jti)
    }

    /// `true` if the session `sid` has been revoked.
    pub fn is_session_revoked(&self, sid: &str) -> bool {
        self.inner.deny.is_session_revoked(sid)
    }

    /// The session's watermark: its access tokens numbered this or lower are revoked.
    pub fn access_watermark(&self, sid: &str) -> Option<u64> {
        self.inner.deny.access_watermark(sid)
    }

    /// The latest "log out everywhere" cut-off of `sub`, in milliseconds since the epoch.
    pub fn subject_cutoff_ms(&self, sub: &str) -> Option<u64> {
        self.inner.deny.subject_cutoff_ms(sub)
    }

    /// Records a revocation: in the backend first, then locally. Fails closed: when the
    /// backend fails, nothing is recorded and the error is returned.
    pub async fn revoke(&self, entry: RevocationEntry) -> Result<(), RevocationError> {
        self.call("revoke", self.inner.backend.revoke(&entry))
            .await?;
        match &entry {
            RevocationEntry::Token { .. } => telemetry::revoked(Revoked::Token, None, None),
            RevocationEntry::Session { sid, .. } => {
                telemetry::revoked(Revoked::Session, None, Some(sid));
            }
            RevocationEntry::Access { sid, .. } => {
                telemetry::revoked(Revoked::Access, None, Some(sid));
            }
            RevocationEntry::Subject { sub, .. } => {
                telemetry::revoked(Revoked::Subject, Some(sub), None);
            }
        }
        self.apply(&entry);
        Ok(())
    }

    /// Creates a session's record in the backend.
    pub(crate) async fn start_session(
        &self,
        session: &NewSession<'_>,
    ) -> Result<(), RevocationError> {
        self.call("create_session", self.inner.backend.create_session(session))
            .await
    }

    /// Rotates a session's refresh token in the backend; a session found revoked (or revoked
    /// now, for reuse) is revoked locally at once too.
    pub(crate) async fn rotate(
        &self,
        rotation: &Rotation<'_>,
    ) -> Result<RotateOutcome, RevocationError> {
        let outcome = self
            .call("rotate", self.inner.backend.rotate(rotation))
            .await?;
        if let RotateOutcome::Reused { forget_after } | RotateOutcome::Revoked { forget_after } =
            outcome
        {
            self.apply(&RevocationEntry::Session {
                sid: rotation.sid.to_owned(),
                expires_at: forget_after,
            });
        }
        Ok(outcome)
    }

    /// The live sessions of `sub`, oldest first, as the backend lists them now; a session
    /// this store already knows to be revoked (or cut off) is left out too. Fails closed
    /// when the backend cannot list them.
    pub(crate) async fn list_sessions(
        &self,
        sub: &str,
    ) -> Result<Vec<LiveSession>, RevocationError> {
        let now = self.inner.clock.now_secs();
        let mut sessions = self
            .call("list_sessions", self.inner.backend.list_sessions(sub, now))
            .await?;
        let cutoff_ms = self.subject_cutoff_ms(sub);
        sessions.retain(|s| {
            !self.is_session_revoked(&s.sid) && cutoff_ms.is_none_or(|c| s.started_ms > c)
        });
        Ok(sessions)
    }

    /// Every backend call passes here: it gets the store's time limit, and its failure is
    /// reported once (one `warn` event and the backend-error counter) and returned with its
    /// cause as the source. The first success after a failure is reported as a recovery.
    async fn call<T>(
        &self,
        operation: &'static str,
        mut call: BoxFuture<'_, Result<T, BoxError>>,
    ) -> Result<T, RevocationError> {
        // A call that answers at once (the in-process backend) needs no timer, so a store
        // without a shared backend also works on a runtime without time.
        let first = std::future::poll_fn(|cx| Poll::Ready(call.as_mut().poll(cx))).await;
        let result = match first {
            Poll::Ready(result) => result,
            Poll::Pending => {
                let after = self.inner.backend_timeout;
                tokio::time::timeout(after, call)
                    .await
                    .unwrap_or_else(|_| Err(Box::new(TimedOut { after })))
            }
        };
        match result {
            Ok(value) => {
                if self.inner.failing.load(Ordering::Relaxed)
                    && self.inner.failing.swap(false, Ordering::AcqRel)
                {
                    telemetry::backend_recovered(operation);
                }
                Ok(value)
            }
            Err(error) => {
                self.inner.failing.store(true, Ordering::Release);
                telemetry::backend_error(operation, &*error);
                Err(RevocationError::Backend(error))
            }
        }
    }

    /// Applies an entry to the local maps only (a write already made in the backend, or an
    /// entry from its load or change feed). Idempotent: the later time always wins.
    fn apply(&self, entry: &RevocationEntry) {
        self.inner.deny.apply(entry);
    }

    /// Fills the local maps from the backend and marks the store ready. Returns how many
    /// live entries were loaded.
    ///
    /// [`run`](Self::run) calls it at start and after every gap in the change feed; call it
    /// yourself only when you do not run that task.
    pub async fn load(&self) -> Result<usize, RevocationError> {
        let started = Instant::now();
        let now = self.inner.clock.now_secs();
        let entries = self.call("load", self.inner.backend.load(now)).await?;
        let n = entries.len();
        for entry in &entries {
            self.apply(entry);
        }
        // Everything revoked before the load started is in it.
        self.proved(started);
        self.inner.ready.store(true, Ordering::Release);
        Ok(n)
    }

    /// Records that every change published before `at` has been applied; reports the end of
    /// a stale period.
    fn proved(&self, at: Instant) {
        let fresh = &self.inner.fresh;
        fresh.proven_ns.fetch_max(fresh.nanos(at), Ordering::AcqRel);
        let staleness = fresh.staleness(Instant::now());
        if fresh.shared {
            telemetry::staleness(staleness);
        }
        if fresh.stale.load(Ordering::Relaxed) && fresh.stale.swap(false, Ordering::AcqRel) {
            telemetry::caught_up(staleness);
        }
    }

    /// Watches the bound for as long as [`run`](Self::run) runs: reports the crossing once
    /// (`warn` and a counter), and the staleness as a gauge every heartbeat period.
    async fn watch_staleness(&self) {
        let fresh = &self.inner.fresh;
        let every = fresh.max / 3;
        loop {
            let now = Instant::now();
            let ready = self.inner.ready.load(Ordering::Acquire);
            let deadline = fresh.proven() + fresh.max;
            if ready {
                let staleness = fresh.staleness(now);
                telemetry::staleness(staleness);
                if now > deadline && !fresh.stale.swap(true, Ordering::AcqRel) {
                    telemetry::stale(staleness, fresh.max, fresh.serve_stale);
                }
            }
            // Just past the deadline (the bound is crossed when the staleness exceeds it),
            // or the next gauge update, whichever comes first.
            let next = now + every;
            let wake = if ready && now <= deadline {
                next.min(deadline + Duration::from_nanos(1))
            } else {
                next
            };
            tokio::time::sleep_until(wake).await;
        }
    }

    /// Forgets every local entry whose time has passed; returns how many were dropped.
    /// An entry is kept up to and including its forget-after second.
    pub fn purge_expired(&self) -> usize {
        self.inner.deny.purge(self.inner.clock.now_secs())
    }

    /// Purges locally and in the backend. A backend failure is left for the next purge:
    /// nothing live is ever dropped, so a late purge only costs memory.
    async fn purge_everywhere(&self) {
        self.purge_expired();
        let now = self.inner.clock.now_secs();
        // The failure has been reported; the next purge tries again.
        let _ = self.call("purge", self.inner.backend.purge(now)).await;
    }

    /// The store's background work, for as long as the returned future runs: spawn it once
    /// next to the server (`tokio::spawn(store.clone().run())`).
    ///
    /// It subscribes to the backend's change feed, loads the shared state (until then a
    /// store with a shared backend refuses every token with 503), applies every revocation
    /// the other instances make, and purges what can no longer matter at the purge interval.
    /// After a gap in the feed (an error, or the feed ending), or when the feed has brought
    /// none of the store's own heartbeats for longer than the
    /// [staleness bound](RevocationStoreBuilder::with_max_staleness), it subscribes and loads
    /// again; a backend that cannot be reached is retried with a growing, jittered wait
    /// (from 250 ms to at most 1 s), so the store is back about a second after the backend
    /// is. With a shared backend it publishes a heartbeat every third of the bound, and
    /// while it runs the bound is enforced ([`is_ready`](Self::is_ready)).
    /// It runs on tokio time, so tests drive it with `tokio::time::pause`.
    ///
    /// ```
    /// use tower_jwt_auth::store::RevocationStore;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build()?.block_on(async {
    /// let store = RevocationStore::new();
    /// let task = tokio::spawn(store.clone().run());
    /// task.abort();
    /// # });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn run(self) {
        let fresh = &self.inner.fresh;
        if fresh.shared && !fresh.serve_stale {
            fresh.enforcing.store(true, Ordering::Release);
        }
        if fresh.shared {
            tokio::join!(self.follow_always(), self.watch_staleness());
        } else {
            self.follow_always().await;
        }
    }

    /// Subscribes, loads and follows the feed, again after every gap.
    async fn follow_always(&self) {
        let mut purges = tokio::time::interval(self.inner.purge_every);
        purges.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut wait = RETRY_FIRST;
        let mut jitter = self.inner.fresh.origin;
        let mut beats = 0;
        // Since when the store has not been following the feed: other instances'
        // revocations made since then reach it only with the next load.
        let mut behind_since = Instant::now();
        loop {
            match self.connect(behind_since).await {
                Ok(feed) => {
                    wait = RETRY_FIRST;
                    self.follow(feed, &mut purges, &mut beats).await;
                    behind_since = Instant::now();
                }
                Err(error) => {
                    let pause = jittered(wait, &mut jitter);
                    telemetry::connect_failed(&error, pause);
                    tokio::time::sleep(pause).await;
                    wait = (wait * 2).min(RETRY_MAX);
                }
            }
        }
    }

    /// Subscribes to the change feed, then loads the state: subscribing first means that
    /// nothing revoked in between is missed.
    async fn connect(&self, behind_since: Instant) -> Result<ChangeStream, RevocationError> {
        let feed = self
            .call("subscribe", self.inner.backend.subscribe())
            .await?;
        let entries = self.load().await?;
        telemetry::loaded(entries, behind_since.elapsed());
        Ok(feed)
    }

    /// Applies the feed, purges on time and, with a shared backend, publishes heartbeats,
    /// until the feed has a gap or has been silent past the staleness bound. `beats` counts
    /// the heartbeats sent.
    async fn follow(
        &self,
        mut feed: ChangeStream,
        purges: &mut tokio::time::Interval,
        beats: &mut u64,
    ) {
        let fresh = &self.inner.fresh;
        let every = fresh.max / 3;
        let mut ticks = tokio::time::interval_at(Instant::now() + every, every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The heartbeats on their way, by sequence number, with when each was sent.
        let mut sent: VecDeque<(u64, Instant)> = VecDeque::new();
        // The heartbeat being published: one at a time, never holding up the feed.
        let mut publishing: Option<BoxFuture<'_, ()>> = None;
        loop {
            let deadline = fresh.proven() + fresh.max;
            tokio::select! {
                change = feed.next() => match change {
                    Some(Ok(Change::Entry(entry))) => self.apply(&entry),
                    Some(Ok(Change::Heartbeat(beat))) if beat.origin == fresh.origin => {
                        while let Some((seq, at)) = sent.pop_front() {
                            if seq == beat.seq {
                                self.proved(at);
                                break;
                            }
                            if seq > beat.seq {
                                sent.push_front((seq, at));
                                break;
                            }
                        }
                    }
                    // Another instance's heartbeat.
                    Some(Ok(Change::Heartbeat(_))) => {}
                    Some(Err(error)) => return telemetry::feed_gap(Some(&*error)),
                    None => return telemetry::feed_gap(None),
                },
                _ = purges.tick() => self.purge_everywhere().await,
                _ = ticks.tick(), if fresh.shared && publishing.is_none() => {
                    *beats += 1;
                    let beat = Heartbeat { origin: fresh.origin, seq: *beats };
                    if sent.len() == BEATS_IN_FLIGHT {
                        sent.pop_front();
                    }
                    sent.push_back((beat.seq, Instant::now()));
                    publishing = Some(Box::pin(async move {
                        // A failure is reported; the missing heartbeat shows in the staleness.
                        let _ = self.call("heartbeat", self.inner.backend.heartbeat(&beat)).await;
                    }));
                }
                () = async {
                    if let Some(publish) = publishing.as_mut() {
                        publish.await;
                    }
                }, if publishing.is_some() => publishing = None,
                () = tokio::time::sleep_until(deadline), if fresh.shared => {
                    return telemetry::feed_silent(fresh.max);
                }
            }
        }
    }

    /// The number of live local deny-list entries (tokens, sessions, access watermarks and
    /// subjects).
    pub fn len(&self) -> usize {
        self.inner.deny.len()
    }

    /// `true` when no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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

    /// Checks the configuration and builds the store.
    pub fn build(self) -> Result<RevocationStore, ConfigError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::MockClock;

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn each_kind_of_entry_revokes_what_it_covers() {
        let store = RevocationStore::new();
        assert!(!store.is_revoked("j1", "s1", "alice", 10_000, None));
        block_on(store.revoke(RevocationEntry::Token {
            jti: "j1".into(),
            expires_at: 70,
        }))
        .unwrap();
        assert!(store.is_revoked("j1", "s1", "alice", 10_000, None));
        assert!(!store.is_revoked("j2", "s1", "alice", 10_000, None));

        block_on(store.revoke(RevocationEntry::Session {
            sid: "s1".into(),
            expires_at: 70,
        }))
        .unwrap();
        assert!(store.is_revoked("j2", "s1", "alice", 10_000, None));
        assert!(!store.is_revoked("j3", "s2", "alice", 10_000, None));

        block_on(store.revoke(RevocationEntry::Subject {
            sub: "alice".into(),
            cutoff_ms: 10_500,
            expires_at: 100,
        }))
        .unwrap();
        assert!(store.is_revoked("j3", "s2", "alice", 10_000, None));
        assert!(store.is_revoked("j3", "s2", "alice", 10_500, None));
        assert!(!store.is_revoked("j3", "s2", "alice", 10_501, None));
        assert!(!store.is_revoked("j3", "s2", "bob", 10_000, None));
        // A session that started at the epoch (a token without `auth_time`) is covered by
        // any cut-off.
        assert!(store.is_revoked("j5", "s4", "alice", 0, None));
    }

    #[test]
    fn a_watermark_covers_its_sessions_access_tokens_up_to_its_number() {
        let clock = MockClock::at_secs(100);
        let store = RevocationStore::builder()
            .with_clock(clock.clone())
            .build()
            .unwrap();
        let revoke = |entry| block_on(store.revoke(entry)).unwrap();
        let mark = |seq, expires_at| RevocationEntry::Access {
            sid: "s1".into(),
            seq,
            expires_at,
        };
        revoke(mark(3, 150));
        // Each part keeps the later value on its own.
        revoke(mark(1, 200));
        assert_eq!(store.access_watermark("s1"), Some(3));
        assert_eq!(store.len(), 1, "one entry per session");
        assert!(store.is_revoked("j", "s1", "a", 0, Some(0)));
        assert!(store.is_revoked("j", "s1", "a", 0, Some(3)));
        assert!(!store.is_revoked("j", "s1", "a", 0, Some(4)));
        assert!(
            !store.is_revoked("r", "s1", "a", 0, None),
            "a refresh token"
        );
        assert!(
            !store.is_revoked("j", "s2", "a", 0, Some(0)),
            "another session"
        );
        assert!(!store.is_session_revoked("s1"));

        revoke(RevocationEntry::Session {
            sid: "s1".into(),
            expires_at: 170,
        });
        assert_eq!(
            store.len(),
            2,
            "a revoked session and its watermark: two entries"
        );
        assert!(store.is_revoked("j", "s1", "a", 0, Some(4)));
        assert!(store.is_revoked("r", "s1", "a", 0, None));
        clock.set_secs(171);
        assert_eq!(
            store.purge_expired(),
            1,
            "the revoked session, on its own time"
        );
        assert!(!store.is_revoked("j", "s1", "a", 0, Some(4)));
        assert!(store.is_revoked("j", "s1", "a", 0, Some(3)));
        clock.set_secs(200);
        assert_eq!(store.purge_expired(), 0, "kept through its last second");
        clock.set_secs(201);
        assert_eq!(store.purge_expired(), 1);
        assert!(store.is_empty());
        assert!(!store.is_revoked("j", "s1", "a", 0, Some(0)));
    }

    #[test]
    fn a_later_cutoff_is_never_moved_back() {
        let store = RevocationStore::new();
        for cutoff_ms in [5_000, 3_000] {
            block_on(store.revoke(RevocationEntry::Subject {
                sub: "a".into(),
                cutoff_ms,
                expires_at: 10,
            }))
            .unwrap();
        }
        assert_eq!(store.subject_cutoff_ms("a"), Some(5_000));
    }

    #[test]
    fn purge_drops_only_expired_entries() {
        let clock = MockClock::at_secs(100);
        let store = RevocationStore::builder()
            .with_clock(clock.clone())
            .build()
            .unwrap();
        block_on(async {
            store
                .revoke(RevocationEntry::Token {
                    jti: "t".into(),
                    expires_at: 150,
                })
                .await?;
            store
                .revoke(RevocationEntry::Session {
                    sid: "s".into(),
                    expires_at: 200,
                })
                .await?;
            store
                .revoke(RevocationEntry::Subject {
                    sub: "u".into(),
                    cutoff_ms: 1,
                    expires_at: 250,
                })
                .await?;
            Ok::<_, RevocationError>(())
        })
        .unwrap();
        assert_eq!(store.len(), 3);
        clock.set_secs(150);
        assert_eq!(store.purge_expired(), 0, "kept through its last second");
        clock.set_secs(151);
        assert_eq!(store.purge_expired(), 1);
        assert!(!store.is_token_revoked("t"));
        assert!(store.is_session_revoked("s"));
        clock.set_secs(251);
        assert_eq!(store.purge_expired(), 2);
        assert!(store.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn the_run_task_purges_on_tokio_time_locally_and_in_the_backend() {
        let clock = MockClock::at_secs(100);
        let backend = Arc::new(MemoryBackend::new());
        let store = RevocationStore::builder()
            .with_backend(backend.clone())
            .with_clock(clock.clone())
            .build()
            .unwrap();
        let task = tokio::spawn(store.clone().run());
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert!(store.is_ready());
        store
            .start_session(&NewSession::new("s", "alice", 100_000, "r0", 140))
            .await
            .unwrap();
        store
            .revoke(RevocationEntry::Session {
                sid: "t".into(),
                expires_at: 150,
            })
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(61)).await;
        assert_eq!(store.len(), 1, "not expired yet");
        assert_eq!(backend.session_count(), 1);
        assert_eq!(backend.load(100).await.unwrap().len(), 1);
        clock.set_secs(151);
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(store.is_empty());
        assert_eq!(backend.session_count(), 0);
        assert!(backend.load(0).await.unwrap().is_empty());
        task.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn after_a_gap_in_the_feed_the_store_reloads() {
        /// A backend whose feeds end whenever the test says so.
        #[derive(Debug, Default)]
        struct Gappy {
            inner: MemoryBackend,
            cut: std::sync::Mutex<Vec<futures::channel::oneshot::Sender<()>>>,
            subscriptions: std::sync::atomic::AtomicUsize,
        }
        impl RevocationBackend for Gappy {
            fn create_session<'a>(
                &'a self,
                s: &'a NewSession<'a>,
            ) -> BoxFuture<'a, Result<(), BoxError>> {
                self.inner.create_session(s)
            }
            fn rotate<'a>(
                &'a self,
                r: &'a Rotation<'a>,
            ) -> BoxFuture<'a, Result<RotateOutcome, BoxError>> {
                self.inner.rotate(r)
            }
            fn revoke<'a>(&'a self, e: &'a RevocationEntry) -> BoxFuture<'a, Result<(), BoxError>> {
                self.inner.revoke(e)
            }
            fn load(&self, now: u64) -> BoxFuture<'_, Result<Vec<RevocationEntry>, BoxError>> {
                self.inner.load(now)
            }
            fn subscribe(&self) -> BoxFuture<'_, Result<ChangeStream, BoxError>> {
                self.subscriptions.fetch_add(1, Ordering::SeqCst);
                let (tx, rx) = futures::channel::oneshot::channel::<()>();
                self.cut.lock().unwrap().push(tx);
                Box::pin(async move {
                    let feed = self.inner.subscribe().await?;
                    Ok(feed.take_until(rx).boxed())
                })
            }
            fn purge(&self, now: u64) -> BoxFuture<'_, Result<u64, BoxError>> {
                self.inner.purge(now)
            }
            fn heartbeat<'a>(&'a self, b: &'a Heartbeat) -> BoxFuture<'a, Result<(), BoxError>> {
                self.inner.heartbeat(b)
            }
        }

        let backend = Arc::new(Gappy::default());
        let store = RevocationStore::builder()
            .with_backend(backend.clone())
            .build()
            .unwrap();
        let task = tokio::spawn(store.clone().run());
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(backend.subscriptions.load(Ordering::SeqCst), 1);
        // The feed breaks; meanwhile another instance revokes a session, and the entry is
        // lost with the feed. The store notices the gap and reloads the state.
        for tx in backend.cut.lock().unwrap().drain(..) {
            let _ = tx.send(());
        }
        backend.inner.record(&RevocationEntry::Session {
            sid: "missed".into(),
            expires_at: u64::MAX,
        });
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(backend.subscriptions.load(Ordering::SeqCst), 2);
        assert!(store.is_session_revoked("missed"));
        task.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_backend_call_without_an_answer_fails_after_the_time_limit() {
        /// A backend that never answers.
        #[derive(Debug)]
        struct Stuck;
        fn never<'a, T: Send + 'a>() -> BoxFuture<'a, Result<T, BoxError>> {
            Box::pin(std::future::pending())
        }
        impl RevocationBackend for Stuck {
            fn create_session<'a>(
                &'a self,
                _: &'a NewSession<'a>,
            ) -> BoxFuture<'a, Result<(), BoxError>> {
                never()
            }
            fn rotate<'a>(
                &'a self,
                _: &'a Rotation<'a>,
            ) -> BoxFuture<'a, Result<RotateOutcome, BoxError>> {
                never()
            }
            fn revoke<'a>(&'a self, _: &'a RevocationEntry) -> BoxFuture<'a, Result<(), BoxError>> {
                never()
            }
            fn load(&self, _: u64) -> BoxFuture<'_, Result<Vec<RevocationEntry>, BoxError>> {
                never()
            }
            fn subscribe(&self) -> BoxFuture<'_, Result<ChangeStream, BoxError>> {
                never()
            }
            fn purge(&self, _: u64) -> BoxFuture<'_, Result<u64, BoxError>> {
                never()
            }
            fn heartbeat<'a>(&'a self, _: &'a Heartbeat) -> BoxFuture<'a, Result<(), BoxError>> {
                never()
            }
        }

        let store = RevocationStore::builder()
            .with_backend(Arc::new(Stuck))
            .with_backend_timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        let started = Instant::now();
        let err = store.load().await.unwrap_err();
        assert_eq!(started.elapsed(), Duration::from_millis(300));
        let RevocationError::Backend(cause) = &err;
        assert!(cause.downcast_ref::<TimedOut>().is_some(), "{cause:?}");
        assert_eq!(
            cause.to_string(),
            "no answer from the revocation backend within 300ms"
        );
        assert!(!store.is_ready());
    }
}
