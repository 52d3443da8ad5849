//! The in-process reference backend.

use std::{
    collections::HashSet,
    fmt,
    sync::{Arc, Mutex, PoisonError},
};

use dashmap::{DashMap, mapref::entry::Entry};
use futures::{StreamExt, channel::mpsc, future};

use super::{
    BoxFuture, Change, ChangeStream, Heartbeat, LiveSession, NewSession, RevocationBackend,
    RevocationEntry, RotateOutcome, Rotation, deny::DenyList, record::refresh_token_id,
};
use crate::{
    dpop::{MemoryReplayCache, ReplayCache, ReplayKey},
    store::BoxError,
};

/// A refresh token as a record keeps it ([`refresh_token_id`]).
type TokenId = u64;

/// One session record. The subject, start time and label are kept for listing a subject's
/// sessions.
#[derive(Debug)]
struct Record {
    current: TokenId,
    /// The previous refresh token; meaningful only when `superseded_ms` is set.
    previous: TokenId,
    /// When `previous` was superseded; `None` before the first rotation.
    superseded_ms: Option<u64>,
    forget_after: u64,
    sub: Box<str>,
    started_ms: u64,
    /// When the latest rotation happened; `None` before the first.
    last_refreshed_ms: Option<u64>,
    label: Option<Box<str>>,
}

#[derive(Debug, Default)]
struct State {
    /// Session records. A revoked session is the deny-list's, held at least as long as its
    /// record; updates to both happen under the record's lock, record first.
    sessions: DashMap<Box<str>, Record>,
    deny: DenyList,
    feed: Mutex<Vec<mpsc::UnboundedSender<Result<Change, BoxError>>>>,
    /// The index of the records by subject: `sub` → the `sid`s of its records. Updated
    /// after the records (never while a subject's entry is held, a record's lock is taken).
    by_subject: DashMap<Box<str>, HashSet<Box<str>>>,
    /// The DPoP proofs seen, until their time.
    replay: MemoryReplayCache,
}

/// The in-process [`RevocationBackend`]: session records and deny-list entries in concurrent
/// maps, and a change feed to every store subscribed to it.
///
/// It is what a [`RevocationStore`](super::RevocationStore) uses when no other backend is
/// configured. Clones share one state, so two stores over clones of one `MemoryBackend`
/// behave like two instances of an application over one shared database (tests use it so).
/// Nothing survives the process.
///
/// A record costs under 256 bytes of memory, plus its subject and label and an entry in the
/// index by subject, and nothing more per refresh: a rotation
/// overwrites the record in place.
///
/// # Example
///
/// ```
/// use std::sync::Arc;
/// use tower_jwt_auth::store::{MemoryBackend, RevocationStore};
///
/// let shared = Arc::new(MemoryBackend::new());
/// // Two stores over one state: what one revokes, the other learns from the change feed.
/// let a = RevocationStore::builder().with_backend(shared.clone()).build();
/// let b = RevocationStore::builder().with_backend(shared).build();
/// # let _ = (a, b);
/// ```
#[derive(Clone, Default)]
pub struct MemoryBackend {
    state: Arc<State>,
}

impl fmt::Debug for MemoryBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryBackend")
            .field("sessions", &self.state.sessions.len())
            .field("entries", &self.state.deny.len())
            .finish()
    }
}

impl MemoryBackend {
    /// An empty backend.
    ///
    /// ```
    /// use tower_jwt_auth::store::MemoryBackend;
    ///
    /// assert_eq!(MemoryBackend::new().session_count(), 0);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// How many session records are held (live, or not yet purged).
    ///
    /// ```
    /// use tower_jwt_auth::store::MemoryBackend;
    ///
    /// assert_eq!(MemoryBackend::new().session_count(), 0);
    /// ```
    pub fn session_count(&self) -> usize {
        self.state.sessions.len()
    }

    fn publish(&self, entry: &RevocationEntry) {
        self.send(&Change::Entry(entry.clone()));
    }

    /// Sends `change` to every feed, under the feeds' lock: every feed gets the changes in
    /// one order.
    fn send(&self, change: &Change) {
        let mut feed = self
            .state
            .feed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        feed.retain(|tx| tx.unbounded_send(Ok(change.clone())).is_ok());
    }

