//! The persistent, shared side of the revocation state: the contract every backend keeps.

use std::{fmt, future::Future, pin::Pin, sync::Arc};

use futures::Stream;
#[cfg(any(feature = "redis", feature = "postgres"))]
use serde::{Deserialize, Serialize};

use super::{LiveSession, NewSession, RevocationEntry, RotateOutcome, Rotation};
use crate::{dpop::ReplayCache, store::BoxError};

/// A boxed, `Send` future, as returned by [`RevocationBackend`] methods so that the trait can
/// be used as `Arc<dyn RevocationBackend>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The change feed of a [`RevocationBackend`]: every revocation recorded, and every
/// heartbeat published, through any handle of the shared state, in the order the backend
/// took them. An `Err` item, or the end of the stream, is a gap: changes may have been
/// missed, and the store reloads the whole state before it follows a new feed.
pub type ChangeStream = Pin<Box<dyn Stream<Item = Result<Change, BoxError>> + Send>>;

/// One item of a [`ChangeStream`].
///
/// ```
/// use tower_jwt_auth::store::{Change, Heartbeat, RevocationEntry};
///
/// let change = Change::Heartbeat(Heartbeat { origin: 7, seq: 1 });
/// assert!(!matches!(change, Change::Entry(RevocationEntry::Token { .. })));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// A deny-list entry recorded by [`revoke`](RevocationBackend::revoke) or by a reuse in
    /// [`rotate`](RevocationBackend::rotate).
    Entry(RevocationEntry),
    /// A heartbeat published by [`heartbeat`](RevocationBackend::heartbeat).
    Heartbeat(Heartbeat),
}

/// A mark that a [`RevocationStore`](super::RevocationStore) publishes through
/// [`RevocationBackend::heartbeat`] and watches for on its own change feed: when its own
/// mark comes back, every change published before the mark was sent has reached it.
///
/// ```
/// use tower_jwt_auth::store::Heartbeat;
///
/// let beat = Heartbeat { origin: 0x5eed, seq: 42 };
/// assert_eq!(beat.seq, 42);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Heartbeat {
    /// The store that published it: a random id, one per store.
    pub origin: u64,
    /// The store's count of the heartbeats it published, from 1.
    pub seq: u64,
}

/// A heartbeat as the shared backends carry it next to the entries' JSON: a JSON object of
/// its own kind, which no entry decodes as.
#[cfg(any(feature = "redis", feature = "postgres"))]
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Mark {
    Heartbeat { origin: u64, seq: u64 },
}

/// The JSON message of a heartbeat on a backend's channel.
#[cfg(any(feature = "redis", feature = "postgres"))]
pub(crate) fn heartbeat_message(beat: &Heartbeat) -> String {
    let Heartbeat { origin, seq } = *beat;
    // A struct of two integers always encodes.
    serde_json::to_string(&Mark::Heartbeat { origin, seq }).unwrap_or_default()
}

/// Decodes a message of a backend's channel: an entry, or a heartbeat.
#[cfg(any(feature = "redis", feature = "postgres"))]
pub(crate) fn decode_change(message: &[u8]) -> Result<Change, serde_json::Error> {
    serde_json::from_slice(message)
        .map(Change::Entry)
        .or_else(|err| match serde_json::from_slice(message) {
            Ok(Mark::Heartbeat { origin, seq }) => Ok(Change::Heartbeat(Heartbeat { origin, seq })),
            Err(_) => Err(err),
        })
}

