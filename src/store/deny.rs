//! The deny-list: revoked tokens, revoked sessions with their access watermarks, and "log
//! out everywhere" cut-offs, each with the time after which it can be forgotten. The store's local state and the in-process
//! backend's shared state are both one.

use dashmap::DashMap;

use super::RevocationEntry;

#[derive(Debug, Clone, Copy)]
struct Cutoff {
    cutoff_ms: u64,
    expires_at: u64,
}

/// The access tokens of a session numbered `seq` or lower are revoked until `until`.
#[derive(Debug, Clone, Copy)]
struct Watermark {
    seq: u64,
    until: u64,
}

/// What the deny-list holds of one session: the session revoked, its access watermark, or
/// both, each with its own forget-after time. One slot per session, so that the verifier
/// finds both with one lookup.
#[derive(Debug, Clone, Copy, Default)]
struct SessionSlot {
    /// The session is revoked (every token of it) until then.
    revoked_until: Option<u64>,
    access: Option<Watermark>,
}

impl SessionSlot {
    /// How many entries the slot holds (0 to 2).
    fn entries(&self) -> usize {
        usize::from(self.revoked_until.is_some()) + usize::from(self.access.is_some())
    }
}

/// Concurrent maps of deny-list entries. Lookups are synchronous and allocation-free.
#[derive(Debug, Default)]
pub(super) struct DenyList {
    /// Revoked tokens: `jti` → forget after.
    tokens: DashMap<Box<str>, u64>,
    /// Revoked sessions and access watermarks: `sid` → slot.
    sessions: DashMap<Box<str>, SessionSlot>,
    /// "Log out everywhere" cut-offs: `sub` → cut-off.
    subjects: DashMap<Box<str>, Cutoff>,
}

impl DenyList {
    /// Records `entry`. Idempotent: the later forget-after time (and cut-off) always wins.
    pub(super) fn apply(&self, entry: &RevocationEntry) {
        let keep_later = |slot: &mut u64, at: u64| *slot = (*slot).max(at);
        match entry {
            RevocationEntry::Token { jti, expires_at } => {
                keep_later(
                    &mut self.tokens.entry(jti.as_str().into()).or_insert(0),
                    *expires_at,
                );
            }
            RevocationEntry::Session { sid, expires_at } => self.revoke_session(sid, *expires_at),
            RevocationEntry::Access {
                sid,
                seq,
                expires_at,
            } => {
                let mut slot = self.sessions.entry(sid.as_str().into()).or_default();
                let mark = slot.access.get_or_insert(Watermark { seq: 0, until: 0 });
                keep_later(&mut mark.seq, *seq);
                keep_later(&mut mark.until, *expires_at);
            }
            RevocationEntry::Subject {
                sub,
                cutoff_ms,
                expires_at,
            } => {
                let mut slot = self.subjects.entry(sub.as_str().into()).or_insert(Cutoff {
                    cutoff_ms: 0,
                    expires_at: 0,
                });
                keep_later(&mut slot.cutoff_ms, *cutoff_ms);
                keep_later(&mut slot.expires_at, *expires_at);
            }
        }
    }

    /// Holds the session `sid` revoked until at least `until`.
    pub(super) fn revoke_session(&self, sid: &str, until: u64) {
        let mut slot = self.sessions.entry(sid.into()).or_default();
        slot.revoked_until = Some(slot.revoked_until.unwrap_or(0).max(until));
    }

    pub(super) fn is_token_revoked(&self, jti: &str) -> bool {
        self.tokens.contains_key(jti)
    }

    /// The time until which the session `sid` is held revoked, if it is.
    pub(super) fn session_revoked_until(&self, sid: &str) -> Option<u64> {
        self.sessions.get(sid).and_then(|slot| slot.revoked_until)
    }

    pub(super) fn is_session_revoked(&self, sid: &str) -> bool {
        self.session_revoked_until(sid).is_some()
    }

    /// `true` if the session `sid` is revoked, or, for an access token numbered
    /// `access_seq`, if its session's watermark covers it. One lookup.
    pub(super) fn covers_session(&self, sid: &str, access_seq: Option<u64>) -> bool {
        self.sessions.get(sid).is_some_and(|slot| {
            slot.revoked_until.is_some()
                || access_seq.is_some_and(|seq| slot.access.is_some_and(|mark| seq <= mark.seq))
        })
    }

    /// The highest revoked access-token number of the session `sid`, if any.
    pub(super) fn access_watermark(&self, sid: &str) -> Option<u64> {
        self.sessions
            .get(sid)
            .and_then(|slot| slot.access.map(|mark| mark.seq))
    }

    pub(super) fn subject_cutoff_ms(&self, sub: &str) -> Option<u64> {
        self.subjects.get(sub).map(|c| c.cutoff_ms)
    }

    /// Every entry still live at `now` (forget-after time `>= now`).
    pub(super) fn live(&self, now: u64) -> Vec<RevocationEntry> {
        /// The live entries of one id → forget-after map, made by `entry`.
        fn live_ids(
            map: &DashMap<Box<str>, u64>,
            now: u64,
            entry: fn(String, u64) -> RevocationEntry,
        ) -> impl Iterator<Item = RevocationEntry> + '_ {
            map.iter()
                .filter(move |e| *e.value() >= now)
                .map(move |e| entry(e.key().to_string(), *e.value()))
        }
        let tokens = live_ids(&self.tokens, now, |jti, expires_at| {
            RevocationEntry::Token { jti, expires_at }
        });
        let sessions = self.sessions.iter().flat_map(move |e| {
            let sid = e.key();
            let revoked = e
                .revoked_until
                .filter(|until| *until >= now)
                .map(|expires_at| RevocationEntry::Session {
                    sid: sid.to_string(),
                    expires_at,
                });
            let access =
                e.access
                    .filter(|mark| mark.until >= now)
                    .map(|mark| RevocationEntry::Access {
                        sid: sid.to_string(),
                        seq: mark.seq,
                        expires_at: mark.until,
                    });
            revoked.into_iter().chain(access)
        });
        let subjects = self
            .subjects
            .iter()
            .filter(|e| e.expires_at >= now)
            .map(|e| RevocationEntry::Subject {
                sub: e.key().to_string(),
                cutoff_ms: e.cutoff_ms,
                expires_at: e.expires_at,
            });
        tokens.chain(sessions).chain(subjects).collect()
    }

    /// Drops every entry that is no longer live at `now`; returns how many. An entry is kept
    /// up to and including its forget-after second.
    pub(super) fn purge(&self, now: u64) -> usize {
        let mut dropped = 0;
        let mut keep = |expires_at: u64| {
            let live = expires_at >= now;
            dropped += usize::from(!live);
            live
        };
        self.tokens.retain(|_, e| keep(*e));
        self.sessions.retain(|_, slot| {
            // Each part of the slot is forgotten on its own time.
            if slot.revoked_until.is_some_and(|until| !keep(until)) {
                slot.revoked_until = None;
            }
            if slot.access.is_some_and(|mark| !keep(mark.until)) {
                slot.access = None;
            }
            slot.entries() > 0
        });
        self.subjects.retain(|_, c| keep(c.expires_at));
        dropped
    }

    /// The number of entries held (a session revoked and its watermark count as two).
    pub(super) fn len(&self) -> usize {
        let sessions: usize = self.sessions.iter().map(|slot| slot.entries()).sum();
        self.tokens.len() + sessions + self.subjects.len()
    }
}