    fn create(&self, session: &NewSession<'_>) {
        let slot = self.state.sessions.entry(session.sid.into());
        // A session revoked without a record (a tombstone) is a record too: left as it is,
        // under the record's lock, so that it is never revived once its entry is forgotten.
        if self.state.deny.is_session_revoked(session.sid) {
            return;
        }
        if let Entry::Vacant(slot) = slot {
            slot.insert(Record {
                current: refresh_token_id(session.refresh_jti),
                previous: 0,
                superseded_ms: None,
                forget_after: session.forget_after,
                sub: session.sub.into(),
                started_ms: session.started_ms,
                last_refreshed_ms: None,
                label: session.label.filter(|l| !l.is_empty()).map(Into::into),
            });
            self.state
                .by_subject
                .entry(session.sub.into())
                .or_default()
                .insert(session.sid.into());
        }
    }

    fn list_now(&self, sub: &str, now: u64) -> Vec<LiveSession> {
        let deny = &self.state.deny;
        // Copied out first: no subject's entry is held while a record's lock is taken.
        let sids: Vec<Box<str>> = self
            .state
            .by_subject
            .get(sub)
            .map(|sids| sids.iter().cloned().collect())
            .unwrap_or_default();
        let cutoff_ms = deny.live_subject_cutoff_ms(sub, now);
        let mut live: Vec<LiveSession> = sids
            .iter()
            .filter_map(|sid| {
                let record = self.state.sessions.get(sid)?;
                let listed = *record.sub == *sub
                    && record.forget_after >= now
                    && !deny.is_session_revoked(sid)
                    && cutoff_ms.is_none_or(|cutoff| record.started_ms > cutoff);
                listed.then(|| {
                    LiveSession::new(sid.as_ref(), record.started_ms)
                        .with_last_refreshed_ms(record.last_refreshed_ms)
                        .with_label(record.label.as_deref().map(str::to_owned))
                })
            })
            .collect();
        live.sort_by(|a, b| (a.started_ms, &a.sid).cmp(&(b.started_ms, &b.sid)));
        live
    }

    fn rotate_now(&self, rotation: &Rotation<'_>) -> RotateOutcome {
        let deny = &self.state.deny;
        let revoked = |forget_after| RotateOutcome::Revoked { forget_after };
        let Some(mut record) = self.state.sessions.get_mut(rotation.sid) else {
            // A session revoked without a record of it (a logout on another instance's
            // word) is revoked all the same.
            return deny
                .session_revoked_until(rotation.sid)
                .map_or(RotateOutcome::Unknown, revoked);
        };
        if let Some(until) = deny.session_revoked_until(rotation.sid) {
            return revoked(until);
        }
        let presented = refresh_token_id(rotation.presented_jti);
        let is_current = presented == record.current;
        let is_retry_in_grace = !is_current
            && rotation.grace_ms > 0
            && record.superseded_ms.is_some_and(|at| {
                presented == record.previous
                    && rotation.now_ms.saturating_sub(at) <= rotation.grace_ms
            });
        if !is_current && !is_retry_in_grace {
            let forget_after = record.forget_after;
            deny.revoke_session(rotation.sid, forget_after);
            drop(record);
            self.publish(&RevocationEntry::Session {
                sid: rotation.sid.to_owned(),
                expires_at: forget_after,
            });
            return RotateOutcome::Reused { forget_after };
        }
        if is_current {
            record.previous = record.current;
            record.superseded_ms = Some(rotation.now_ms);
        }
        // On a retry in the grace window the successor replaces the current token, so the
        // branch handed out first can no longer refresh.
        record.current = refresh_token_id(rotation.next_jti);
        record.forget_after = record.forget_after.max(rotation.forget_after);
        record.last_refreshed_ms = Some(rotation.now_ms);
        RotateOutcome::Rotated
    }

    pub(super) fn record(&self, entry: &RevocationEntry) {
        match entry {
            RevocationEntry::Session { sid, expires_at } => {
                // Under the record's lock, and for at least as long as the record lives, so
                // that no rotation slips in and purging never revives the session.
                let record = self.state.sessions.get(sid.as_str());
                let until = record
                    .as_ref()
                    .map_or(*expires_at, |r| r.forget_after.max(*expires_at));
                self.state.deny.revoke_session(sid, until);
            }
            _ => self.state.deny.apply(entry),
        }
    }

