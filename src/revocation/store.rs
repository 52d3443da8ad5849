//! The in-memory revocation state, in front of an optional persistent backend.

use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use dashmap::{DashMap, mapref::entry::Entry};

use super::{ConsumeOutcome, RevocationBackend, RevocationEntry};
use crate::{
    claims::Claims,
    clock::{Clock, SystemClock},
    error::RevocationError,
};

#[derive(Debug, Clone, Copy)]
struct Cutoff {
    cutoff_ms: u64,
    expires_at: u64,
}

#[derive(Debug, Clone, Copy)]
struct Consumed {
    used_ms: u64,
    expires_at: u64,
}

#[derive(Debug)]
struct Latest {
    jti: Box<str>,
    expires_at: u64,
}

#[derive(Debug, Default)]
struct Maps {
    /// Revoked tokens: `jti` → forget after.
    tokens: DashMap<Box<str>, u64>,
    /// Revoked sessions: `sid` → forget after.
    sessions: DashMap<Box<str>, u64>,
    /// "Log out everywhere" cut-offs: `sub` → cut-off.
    subjects: DashMap<Box<str>, Cutoff>,
    /// Consumed refresh tokens: `jti` → first use.
    consumed: DashMap<Box<str>, Consumed>,
    /// The last refresh token consumed in each session: `sid` → `jti`.
    latest: DashMap<Box<str>, Latest>,
}

/// The revocation state the verifier consults on every request.
///
/// Reads ([`is_revoked`](Self::is_revoked)) are synchronous, lock-free in the common case and
/// allocate nothing. Writes ([`revoke`](Self::revoke), [`consume`](Self::consume)) go to the
/// [`RevocationBackend`] first when there is one, then to the local maps; if the backend
/// fails, the write fails and nothing changes (fail closed). Every entry carries the time after
/// which it can be forgotten, and [`purge_expired`](Self::purge_expired) drops those, so memory
/// stays bounded by what could still be presented.
///
/// Cloning is cheap and clones share the state. Configure the clock and backend before
/// cloning.
///
/// # Example
///
/// ```
/// use tower_jwt_auth::{MockClock, RevocationEntry, RevocationStore};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let clock = MockClock::at_secs(1_000);
/// let store = RevocationStore::new().with_clock(clock.clone());
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
    maps: Arc<Maps>,
    /// False while a backend's state has not been loaded: nothing can be trusted yet.
    ready: Arc<AtomicBool>,
    backend: Option<Arc<dyn RevocationBackend>>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for RevocationStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevocationStore")
            .field("tokens", &self.maps.tokens.len())
            .field("sessions", &self.maps.sessions.len())
            .field("subjects", &self.maps.subjects.len())
            .field("consumed", &self.maps.consumed.len())
            .field("backend", &self.backend)
            .field("clock", &self.clock)
            .finish()
    }
}

impl Default for RevocationStore {
    fn default() -> Self {
        Self::new()
    }
}

