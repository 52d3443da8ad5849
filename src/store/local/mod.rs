//! [`RevocationStore`]: the in-memory revocation state, in front of the backend that holds
//! the session records.

mod builder;
mod follow;
mod replay;

pub use builder::RevocationStoreBuilder;

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
    dpop::{MemoryReplayCache, ReplayCache},
    telemetry::{self, Revoked},
};

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
    /// The backend's DPoP replay cache, or one of the store's own.
    replay: Arc<dyn ReplayCache>,
    clock: Arc<dyn Clock>,
    purge_every: Duration,
    backend_timeout: Duration,
    /// Set by a failed backend call, cleared by the next successful one: the recovery is
    /// reported once.
    failing: AtomicBool,
    /// Every write is refused without calling the backend.
    read_only: bool,
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
            .field("read_only", &inner.read_only)
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
        self.writable("revoke")?;
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
        self.writable("create_session")?;
        self.call("create_session", self.inner.backend.create_session(session))
            .await
    }

    /// Rotates a session's refresh token in the backend; a session found revoked (or revoked
    /// now, for reuse) is revoked locally at once too.
    pub(crate) async fn rotate(
        &self,
        rotation: &Rotation<'_>,
    ) -> Result<RotateOutcome, RevocationError> {
        self.writable("rotate")?;
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

    /// Refuses the write `operation` of a [read-only](RevocationStoreBuilder::read_only)
    /// store, before the backend is called.
    fn writable(&self, operation: &'static str) -> Result<(), RevocationError> {
        if self.inner.read_only {
            Err(RevocationError::ReadOnly { operation })
        } else {
            Ok(())
        }
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

    /// Forgets every local entry whose time has passed; returns how many were dropped.
    /// An entry is kept up to and including its forget-after second.
    pub fn purge_expired(&self) -> usize {
        self.inner.deny.purge(self.inner.clock.now_secs())
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
    async fn a_read_only_store_follows_and_purges_locally_but_never_writes_the_backend() {
        let clock = MockClock::at_secs(100);
        let backend = Arc::new(MemoryBackend::new());
        let writer = RevocationStore::builder()
            .with_backend(backend.clone())
            .with_clock(clock.clone())
            .build()
            .unwrap();
        let follower = RevocationStore::builder()
            .with_backend(backend.clone())
            .with_clock(clock.clone())
            .read_only()
            .build()
            .unwrap();
        let task = tokio::spawn(follower.clone().run());
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert!(follower.is_ready());
        writer
            .start_session(&NewSession::new("s", "alice", 100_000, "r0", 140))
            .await
            .unwrap();
        writer
            .revoke(RevocationEntry::Session {
                sid: "s".into(),
                expires_at: 150,
            })
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert!(follower.is_session_revoked("s"), "followed from the feed");

        let entry = RevocationEntry::Token {
            jti: "j".into(),
            expires_at: 150,
        };
        for refused in [
            follower.revoke(entry).await.map(drop),
            follower
                .start_session(&NewSession::new("t", "bob", 100_000, "r0", 140))
                .await,
            follower
                .rotate(&Rotation::new("s", "r0", "r1", 100_000, 0, 140))
                .await
                .map(drop),
        ] {
            assert!(matches!(refused, Err(RevocationError::ReadOnly { .. })));
        }
        assert_eq!(backend.session_count(), 1);
        assert_eq!(backend.load(100).await.unwrap().len(), 1);

        // Past every forget-after time: the follower forgets, the backend keeps its rows
        // for the issuer's own purge.
        clock.set_secs(151);
        tokio::time::sleep(Duration::from_secs(61)).await;
        assert!(follower.is_empty());
        assert_eq!(backend.session_count(), 1);
        assert_eq!(backend.load(0).await.unwrap().len(), 1);
        task.abort();
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
            fn replay_cache(&self) -> Option<Arc<dyn ReplayCache>> {
                Some(Arc::new(Stuck))
            }
        }
        impl ReplayCache for Stuck {
            fn first_use<'a>(
                &'a self,
                _: &'a crate::dpop::ReplayKey,
                _: u64,
                _: u64,
            ) -> BoxFuture<'a, Result<bool, BoxError>> {
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
        let RevocationError::Backend(cause) = &err else {
            panic!("{err:?}");
        };
        assert!(cause.downcast_ref::<TimedOut>().is_some(), "{cause:?}");
        assert_eq!(
            cause.to_string(),
            "no answer from the revocation backend within 300ms"
        );
        assert!(!store.is_ready());

        // A DPoP proof whose check gets no answer is refused at the same limit.
        let started = Instant::now();
        let key = crate::dpop::ReplayKey::new("jkt", "jti");
        let refused = store.replay_cache().first_use(&key, 0, 60_000).await;
        assert_eq!(started.elapsed(), Duration::from_millis(300));
        let err = refused.unwrap_err();
        let cause = err
            .downcast_ref::<RevocationError>()
            .expect("the store's error");
        assert!(matches!(cause, RevocationError::Backend(_)), "{cause:?}");
    }
}