    fn purge_now(&self, now: u64) -> u64 {
        let mut dropped = self.state.deny.purge(now);
        let mut gone = Vec::new();
        self.state.sessions.retain(|sid, r| {
            let live = r.forget_after >= now;
            dropped += usize::from(!live);
            if !live {
                gone.push((r.sub.clone(), sid.clone()));
            }
            live
        });
        self.unindex(gone);
        dropped += self.state.replay.purge(now.saturating_mul(1000));
        dropped as u64
    }

    /// Drops purged records from the index by subject.
    fn unindex(&self, gone: Vec<(Box<str>, Box<str>)>) {
        let by_subject = &self.state.by_subject;
        for (sub, sid) in gone {
            if let Some(mut sids) = by_subject.get_mut(&sub) {
                sids.remove(&sid);
            }
            by_subject.remove_if(&sub, |_, sids| sids.is_empty());
        }
    }
}

// Each operation runs when its future is first polled, as a database call would: a future
// that is dropped unpolled has done nothing.
impl RevocationBackend for MemoryBackend {
    fn create_session<'a>(&'a self, s: &'a NewSession<'a>) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(future::lazy(move |_| {
            self.create(s);
            Ok(())
        }))
    }

    fn rotate<'a>(
        &'a self,
        rotation: &'a Rotation<'a>,
    ) -> BoxFuture<'a, Result<RotateOutcome, BoxError>> {
        Box::pin(async move { Ok(self.rotate_now(rotation)) })
    }

    fn revoke<'a>(&'a self, entry: &'a RevocationEntry) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            self.record(entry);
            self.publish(entry);
            Ok(())
        })
    }

    fn load(&self, now: u64) -> BoxFuture<'_, Result<Vec<RevocationEntry>, BoxError>> {
        Box::pin(async move { Ok(self.state.deny.live(now)) })
    }

    fn subscribe(&self) -> BoxFuture<'_, Result<ChangeStream, BoxError>> {
        Box::pin(async move {
            let (tx, rx) = mpsc::unbounded();
            self.state
                .feed
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(tx);
            Ok(rx.boxed())
        })
    }

    fn purge(&self, now: u64) -> BoxFuture<'_, Result<u64, BoxError>> {
        Box::pin(async move { Ok(self.purge_now(now)) })
    }

    fn heartbeat<'a>(&'a self, beat: &'a Heartbeat) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(future::lazy(move |_| {
            self.send(&Change::Heartbeat(*beat));
            Ok(())
        }))
    }

    fn list_sessions<'a>(
        &'a self,
        sub: &'a str,
        now: u64,
    ) -> BoxFuture<'a, Result<Vec<LiveSession>, BoxError>> {
        Box::pin(async move { Ok(self.list_now(sub, now)) })
    }

    fn replay_cache(&self) -> Option<Arc<dyn ReplayCache>> {
        Some(Arc::new(self.clone()))
    }
}

/// The backend's DPoP replay cache: a [`MemoryReplayCache`] of the default size, shared by
/// the clones (so by every store over them) and purged with the rest of the state.
///
/// ```
/// use tower_jwt_auth::{dpop::{ReplayCache, ReplayKey}, store::MemoryBackend};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let backend = MemoryBackend::new();
/// let key = ReplayKey::new("jkt", "jti");
/// assert!(backend.first_use(&key, 1_000, 61_000).await?);
/// assert!(!backend.clone().first_use(&key, 2_000, 61_000).await?);
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
impl ReplayCache for MemoryBackend {
    fn first_use<'a>(
        &'a self,
        key: &'a ReplayKey,
        now_millis: u64,
        expires_at_millis: u64,
    ) -> BoxFuture<'a, Result<bool, BoxError>> {
        self.state
            .replay
            .first_use(key, now_millis, expires_at_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creating_a_session_again_leaves_it_as_it_was() {
        let backend = MemoryBackend::new();
        backend.create(&NewSession::new("s", "alice", 1_500, "r0", 100));
        backend.create(&NewSession::new("s", "bob", 9, "r9", 9));
        let rotation = Rotation::new("s", "r0", "r1", 2_000, 0, 100);
        assert_eq!(backend.rotate_now(&rotation), RotateOutcome::Rotated);
    }
}