/// Revocation state shared by every instance of an application: session records and
/// deny-list entries, with a change feed.
///
/// The [`RevocationStore`](super::RevocationStore) of each instance keeps the deny-list in a
/// local map that the verifier reads on every request, and sends every write here first: when
/// a write fails, the operation fails (closed) and nothing changes locally. The store follows
/// [`subscribe`](Self::subscribe) to learn what the other instances revoked, and calls
/// [`load`](Self::load) at start and after every gap in the feed.
///
/// # State
///
/// - **Session records**, one per `sid`: subject, start time, the *current* refresh token
///   (the one token of the session that can refresh), the *previous* one and when it was
///   superseded, a revoked flag and a forget-after time; and, for
///   [`list_sessions`](Self::list_sessions), the label given at the start and when the
///   session was last refreshed, with an index of the records by subject.
/// - **Deny-list entries** ([`RevocationEntry`]): a token by `jti`, a session by `sid`, a
///   session's access watermark, a subject's "log out everywhere" cut-off. Each has a
///   forget-after time.
///
/// Times are seconds since the Unix epoch unless a name ends in `_ms`. A record or entry is
/// *live* at `now` while its forget-after time is `>= now`.
///
/// # Atomicity
///
/// [`rotate`](Self::rotate) is one atomic step across every instance that shares the state:
/// among any number of concurrent rotations of one session, each sees the effect of the ones
/// ordered before it. Redis does it in one Lua script on the keys of one session (a hash tag
/// keeps them in one slot); SQL does it as `UPDATE … WHERE sid = $1 AND current = $2` (or a
/// transaction that locks the row), the affected-row count naming the winner. The other
/// methods are single writes that must be idempotent.
///
/// # Errors
///
/// Every method returns `Err` when it cannot tell for sure that it did what it says (a lost
/// connection, a timeout, a failed query); the cause is kept in the error. The store then
/// fails the operation closed (HTTP 503) and mints nothing.
///
/// The crate's [`MemoryBackend`](super::MemoryBackend) is the reference implementation; the
/// `conformance` suite (feature `test-util`) checks any backend against this contract.
///
/// # Example
///
/// A backend that counts reuse detections and leaves the state to another one:
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use tower_jwt_auth::store::{
///     BoxError, BoxFuture, ChangeStream, Heartbeat, MemoryBackend, NewSession, LiveSession,
///     RevocationBackend, RevocationEntry, RotateOutcome, Rotation,
/// };
///
/// #[derive(Debug, Default)]
/// struct Counted {
///     inner: MemoryBackend,
///     reused: AtomicU64,
/// }
///
/// impl RevocationBackend for Counted {
///     fn create_session<'a>(&'a self, s: &'a NewSession<'a>) -> BoxFuture<'a, Result<(), BoxError>> {
///         self.inner.create_session(s)
///     }
///     fn rotate<'a>(&'a self, r: &'a Rotation<'a>) -> BoxFuture<'a, Result<RotateOutcome, BoxError>> {
///         Box::pin(async move {
///             let outcome = self.inner.rotate(r).await?;
///             if matches!(outcome, RotateOutcome::Reused { .. }) {
///                 self.reused.fetch_add(1, Ordering::Relaxed);
///             }
///             Ok(outcome)
///         })
///     }
///     fn revoke<'a>(&'a self, e: &'a RevocationEntry) -> BoxFuture<'a, Result<(), BoxError>> {
///         self.inner.revoke(e)
///     }
///     fn load(&self, now: u64) -> BoxFuture<'_, Result<Vec<RevocationEntry>, BoxError>> {
///         self.inner.load(now)
///     }
///     fn subscribe(&self) -> BoxFuture<'_, Result<ChangeStream, BoxError>> {
///         self.inner.subscribe()
///     }
///     fn purge(&self, now: u64) -> BoxFuture<'_, Result<u64, BoxError>> {
///         self.inner.purge(now)
///     }
///     fn heartbeat<'a>(&'a self, beat: &'a Heartbeat) -> BoxFuture<'a, Result<(), BoxError>> {
///         self.inner.heartbeat(beat)
///     }
///     fn list_sessions<'a>(&'a self, sub: &'a str, now: u64) -> BoxFuture<'a, Result<Vec<LiveSession>, BoxError>> {
///         self.inner.list_sessions(sub, now)
///     }
/// }
/// ```
pub trait RevocationBackend: Send + Sync + fmt::Debug + 'static {
    /// Creates the record of a session that starts now, with `session.refresh_jti` as its
    /// current refresh token, no previous token, not revoked.
    ///
    /// Called at login, before any token of the session is handed out. If a record of
    /// `session.sid` exists already (the crate never reuses a `sid`), live or revoked, a
    /// revoked tombstone included, it is left as it is: its tokens, its revoked flag and its
    /// forget-after time.
    fn create_session<'a>(
        &'a self,
        session: &'a NewSession<'a>,
    ) -> BoxFuture<'a, Result<(), BoxError>>;

    /// Rotates the session's refresh token, atomically (a compare-and-swap on the current
    /// token), and returns what it found:
    ///
    /// 1. no record of `rotation.sid` → [`RotateOutcome::Unknown`], nothing changes;
    /// 2. the record is revoked → [`RotateOutcome::Revoked`], nothing changes;
    /// 3. `presented_jti` is the current token → the current token becomes the previous one,
    ///    superseded at `now_ms`; `next_jti` becomes current → [`RotateOutcome::Rotated`];
    /// 4. `grace_ms > 0`, `presented_jti` is the previous token and
    ///    `now_ms - superseded_ms <= grace_ms` (a client retrying a refresh whose response it
    ///    lost) → `next_jti` *replaces* the current token; the previous token and its
    ///    superseded time stay as they were, so the window never moves →
    ///    [`RotateOutcome::Rotated`];
    /// 5. anything else (an older token, the previous one outside the window, any other
    ///    `jti`) is reuse → the record is revoked in the same step and
    ///    [`RotateOutcome::Reused`] is returned; the revocation is published on the change
    ///    feed as a [`RevocationEntry::Session`].
    ///
    /// In cases 3 and 4 the record's forget-after time becomes the later of its own and
    /// `rotation.forget_after`. `Revoked` and `Reused` report until when the session is held
    /// revoked (never before the record's forget-after time): the time [`load`](Self::load)
    /// reports for the session.
    /// So at any moment exactly one refresh token of a session can refresh.
    ///
    /// A rotation does not consult subject cut-offs ([`RevocationEntry::Subject`]): a
    /// session of a subject logged out everywhere rotates as any other. The cut-off is
    /// enforced where every token is checked: each token carries its session's start, every
    /// refreshed pair keeps it, and the verifier refuses a token (the refresh token presented
    /// for this rotation included) whose session started at or before its subject's cut-off.
    /// A rotation knows only the session, and a subject's entry may live apart from the
    /// session's record (in another slot of a Redis Cluster).
    fn rotate<'a>(
        &'a self,
        rotation: &'a Rotation<'a>,
    ) -> BoxFuture<'a, Result<RotateOutcome, BoxError>>;

    /// Records a deny-list entry and publishes it on the change feed.
    ///
    /// - [`RevocationEntry::Token`]: the token `jti` is revoked.
    /// - [`RevocationEntry::Session`]: the session is revoked; its record (if any) is marked
    ///   revoked, so that [`rotate`](Self::rotate) answers `Revoked`. Without a record, one
    ///   is kept as a revoked tombstone.
    ///   The session is held revoked until the later of `expires_at` and the record's
    ///   forget-after time.
    /// - [`RevocationEntry::Access`]: the session's watermark: its access tokens numbered
    ///   `seq` or lower are refused by the verifier. One entry per session: recorded again,
    ///   the higher number and the later forget-after time win, each on its own. It marks no
    ///   session record and changes no rotation: the refresh token stays valid.
    /// - [`RevocationEntry::Subject`]: the subject's cut-off: every token of a session of
    ///   `sub` started at or before `cutoff_ms` is refused by the verifier. The backend
    ///   records the cut-off, returns it from [`load`](Self::load) and publishes it; it marks
    ///   no session record (see [`rotate`](Self::rotate)). A later cut-off is never replaced
    ///   by an earlier one.
    ///
    /// Recording an entry again is not an error: the later forget-after time (and cut-off)
    /// wins, each on its own (an entry recorded again with an earlier cut-off but a later
    /// forget-after time keeps the later cut-off and takes the later time).
    fn revoke<'a>(&'a self, entry: &'a RevocationEntry) -> BoxFuture<'a, Result<(), BoxError>>;

    /// Every deny-list entry live at `now`, to fill a new store or to catch up after a gap
    /// in the feed: token entries, access watermarks, subject cut-offs, and one
    /// [`RevocationEntry::Session`] per revoked session record (with the record's
    /// forget-after time).
    fn load(&self, now: u64) -> BoxFuture<'_, Result<Vec<RevocationEntry>, BoxError>>;

    /// The change feed: every entry recorded by [`revoke`](Self::revoke) or by a reuse in
    /// [`rotate`](Self::rotate), and every [`heartbeat`](Self::heartbeat), through any
    /// handle of the shared state, after the returned stream was created. Delivery is at
    /// least once (applying an entry twice is harmless); an `Err` item or the end of the
    /// stream says that changes may have been lost.
    ///
    /// The feed is ordered: a change whose call returned `Ok` before another call started
    /// (on any handle) comes before it on every feed.
    fn subscribe(&self) -> BoxFuture<'_, Result<ChangeStream, BoxError>>;

    /// Publishes `beat` on the change feed, through the same path as the entries (the same
    /// channel, the same queue), and records nothing.
    ///
    /// The store that sent it learns from its return on its own feed that every change
    /// published before the call started has reached it: that is how it bounds how stale
    /// its deny-list may be ([`with_max_staleness`](super::RevocationStoreBuilder::with_max_staleness)).
    /// So a heartbeat must never overtake a change published before it, on any feed; it may
    /// be lost with the feed (a gap, or a feed that stays silent: the store then stops
    /// trusting its state and subscribes again). `Ok` means that the backend took it.
    fn heartbeat<'a>(&'a self, beat: &'a Heartbeat) -> BoxFuture<'a, Result<(), BoxError>>;

    /// Deletes every record and entry that is no longer live at `now` (whose forget-after
    /// time is before `now`); returns how many it deleted (0 when nothing was left to
    /// delete). Nothing live is ever deleted.
    ///
    /// A revoked session counts once where its record is its deny-list entry (the SQL
    /// backends), and as a record and an entry, each when it is deleted, where the two are
    /// kept apart ([`MemoryBackend`](super::MemoryBackend), Redis). A store that forgets
    /// expired data by itself (Redis) counts only what the purge deleted.
    fn purge(&self, now: u64) -> BoxFuture<'_, Result<u64, BoxError>>;

    /// The live sessions of the subject `sub` at `now`, oldest first (by start time, then by
    /// `sid`), each with its start time and label as [`create_session`](Self::create_session)
    /// recorded them and when it was last refreshed: the `now_ms` of its latest rotation
    /// that answered [`RotateOutcome::Rotated`] (`None` before the first).
    ///
    /// A session is listed if and only if its record was created for `sub` (a record
    /// created again for another subject stays its first subject's), is live at `now`
    /// (forget-after time `>= now`), is not revoked (by [`revoke`](Self::revoke) or by a
    /// reuse in [`rotate`](Self::rotate)), and started after the subject's cut-off, if any
    /// ([`RevocationEntry::Subject`] live at `now`: a session started at or before
    /// `cutoff_ms` is not listed). A revoked tombstone is never listed; a purged record is
    /// gone.
    ///
    /// A read: it changes no record or entry (a backend may drop what its index still holds
    /// of records that are gone). A backend that cannot tell returns `Err`, and so does one
    /// that does not implement this method (the default): listing and the per-subject
    /// session cap then fail closed.
    fn list_sessions<'a>(
        &'a self,
        sub: &'a str,
        now: u64,
    ) -> BoxFuture<'a, Result<Vec<LiveSession>, BoxError>> {
        let _ = (sub, now);
        Box::pin(async { Err("this revocation backend does not list sessions".into()) })
    }

    /// The DPoP replay cache that this backend shares between the instances, if it keeps
    /// one: each proof recorded until its time, so that a proof accepted by any instance is
    /// refused by every other ([`ReplayCache::first_use`]). Every backend of the crate keeps
    /// one (itself: [`MemoryBackend`](super::MemoryBackend) in its process, Redis, PostgreSQL,
    /// SQLite in the shared state). The default is `None`: the
    /// [`RevocationStore`](super::RevocationStore) then keeps a bounded cache in its own
    /// process ([`replay_cache`](super::RevocationStore::replay_cache)).
    ///
    /// Conformance: the answer does not depend on the handle (a proof recorded through one
    /// handle is a replay through any other), a key may be accepted again once expired (but
    /// need not be), and an expired proof never blocks forever ([`purge`](Self::purge)
    /// removes it, or it expires by itself).
    ///
    /// ```
    /// use tower_jwt_auth::{dpop::ReplayKey, store::{MemoryBackend, RevocationBackend}};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let backend = MemoryBackend::new();
    /// let cache = backend.replay_cache().expect("the in-process backend keeps one");
    /// let key = ReplayKey::new("jkt", "jti");
    /// assert!(cache.first_use(&key, 1_000, 61_000).await?);
    /// assert!(!cache.first_use(&key, 2_000, 61_000).await?);
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    fn replay_cache(&self) -> Option<Arc<dyn ReplayCache>> {
        None
    }
}
