//! The deny-list: revoked tokens, revoked sessions, sessions' access watermarks and "log out
//! everywhere" cut-offs, each with the time after which it can be forgotten. The store's local state and the in-process
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

/// Concurrent maps of deny-list entries. Lookups are synchronous and allocation-free.
#[derive(Debug, Default)]
pub(super) struct DenyList {
    /// Revoked tokens: `jti` → forget after.
    tokens: DashMap<Box<str>, u64>,
    /// Revoked sessions: `sid` → forget after.
    sessions: DashMap<Box<str>, u64>,
    /// Access watermarks: `sid` → watermark. A map of its own rather than a part of each
    /// revoked session's value: a revoked session stays as small as it was.
    watermarks: DashMap<Box<str>, Watermark>,
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
                let mut mark = self
                    .watermarks
                    .entry(sid.as_str().into())
                    .or_insert(Watermark { seq: 0, until: 0 });
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
        let mut slot = self.sessions.entry(sid.into()).or_insert(0);
        *slot = (*slot).max(until);
    }

    pub(super) fn is_token_revoked(&self, jti: &str) -> bool {
        self.tokens.contains_key(jti)
    }

    /// The time until which the session `sid` is held revoked, if it is.
    pub(super) fn session_revoked_until(&self, sid: &str) -> Option<u64> {
        self.sessions.get(sid).map(|until| *until)
    }

    pub(super) fn is_session_revoked(&self, sid: &str) -> bool {
        self.sessions.contains_key(sid)
    }

    /// `true` if the access token numbered `seq` of session `sid` is under its session's
    /// watermark.
    pub(super) fn is_access_revoked(&self, sid: &str, seq: u64) -> bool {
        self.watermarks.get(sid).is_some_and(|mark| seq <= mark.seq)
    }

    /// The highest revoked access-token number of the session `sid`, if any.
    pub(super) fn access_watermark(&self, sid: &str) -> Option<u64> {
        self.watermarks.get(sid).map(|mark| mark.seq)
    }

    pub(super) fn subject_cutoff_ms(&self, sub: &str) -> Option<u64> {
        self.subjects.get(sub).map(|c| c.cutoff_ms)
    }

    /// The cut-off of `sub` if its entry is live at `now`.
    pub(super) fn live_subject_cutoff_ms(&self, sub: &str, now: u64) -> Option<u64> {
        self.subjects
            .get(sub)
            .filter(|c| c.expires_at >= now)
            .map(|c| c.cutoff_ms)
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
        let sessions = live_ids(&self.sessions, now, |sid, expires_at| {
            RevocationEntry::Session { sid, expires_at }
        });
        let watermarks =
            self.watermarks
                .iter()
                .filter(|e| e.until >= now)
                .map(|e| RevocationEntry::Access {
                    sid: e.key().to_string(),
                    seq: e.seq,
                    expires_at: e.until,
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
        tokens
            .chain(sessions)
            .chain(watermarks)
            .chain(subjects)
            .collect()
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
        self.sessions.retain(|_, e| keep(*e));
        self.watermarks.retain(|_, w| keep(w.until));
        self.subjects.retain(|_, c| keep(c.expires_at));
        dropped
    }

    /// The number of entries held.
    pub(super) fn len(&self) -> usize {
        self.tokens.len() + self.sessions.len() + self.watermarks.len() + self.subjects.len()
    }
}