impl RevocationStore {
    /// An empty in-memory store on the system clock.
    ///
    /// ```
    /// use tower_jwt_auth::RevocationStore;
    ///
    /// assert!(RevocationStore::new().is_empty());
    /// ```
    pub fn new() -> Self {
        Self {
            maps: Arc::default(),
            ready: Arc::new(AtomicBool::new(true)),
            backend: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// Uses `clock` for consumption times and purging.
    ///
    /// ```
    /// use tower_jwt_auth::{MockClock, RevocationStore};
    ///
    /// let store = RevocationStore::new().with_clock(MockClock::at_secs(0));
    /// # let _ = store;
    /// ```
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    pub(crate) fn with_shared_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Writes through to `backend` (persistent, shared between instances). Call
    /// [`load`](Self::load) once at start to fill the local maps from it: until it has
    /// succeeded the store is not [ready](Self::is_ready) and every token is refused with
    /// [`TokenError::RevocationUnavailable`](crate::TokenError::RevocationUnavailable)
    /// (HTTP 503), because revocations made by other instances are not known yet.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use tower_jwt_auth::{BoxError, BoxFuture, ConsumeOutcome, RevocationBackend, RevocationEntry, RevocationStore};
    /// # #[derive(Debug)] struct Db;
    /// # impl RevocationBackend for Db {
    /// #     fn revoke<'a>(&'a self, _: &'a RevocationEntry) -> BoxFuture<'a, Result<(), BoxError>> { Box::pin(async { Ok(()) }) }
    /// #     fn consume<'a>(&'a self, _: &'a str, _: &'a str, _: u64, _: u64) -> BoxFuture<'a, Result<ConsumeOutcome, BoxError>> { Box::pin(async { Ok(ConsumeOutcome::First) }) }
    /// #     fn load(&self, _: u64) -> BoxFuture<'_, Result<Vec<RevocationEntry>, BoxError>> { Box::pin(async { Ok(vec![]) }) }
    /// #     fn purge_expired(&self, _: u64) -> BoxFuture<'_, Result<u64, BoxError>> { Box::pin(async { Ok(0) }) }
    /// # }
    /// let store = RevocationStore::new().with_backend(Arc::new(Db));
    /// # let _ = store;
    /// ```
    #[must_use]
    pub fn with_backend(mut self, backend: Arc<dyn RevocationBackend>) -> Self {
        self.backend = Some(backend);
        self.ready = Arc::new(AtomicBool::new(false));
        self
    }

    /// `true` if the token with these claims is revoked: by its `jti`, its session, or a
    /// "log out everywhere" of its subject at or after the moment it was issued.
    ///
    /// Synchronous and allocation-free: this runs on every request.
    pub fn is_revoked<T>(&self, claims: &Claims<T>) -> bool {
        self.maps.tokens.contains_key(claims.jti.as_str())
            || self.maps.sessions.contains_key(claims.sid.as_str())
            || self
                .maps
                .subjects
                .get(claims.sub.as_str())
                .is_some_and(|c| claims.issued_at_millis() <= c.cutoff_ms)
    }

    /// `true` when the state can be trusted: always without a backend, and after a
    /// successful [`load`](Self::load) with one.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// `true` if the token `jti` has been revoked.
    pub fn is_token_revoked(&self, jti: &str) -> bool {
        self.maps.tokens.contains_key(jti)
    }

    /// `true` if the session `sid` has been revoked.
    pub fn is_session_revoked(&self, sid: &str) -> bool {
        self.maps.sessions.contains_key(sid)
    }

    /// The latest "log out everywhere" cut-off of `sub`, in milliseconds since the epoch.
    pub fn subject_cutoff_ms(&self, sub: &str) -> Option<u64> {
        self.maps.subjects.get(sub).map(|c| c.cutoff_ms)
    }

    /// Records a revocation: in the backend first, then locally. Fails closed: when the
    /// backend fails, nothing is recorded and the error is returned.
    pub async fn revoke(&self, entry: RevocationEntry) -> Result<(), RevocationError> {
        if let Some(backend) = &self.backend {
            backend
                .revoke(&entry)
                .await
                .map_err(RevocationError::Backend)?;
        }
        self.apply(entry);
        Ok(())
    }

    /// Applies an entry to the local maps only (used for entries that come from the backend).
    fn apply(&self, entry: RevocationEntry) {
        let keep_later = |slot: &mut u64, at: u64| *slot = (*slot).max(at);
        match entry {
            RevocationEntry::Token { jti, expires_at } => {
                self.maps
                    .tokens
                    .entry(jti.into())
                    .and_modify(|e| keep_later(e, expires_at))
                    .or_insert(expires_at);
            }
            RevocationEntry::Session { sid, expires_at } => {
                self.maps
                    .sessions
                    .entry(sid.into())
                    .and_modify(|e| keep_later(e, expires_at))
                    .or_insert(expires_at);
            }
            RevocationEntry::Subject {
                sub,
                cutoff_ms,
                expires_at,
            } => {
                self.maps
                    .subjects
                    .entry(sub.into())
                    .and_modify(|c| {
                        keep_later(&mut c.cutoff_ms, cutoff_ms);
                        keep_later(&mut c.expires_at, expires_at);
                    })
                    .or_insert(Cutoff {
                        cutoff_ms,
                        expires_at,
                    });
            }
        }
    }

    /// Atomically consumes the refresh token `jti` of session `sid`, remembering it until
    /// `expires_at` (the token's `exp`). Exactly one of any number of concurrent calls for one
    /// `jti` gets [`ConsumeOutcome::First`]; with a backend this holds across instances.
    ///
    /// ```
    /// use tower_jwt_auth::{ConsumeOutcome, RevocationStore};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let store = RevocationStore::new();
    /// assert_eq!(store.consume("jti-1", "sid-1", u64::MAX).await?, ConsumeOutcome::First);
    /// assert!(!store.consume("jti-1", "sid-1", u64::MAX).await?.is_first());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn consume(
        &self,
        jti: &str,
        sid: &str,
        expires_at: u64,
    ) -> Result<ConsumeOutcome, RevocationError> {
        let used_ms = self.clock.now_millis();
        if let Some(backend) = &self.backend {
            let outcome = backend
                .consume(jti, sid, used_ms, expires_at)
                .await
                .map_err(RevocationError::Backend)?;
            if outcome.is_first() {
                self.consume_local(jti, sid, used_ms, expires_at);
            }
            return Ok(outcome);
        }
        Ok(self.consume_local(jti, sid, used_ms, expires_at))
    }

    fn consume_local(&self, jti: &str, sid: &str, used_ms: u64, expires_at: u64) -> ConsumeOutcome {
        // Lock order is always `consumed` then `latest`, so the two guards cannot deadlock.
        match self.maps.consumed.entry(jti.into()) {
            Entry::Occupied(first) => ConsumeOutcome::Reused {
                first_used_ms: first.get().used_ms,
                latest_in_session: self.maps.latest.get(sid).is_some_and(|l| &*l.jti == jti),
            },
            Entry::Vacant(slot) => {
                slot.insert(Consumed {
                    used_ms,
                    expires_at,
                });
                self.maps.latest.insert(
                    sid.into(),
                    Latest {
                        jti: jti.into(),
                        expires_at,
                    },
                );
                ConsumeOutcome::First
            }
        }
    }

    /// Fills the local maps from the backend (call once at start). Returns how many live
    /// entries were loaded; without a backend, 0.
    pub async fn load(&self) -> Result<usize, RevocationError> {
        let Some(backend) = &self.backend else {
            return Ok(0);
        };
        let entries = backend
            .load(self.clock.now_secs())
            .await
            .map_err(RevocationError::Backend)?;
        let n = entries.len();
        for entry in entries {
            self.apply(entry);
        }
        self.ready.store(true, Ordering::Release);
        Ok(n)
    }

    /// Forgets every local entry whose time has passed; returns how many were dropped.
    /// An entry is kept up to and including its `expires_at` second.
    pub fn purge_expired(&self) -> usize {
        let now = self.clock.now_secs();
        let mut dropped = 0;
        let mut keep = |expires_at: u64| {
            let live = expires_at >= now;
            if !live {
                dropped += 1;
            }
            live
        };
        self.maps.tokens.retain(|_, e| keep(*e));
        self.maps.sessions.retain(|_, e| keep(*e));
        self.maps.subjects.retain(|_, c| keep(c.expires_at));
        self.maps.consumed.retain(|_, c| keep(c.expires_at));
        self.maps.latest.retain(|_, l| l.expires_at >= now);
        dropped
    }

    /// Purges expired entries every `every`, locally and in the backend, for as long as the
    /// returned future runs: spawn it next to the server
    /// (`tokio::spawn(store.clone().purge_periodically(Duration::from_secs(60)))`).
    /// A backend failure is retried at the next tick; nothing else stops the loop.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_jwt_auth::RevocationStore;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build()?.block_on(async {
    /// let store = RevocationStore::new();
    /// let task = tokio::spawn(store.clone().purge_periodically(Duration::from_secs(60)));
    /// task.abort();
    /// # });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn purge_periodically(self, every: Duration) {
        let mut ticks = tokio::time::interval(every.max(Duration::from_millis(1)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            self.purge_expired();
            if let Some(backend) = &self.backend {
                // Errors are transient by nature here; the next tick retries.
                let _ = backend.purge_expired(self.clock.now_secs()).await;
            }
        }
    }

    /// The number of live local entries (revocations and consumed refresh tokens).
    pub fn len(&self) -> usize {
        self.maps.tokens.len()
            + self.maps.sessions.len()
            + self.maps.subjects.len()
            + self.maps.consumed.len()
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

    fn claims(jti: &str, sid: &str, sub: &str, iat_ms: Option<u64>, iat: u64) -> Claims {
        let json = serde_json::json!({
            "sub": sub, "exp": iat + 60, "iat": iat, "jti": jti, "sid": sid, "iat_ms": iat_ms
        });
        Claims::from_json(json.to_string().as_bytes()).unwrap()
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn each_kind_of_entry_revokes_what_it_covers() {
        let store = RevocationStore::new();
        let c = claims("j1", "s1", "alice", Some(10_000), 10);
        assert!(!store.is_revoked(&c));
        block_on(store.revoke(RevocationEntry::Token {
            jti: "j1".into(),
            expires_at: 70,
        }))
        .unwrap();
        assert!(store.is_revoked(&c));
        assert!(!store.is_revoked(&claims("j2", "s1", "alice", Some(10_000), 10)));

        block_on(store.revoke(RevocationEntry::Session {
            sid: "s1".into(),
            expires_at: 70,
        }))
        .unwrap();
        assert!(store.is_revoked(&claims("j2", "s1", "alice", Some(10_000), 10)));
        assert!(!store.is_revoked(&claims("j3", "s2", "alice", Some(10_000), 10)));

        block_on(store.revoke(RevocationEntry::Subject {
            sub: "alice".into(),
            cutoff_ms: 10_500,
            expires_at: 100,
        }))
        .unwrap();
        assert!(store.is_revoked(&claims("j3", "s2", "alice", Some(10_000), 10)));
        assert!(store.is_revoked(&claims("j3", "s2", "alice", Some(10_500), 10)));
        assert!(!store.is_revoked(&claims("j3", "s2", "alice", Some(10_501), 10)));
        assert!(!store.is_revoked(&claims("j3", "s2", "bob", Some(10_000), 10)));
        // Without millisecond precision, a token of the cut-off's second is revoked.
        assert!(store.is_revoked(&claims("j4", "s3", "alice", None, 10)));
        assert!(!store.is_revoked(&claims("j4", "s3", "alice", None, 11)));
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
        let store = RevocationStore::new().with_clock(clock.clone());
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
            store.consume("r", "s", 150).await?;
            Ok::<_, RevocationError>(())
        })
        .unwrap();
        assert_eq!(store.len(), 4);
        clock.set_secs(150);
        assert_eq!(store.purge_expired(), 0, "kept through its last second");
        clock.set_secs(151);
        assert_eq!(store.purge_expired(), 2);
        assert!(!store.is_token_revoked("t"));
        assert!(store.is_session_revoked("s"));
        clock.set_secs(251);
        assert_eq!(store.purge_expired(), 2);
        assert!(store.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn the_purge_task_runs_on_tokio_time() {
        let clock = MockClock::at_secs(100);
        let store = RevocationStore::new().with_clock(clock.clone());
        store
            .revoke(RevocationEntry::Token {
                jti: "t".into(),
                expires_at: 150,
            })
            .await
            .unwrap();
        let task = tokio::spawn(store.clone().purge_periodically(Duration::from_secs(60)));
        tokio::time::sleep(Duration::from_secs(61)).await;
        assert_eq!(store.len(), 1, "not expired yet");
        clock.set_secs(151);
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(store.is_empty());
        task.abort();
    }

    #[test]
    fn consume_tells_first_use_from_reuse_and_the_latest_token() {
        let clock = MockClock::at_millis(1_000);
        let store = RevocationStore::new().with_clock(clock.clone());
        assert_eq!(
            block_on(store.consume("a", "s", 99)).unwrap(),
            ConsumeOutcome::First
        );
        clock.advance(Duration::from_millis(250));
        assert_eq!(
            block_on(store.consume("a", "s", 99)).unwrap(),
            ConsumeOutcome::Reused {
                first_used_ms: 1_000,
                latest_in_session: true
            }
        );
        assert_eq!(
            block_on(store.consume("b", "s", 99)).unwrap(),
            ConsumeOutcome::First
        );
        assert_eq!(
            block_on(store.consume("a", "s", 99)).unwrap(),
            ConsumeOutcome::Reused {
                first_used_ms: 1_000,
                latest_in_session: false
            }
        );
    }
}
