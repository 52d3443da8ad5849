//! The conformance suite every [`RevocationBackend`] passes (feature `test-util`).
//!
//! [`run`] checks each method against the contract written on the trait, with fresh ids so
//! that it can run against a database shared with other tests (at times in 2096, far ahead of
//! any server's clock; the counts of `purge` are checked at times of their own, which nothing
//! else in the state may share). Give it a function that opens
//! two handles onto one shared state (two connections, two clients), as two instances of an
//! application would have:
//!
//! ```
//! use std::sync::Arc;
//! use tower_jwt_auth::store::{MemoryBackend, RevocationBackend, conformance};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//! conformance::run(|| async {
//!     let shared = MemoryBackend::new();
//!     let a: Arc<dyn RevocationBackend> = Arc::new(shared.clone());
//!     let b: Arc<dyn RevocationBackend> = Arc::new(shared);
//!     (a, b)
//! })
//! .await;
//! # });
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A failed check panics with the rule it broke, as a test assertion does.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::{future::Future, sync::Arc, time::Duration};

use crate::{
    crypto::{SecureRandom, SystemRandom},
    dpop::{ReplayCache, ReplayKey},
};
use futures::{
    StreamExt,
    future::{join, join_all},
};

use super::{
    Change, Heartbeat, LiveSession, NewSession, RevocationBackend, RevocationEntry,
    RevocationStore, RotateOutcome, Rotation,
};

/// A time far from any other test's, in seconds.
const NOW: u64 = 4_000_000_000;
const NOW_MS: u64 = NOW * 1000;
/// How long a change may take to reach the other handle's feed.
const FEED_WAIT: Duration = Duration::from_secs(5);

type Handles = (Arc<dyn RevocationBackend>, Arc<dyn RevocationBackend>);

fn unique(what: &str) -> String {
    let mut bytes = [0u8; 12];
    SystemRandom::new().fill(&mut bytes).expect("random");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{what}-{hex}")
}

async fn start(backend: &dyn RevocationBackend, sid: &str, sub: &str, r0: &str, forget: u64) {
    backend
        .create_session(&NewSession::new(sid, sub, NOW_MS, r0, forget))
        .await
        .expect("create_session");
}

async fn rotate(
    backend: &dyn RevocationBackend,
    sid: &str,
    presented: &str,
    next: &str,
    now_ms: u64,
    grace_ms: u64,
) -> RotateOutcome {
    rotate_until(
        backend,
        sid,
        (presented, next),
        now_ms,
        grace_ms,
        NOW + 3600,
    )
    .await
}

/// [`rotate`] with the rotation's own forget-after time.
async fn rotate_until(
    backend: &dyn RevocationBackend,
    sid: &str,
    (presented, next): (&str, &str),
    now_ms: u64,
    grace_ms: u64,
    forget_after: u64,
) -> RotateOutcome {
    backend
        .rotate(&Rotation::new(
            sid,
            presented,
            next,
            now_ms,
            grace_ms,
            forget_after,
        ))
        .await
        .expect("rotate")
}

/// Until when the session is held revoked, as a `Reused` or `Revoked` outcome reports it.
fn held_until(outcome: &RotateOutcome) -> Option<u64> {
    match *outcome {
        RotateOutcome::Reused { forget_after } | RotateOutcome::Revoked { forget_after } => {
            Some(forget_after)
        }
        _ => None,
    }
}

/// What a rotation must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Rotated,
    Reused,
    Revoked,
    Unknown,
}

use Want::{Reused, Revoked, Rotated, Unknown};

impl Want {
    fn matches(self, outcome: &RotateOutcome) -> bool {
        matches!(
            (self, outcome),
            (Rotated, RotateOutcome::Rotated)
                | (Reused, RotateOutcome::Reused { .. })
                | (Revoked, RotateOutcome::Revoked { .. })
                | (Unknown, RotateOutcome::Unknown)
        )
    }
}

/// One rotation: through a handle, present a token, hand out the next one, at a time (ms);
/// and the outcome it must have.
type Step<'a> = (&'a dyn RevocationBackend, &'a str, &'a str, u64, Want);

/// Rotates the session `sid` step by step with the grace window `grace_ms`, and checks every
/// outcome; `rule` says what the steps show.
async fn play(rule: &str, sid: &str, grace_ms: u64, steps: &[Step<'_>]) {
    for (i, &(backend, presented, next, at_ms, want)) in steps.iter().enumerate() {
        let outcome = rotate(backend, sid, presented, next, at_ms, grace_ms).await;
        assert!(
            want.matches(&outcome),
            "{rule}: step {i} ({presented} -> {next}) must be {want:?}, got {outcome:?}"
        );
    }
}

/// [`play`] with one step and no grace window.
async fn once(rule: &str, sid: &str, step: Step<'_>) {
    play(rule, sid, 0, &[step]).await;
}

/// A new session started through `backend` with the refresh token `r0`.
async fn session(backend: &dyn RevocationBackend, sub: &str, forget: u64) -> String {
    let sid = unique("sid");
    start(backend, &sid, sub, "r0", forget).await;
    sid
}

fn session_entry(entries: &[RevocationEntry], sid: &str) -> Option<u64> {
    entries.iter().find_map(|e| match e {
        RevocationEntry::Session { sid: s, expires_at } if s == sid => Some(*expires_at),
        _ => None,
    })
}

/// Runs every check. `open` returns two handles onto one fresh (or shared) state.
pub async fn run<F, Fut>(open: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Handles>,
{
    rotation_is_a_compare_and_swap(open().await).await;
    unknown_sessions_cannot_rotate(open().await).await;
    creating_a_session_again_leaves_it_as_it_was(open().await).await;
    concurrent_rotations_have_one_winner(open().await).await;
    the_grace_window_never_forks(open().await).await;
    grace_retries_racing_a_rotation_never_fork(open().await).await;
    revoking_while_rotating_leaves_the_session_revoked(open().await).await;
    revocations_are_recorded_and_loaded(open().await).await;
    rotation_keeps_the_later_forget_after_time(open().await).await;
    revocation_keeps_the_later_forget_after_time(open().await).await;
    subject_cutoffs_are_recorded_and_rotation_ignores_them(open().await).await;
    access_watermarks_are_one_entry_per_session(open().await).await;
    the_feed_reaches_the_other_handle(open().await).await;
    heartbeats_reach_the_other_handle_in_order(open().await).await;
    purge_keeps_everything_live(open().await).await;
    purge_counts_what_it_deletes(open().await).await;
    stores_share_state_through_the_backend(open().await).await;
    sessions_are_listed_by_subject(open().await).await;
    ended_sessions_are_not_listed(open().await).await;
    rotation_records_the_last_refresh(open().await).await;
    dpop_proofs_are_accepted_once_through_any_handle(open().await).await;
}

/// The DPoP replay cache ([`RevocationBackend::replay_cache`]), on both handles or on
/// neither: a proof is accepted once whichever handle sees it, and of concurrent first uses
/// exactly one wins. Once expired, a proof may
/// be accepted again or not (a backend on its own clock, Redis, still holds it at the
/// test's future times): only an answer is required. Purge then succeeds.
pub async fn dpop_proofs_are_accepted_once_through_any_handle((a, b): Handles) {
    // Times of their own, far past every other check's, in milliseconds.
    const AT: u64 = (NOW + 2_000_000) * 1000;
    const TTL: u64 = 60_000;
    let (ca, cb) = match (a.replay_cache(), b.replay_cache()) {
        (Some(ca), Some(cb)) => (ca, cb),
        (None, None) => return,
        _ => panic!("one handle keeps a replay cache and the other does not"),
    };
    let jkt = unique("jkt");
    let first = ReplayKey::new(&jkt, "jti-1");
    let other = ReplayKey::new(&jkt, "jti-2");
    let use_at = |cache: &Arc<dyn ReplayCache>, key: ReplayKey, now: u64| {
        let cache = cache.clone();
        async move {
            cache
                .first_use(&key, now, now + TTL)
                .await
                .expect("first_use")
        }
    };
    assert!(use_at(&ca, first, AT).await, "a new proof is accepted");
    assert!(
        !use_at(&ca, first, AT + 1).await,
        "a replay on the same handle"
    );
    assert!(
        !use_at(&cb, first, AT + 2).await,
        "a replay on the other handle"
    );
    assert!(
        use_at(&cb, other, AT + 3).await,
        "another jti is another proof"
    );
    let racing = ReplayKey::new(&jkt, "jti-3");
    let answers = join_all((0..8).map(|i| {
        let cache = if i % 2 == 0 { &ca } else { &cb };
        use_at(cache, racing, AT + 4)
    }))
    .await;
    assert_eq!(
        answers.iter().filter(|won| **won).count(),
        1,
        "one winner among concurrent first uses"
    );
    // Past the first record's time: only an answer is required.
    ca.first_use(&first, AT + TTL + 1, AT + 2 * TTL)
        .await
        .expect("an expired proof is answered");
    b.purge(AT / 1000 + 2 * TTL / 1000 + 1)
        .await
        .expect("purge");
    assert!(
        use_at(&ca, ReplayKey::new(&jkt, "jti-4"), AT + 3 * TTL).await,
        "a new proof after the purge"
    );
}

/// The current token rotates; every superseded one is reuse and revokes the session.
pub async fn rotation_is_a_compare_and_swap((a, b): Handles) {
    let sid = unique("sid");
    start(&*a, &sid, "alice", "r0", NOW + 100).await;
    assert_eq!(
        rotate(&*a, &sid, "r0", "r1", NOW_MS, 0).await,
        RotateOutcome::Rotated
    );
    // The other handle sees the rotation at once.
    assert_eq!(
        rotate(&*b, &sid, "r1", "r2", NOW_MS + 1, 0).await,
        RotateOutcome::Rotated
    );
    let reused = rotate(&*b, &sid, "r0", "x", NOW_MS + 2, 0).await;
    let RotateOutcome::Reused { forget_after } = reused else {
        panic!("an older refresh token must be reuse, got {reused:?}");
    };
    assert!(
        forget_after >= NOW + 3600,
        "a rotation extends the record's forget-after time"
    );
    assert!(
        matches!(
            rotate(&*a, &sid, "r2", "r3", NOW_MS + 3, 0).await,
            RotateOutcome::Revoked { .. }
        ),
        "after reuse even the newest token cannot refresh"
    );
    let loaded = a.load(NOW).await.expect("load");
    assert!(
        session_entry(&loaded, &sid).is_some_and(|at| at >= NOW + 3600),
        "a session revoked for reuse is loaded as a session entry"
    );
    // Creating an existing session again changes nothing.
    start(&*b, &sid, "mallory", "m0", NOW + 100).await;
    assert!(matches!(
        rotate(&*b, &sid, "m0", "m1", NOW_MS + 4, 0).await,
        RotateOutcome::Revoked { .. }
    ));
}

/// Nothing refreshes a session the backend has no record of.
pub async fn unknown_sessions_cannot_rotate((a, _): Handles) {
    let sid = unique("sid");
    let never_started: &[Step<'_>] = &[(&*a, "r0", "r1", NOW_MS, Unknown)];
    play("no record, no rotation", &sid, 0, never_started).await;
    play("not even in a grace window", &sid, 10_000, never_started).await;
}

/// 64 concurrent rotations of one token, through both handles: exactly one wins.
pub async fn concurrent_rotations_have_one_winner((a, b): Handles) {
    let sid = unique("sid");
    start(&*a, &sid, "alice", "r0", NOW + 100).await;
    let nexts: Vec<String> = (0..64).map(|i| format!("r1-{i}")).collect();
    let outcomes = join_all(nexts.iter().enumerate().map(|(i, next)| {
        let handle = if i % 2 == 0 { a.clone() } else { b.clone() };
        let sid = sid.clone();
        async move { rotate(&*handle, &sid, "r0", next, NOW_MS, 0).await }
    }))
    .await;
    let winners: Vec<usize> = (0..64).filter(|&i| outcomes[i].is_rotated()).collect();
    assert_eq!(winners.len(), 1, "exactly one winner: {outcomes:?}");
    assert!(
        outcomes.iter().all(|o| matches!(
            o,
            RotateOutcome::Rotated | RotateOutcome::Reused { .. } | RotateOutcome::Revoked { .. }
        )),
        "{outcomes:?}"
    );
    // Concurrent use of one token is reuse: the session is revoked, the winner's successor
    // included.
    assert!(matches!(
        rotate(&*a, &sid, &nexts[winners[0]], "r2", NOW_MS + 1, 0).await,
        RotateOutcome::Revoked { .. }
    ));
}

/// Only the immediate predecessor, only inside the window, and its successor replaces the
/// current token: at any moment one refresh token can refresh.
pub async fn the_grace_window_never_forks((a, b): Handles) {
    let grace = 10_000;
    let (a, b) = (&*a, &*b);
    // k retries inside the window: of all successors handed out, only the last refreshes,
    // and using any other one revokes the session.
    let sid = session(a, "alice", NOW + 100).await;
    let mut steps = vec![(a, "r0", "s0", NOW_MS, Rotated)];
    let successors: Vec<String> = (1..=5u64).map(|k| format!("s{k}")).collect();
    for (k, next) in (1..=5u64).zip(&successors) {
        let handle = if k % 2 == 0 { a } else { b };
        steps.push((handle, "r0", next, NOW_MS + k * 1000, Rotated));
    }
    play("a retry inside the window is served", &sid, grace, &steps).await;
    play(
        "the window counts from the first use and never moves",
        &sid,
        grace,
        &[
            (a, "r0", "late", NOW_MS + grace + 1, Reused),
            (a, "s5", "s6", NOW_MS + grace + 2, Revoked),
        ],
    )
    .await;

    #[rustfmt::skip]
    let scenarios: [(&str, u64, &[Step<'_>]); 3] = [
        ("a branch that lost is reuse the first time it is used", grace, &[
            (a, "r0", "first", NOW_MS, Rotated),
            (b, "r0", "retry", NOW_MS + 500, Rotated),
            (b, "retry", "next", NOW_MS + 600, Rotated),
            (a, "first", "fork", NOW_MS + 700, Reused),
        ]),
        ("only the immediate predecessor, even inside the window", grace, &[
            (a, "r0", "r1", NOW_MS, Rotated),
            (a, "r1", "r2", NOW_MS + 10, Rotated),
            (a, "r0", "x", NOW_MS + 20, Reused),
        ]),
        ("without a window the predecessor is reuse", 0, &[
            (a, "r0", "r1", NOW_MS, Rotated),
            (a, "r0", "x", NOW_MS, Reused),
        ]),
    ];
    for (rule, grace, steps) in scenarios {
        let sid = session(a, "alice", NOW + 100).await;
        play(rule, &sid, grace, steps).await;
    }
}

/// Each kind of entry is recorded idempotently, loaded by the other handle, and a revoked
/// session cannot rotate.
pub async fn revocations_are_recorded_and_loaded((a, b): Handles) {
    let (jti, sid, unknown_sid, sub) = (unique("jti"), unique("sid"), unique("sid"), unique("sub"));
    start(&*a, &sid, &sub, "r0", NOW + 100).await;
    let entries = [
        RevocationEntry::Token {
            jti: jti.clone(),
            expires_at: NOW + 50,
        },
        RevocationEntry::Session {
            sid: sid.clone(),
            expires_at: NOW + 200,
        },
        RevocationEntry::Session {
            sid: unknown_sid.clone(),
            expires_at: NOW + 200,
        },
        RevocationEntry::Subject {
            sub: sub.clone(),
            cutoff_ms: NOW_MS + 500,
            expires_at: NOW + 300,
        },
    ];
    for entry in entries.iter().chain(&entries) {
        a.revoke(entry).await.expect("revoke is idempotent");
    }
    // An earlier cut-off never replaces a later one.
    b.revoke(&RevocationEntry::Subject {
        sub: sub.clone(),
        cutoff_ms: NOW_MS,
        expires_at: NOW + 10,
    })
    .await
    .expect("revoke");
    for sid in [&sid, &unknown_sid] {
        assert!(
            matches!(
                rotate(&*b, sid, "r0", "r1", NOW_MS, 0).await,
                RotateOutcome::Revoked { .. }
            ),
            "a revoked session cannot rotate, started or not"
        );
    }
    let loaded = b.load(NOW).await.expect("load");
    assert!(loaded.contains(&entries[0]), "token entry: {loaded:?}");
    assert!(session_entry(&loaded, &sid).is_some_and(|at| at >= NOW + 200));
    assert!(session_entry(&loaded, &unknown_sid).is_some_and(|at| at >= NOW + 200));
    assert!(
        loaded.contains(&entries[3]),
        "the later cut-off and forget-after time win: {loaded:?}"
    );
    // Nothing that is no longer live is loaded.
    let later = b.load(NOW + 51).await.expect("load");
    assert!(!later.contains(&entries[0]));
}

async fn next_change(
    feed: &mut super::ChangeStream,
    wanted: impl Fn(&RevocationEntry) -> bool,
) -> bool {
    let wait = async {
        while let Some(change) = feed.next().await {
            if matches!(&change, Ok(Change::Entry(entry)) if wanted(entry)) {
                return true;
            }
        }
        false
    };
    tokio::time::timeout(FEED_WAIT, wait).await.unwrap_or(false)
}

/// What one handle revokes, or revokes for reuse, reaches a feed opened on the other.
pub async fn the_feed_reaches_the_other_handle((a, b): Handles) {
    let mut feed = b.subscribe().await.expect("subscribe");
    let jti = unique("jti");
    a.revoke(&RevocationEntry::Token {
        jti: jti.clone(),
        expires_at: NOW + 50,
    })
    .await
    .expect("revoke");
    let revoked =
        |e: &RevocationEntry| matches!(e, RevocationEntry::Token { jti: j, .. } if *j == jti);
    let rule = "a token revocation reaches the other handle's feed";
    assert!(next_change(&mut feed, revoked).await, "{rule}");
    let logged_out = RevocationEntry::Session {
        sid: unique("sid"),
        expires_at: NOW + 60,
    };
    let everywhere = RevocationEntry::Subject {
        sub: unique("sub"),
        cutoff_ms: NOW_MS + 7,
        expires_at: NOW + 70,
    };
    for (entry, rule) in [
        (
            &logged_out,
            "a session revocation reaches the other handle's feed",
        ),
        (
            &everywhere,
            "a subject cut-off reaches the other handle's feed",
        ),
    ] {
        a.revoke(entry).await.expect("revoke");
        assert!(next_change(&mut feed, |e| e == entry).await, "{rule}");
    }
    let sid = session(&*a, "alice", NOW + 100).await;
    let reuse = [
        (&*a, "r0", "r1", NOW_MS, Rotated),
        (&*a, "r0", "x", NOW_MS, Reused),
    ];
    play("reuse", &sid, 0, &reuse).await;
    let revoked =
        |e: &RevocationEntry| matches!(e, RevocationEntry::Session { sid: s, .. } if *s == sid);
    let rule = "a revocation for reuse reaches the other handle's feed";
    assert!(next_change(&mut feed, revoked).await, "{rule}");
}

/// A heartbeat published through one handle reaches a feed opened on the other, after every
/// entry whose revocation returned before it was published: never ahead of one.
pub async fn heartbeats_reach_the_other_handle_in_order((a, b): Handles) {
    let mut feed = b.subscribe().await.expect("subscribe");
    let mut origin = [0u8; 8];
    SystemRandom::new().fill(&mut origin).expect("random");
    let origin = u64::from_le_bytes(origin);
    let entries: Vec<RevocationEntry> = (0..3)
        .map(|i| RevocationEntry::Token {
            jti: unique("jti"),
            expires_at: NOW + 50 + i,
        })
        .collect();
    // Entries and heartbeats interleaved, each call returning before the next starts.
    let mut sent = Vec::new();
    for (seq, entry) in (1..).zip(&entries) {
        a.revoke(entry).await.expect("revoke");
        let beat = Heartbeat { origin, seq };
        a.heartbeat(&beat).await.expect("heartbeat");
        sent.push(Change::Entry(entry.clone()));
        sent.push(Change::Heartbeat(beat));
    }
    // What the feed brings of these, in its order (other tests' traffic left aside).
    let mut seen = Vec::new();
    let wait = async {
        while seen.len() < sent.len() {
            match feed.next().await {
                Some(Ok(change)) if sent.contains(&change) && !seen.contains(&change) => {
                    seen.push(change);
                }
                Some(Ok(_)) => {}
                Some(Err(err)) => panic!("the feed had a gap: {err}"),
                None => panic!("the feed ended"),
            }
        }
    };
    let arrived = tokio::time::timeout(FEED_WAIT, wait).await.is_ok();
    assert!(
        arrived,
        "every heartbeat reaches the other handle's feed: got {seen:?}"
    );
    assert_eq!(
        seen, sent,
        "a heartbeat comes after the entries published before it"
    );
}

/// Purge deletes only what is no longer live; a rotation keeps a record live.
pub async fn purge_keeps_everything_live((a, b): Handles) {
    let (a, b) = (&*a, &*b);
    let short = session(a, "alice", NOW + 10).await;
    let gone = session(a, "alice", NOW + 10).await;
    let long = session(a, "alice", NOW + 1000).await;
    let rotated = session(a, "alice", NOW + 10).await;
    // The rotation moves the record's forget-after time to NOW + 3600.
    once("rotation", &rotated, (a, "r0", "r1", NOW_MS, Rotated)).await;
    let token = RevocationEntry::Token {
        jti: unique("jti"),
        expires_at: NOW + 20,
    };
    a.revoke(&token).await.expect("revoke");
    b.purge(NOW + 10).await.expect("purge");
    assert!(
        b.load(NOW + 10).await.expect("load").contains(&token),
        "kept through its last second"
    );
    let kept = (b, "r0", "r1", NOW_MS, Rotated);
    once("kept through its last second", &short, kept).await;
    b.purge(NOW + 21).await.expect("purge");
    assert!(!b.load(NOW).await.expect("load").contains(&token));
    let purged = (b, "r0", "r1", NOW_MS, Unknown);
    once("purged after its time", &gone, purged).await;
    let moved = (b, "r1", "r2", NOW_MS, Rotated);
    once("a rotation moves the time", &short, moved).await;
    b.purge(NOW + 3601).await.expect("purge");
    for (sid, current) in [(&short, "r2"), (&long, "r0"), (&rotated, "r1")] {
        let purged = (a, current, "next", NOW_MS, Unknown);
        once("purged after its time", sid, purged).await;
    }
}

async fn eventually(what: &str, check: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + FEED_WAIT;
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Two stores over the two handles, as two instances: a warm start sees every earlier
/// change, and the change feed brings each store the other's revocations.
pub async fn stores_share_state_through_the_backend((a, b): Handles) {
    let early = unique("sid");
    a.revoke(&RevocationEntry::Session {
        sid: early.clone(),
        expires_at: u64::MAX,
    })
    .await
    .expect("revoke");
    let first = RevocationStore::builder()
        .with_backend(a)
        .build()
        .expect("store");
    let second = RevocationStore::builder()
        .with_backend(b)
        .build()
        .expect("store");
    assert!(
        !first.is_ready() && !second.is_ready(),
        "nothing trusted before the load"
    );
    let tasks = [
        tokio::spawn(first.clone().run()),
        tokio::spawn(second.clone().run()),
    ];
    eventually("both stores load the shared state", || {
        first.is_ready() && second.is_ready()
    })
    .await;
    assert!(
        second.is_session_revoked(&early),
        "warm start sees earlier changes"
    );
    let late = unique("sid");
    first
        .revoke(RevocationEntry::Session {
            sid: late.clone(),
            expires_at: u64::MAX,
        })
        .await
        .expect("revoke");
    assert!(first.is_session_revoked(&late), "the writer knows at once");
    eventually("the feed brings the other store the revocation", || {
        second.is_session_revoked(&late)
    })
    .await;
    for task in tasks {
        task.abort();
    }
}

/// The session entry `load` reports for `sid` at `NOW`, through `backend`.
async fn loaded_session(backend: &dyn RevocationBackend, sid: &str) -> Option<u64> {
    session_entry(&backend.load(NOW).await.expect("load"), sid)
}

/// `sid` is held revoked until exactly `until`: through `rotate` (whatever token) and
/// through `load`.
async fn held_revoked(rule: &str, backend: &dyn RevocationBackend, sid: &str, until: u64) {
    let outcome = rotate(backend, sid, "r0", "x", NOW_MS, 0).await;
    assert!(
        matches!(outcome, RotateOutcome::Revoked { forget_after } if forget_after == until),
        "{rule}: Revoked until {until}, got {outcome:?}"
    );
    let loaded = loaded_session(backend, sid).await;
    assert_eq!(loaded, Some(until), "{rule}: the loaded session entry");
}

/// Nothing of `sid` is left: no record, no entry.
async fn forgotten(rule: &str, backend: &dyn RevocationBackend, sid: &str, current: &str) {
    let outcome = rotate(backend, sid, current, "x", NOW_MS, 0).await;
    assert_eq!(outcome, RotateOutcome::Unknown, "{rule}");
}

/// Creating a session whose record exists (live, revoked, or a revoked tombstone) changes
/// nothing: not its tokens, not its forget-after time, not its revoked flag; not even when
/// the creations race a rotation.
pub async fn creating_a_session_again_leaves_it_as_it_was((a, b): Handles) {
    let (a, b) = (&*a, &*b);
    let grace = 10_000;
    let sid = session(a, "alice", NOW + 100).await;
    let first = rotate_until(a, &sid, ("r0", "r1"), NOW_MS, grace, NOW + 200).await;
    assert_eq!(first, RotateOutcome::Rotated);
    let again: Vec<String> = (0..8).map(|i| format!("m{i}")).collect();
    let forget = |i: usize| {
        if i.is_multiple_of(2) {
            NOW + 1
        } else {
            NOW + 5000
        }
    };
    let creations = join_all(again.iter().enumerate().map(|(i, token)| {
        let handle = if i.is_multiple_of(2) { a } else { b };
        let sid = &sid;
        async move { start(handle, sid, "mallory", token, forget(i)).await }
    }));
    let rotation = rotate_until(b, &sid, ("r1", "r2"), NOW_MS + 1, grace, NOW + 200);
    let (_, rotated) = join(creations, rotation).await;
    assert_eq!(
        rotated,
        RotateOutcome::Rotated,
        "creating an existing session again leaves its current token"
    );
    // The previous token and its window are kept: a retry is served.
    let retry = rotate_until(a, &sid, ("r1", "r2b"), NOW_MS + 2, grace, NOW + 200).await;
    assert_eq!(
        retry,
        RotateOutcome::Rotated,
        "creating an existing session again leaves its previous token and its window"
    );
    // No token of the creations refreshes, and the forget-after time is the record's own.
    let reused = rotate(b, &sid, &again[0], "x", NOW_MS + 3, 0).await;
    assert_eq!(
        reused,
        RotateOutcome::Reused {
            forget_after: NOW + 200
        },
        "creating an existing session again leaves its tokens and its forget-after time"
    );
    // A revoked tombstone is a record: a creation neither revives it nor outlives it.
    let tombstone = unique("sid");
    a.revoke(&RevocationEntry::Session {
        sid: tombstone.clone(),
        expires_at: NOW + 10,
    })
    .await
    .expect("revoke");
    start(b, &tombstone, "mallory", "t0", NOW + 5000).await;
    held_revoked(
        "creating a revoked session leaves it revoked",
        a,
        &tombstone,
        NOW + 10,
    )
    .await;
    a.purge(NOW + 11).await.expect("purge");
    forgotten(
        "creating a revoked session leaves its forget-after time: purged after it",
        b,
        &tombstone,
        "t0",
    )
    .await;
}

/// Retries inside the grace window racing the rotation of the token they retry: the two
/// can never both win (in any order one of them is reuse), and afterwards at most one of
/// the successors handed out can refresh.
pub async fn grace_retries_racing_a_rotation_never_fork((a, b): Handles) {
    let grace = 10_000;
    for round in 0..8usize {
        let sid = session(&*a, "alice", NOW + 100).await;
        once("rotation", &sid, (&*a, "r0", "r1", NOW_MS, Rotated)).await;
        // Four retries of r0 and one rotation of r1, the rotation at a place of its own.
        let mut moves: Vec<(&str, String)> = (0..4).map(|i| ("r0", format!("g{i}"))).collect();
        moves.insert(round % 5, ("r1", "n".to_owned()));
        let outcomes = join_all(moves.iter().enumerate().map(|(i, (presented, next))| {
            let handle = if (i + round).is_multiple_of(2) {
                &a
            } else {
                &b
            };
            rotate(&**handle, &sid, presented, next, NOW_MS + 100, grace)
        }))
        .await;
        let won = |presented: &str| {
            moves
                .iter()
                .zip(&outcomes)
                .any(|((p, _), o)| *p == presented && o.is_rotated())
        };
        assert!(
            !(won("r0") && won("r1")),
            "a retry and the rotation of its successor cannot both win: {moves:?} {outcomes:?}"
        );
        let handed_out: Vec<&str> = moves
            .iter()
            .zip(&outcomes)
            .filter(|(_, o)| o.is_rotated())
            .map(|((_, next), _)| next.as_str())
            .collect();
        let mut refreshed = 0;
        for (i, token) in handed_out.iter().enumerate() {
            let probe = rotate(&*b, &sid, token, &format!("p{i}"), NOW_MS + 200, 0).await;
            refreshed += usize::from(probe.is_rotated());
        }
        assert!(
            refreshed <= 1,
            "at most one successor refreshes: {handed_out:?} after {outcomes:?}"
        );
    }
}

/// A revocation racing a rotation of the same session, through two handles, in either
/// order: afterwards the session is revoked, no token of it refreshes, and it is held
/// revoked at least as long as the record, whose time the rotation may have moved.
pub async fn revoking_while_rotating_leaves_the_session_revoked((a, b): Handles) {
    let mut sids = Vec::new();
    for _ in 0..16 {
        sids.push(session(&*a, "alice", NOW + 100).await);
    }
    let races = join_all(sids.iter().enumerate().map(|(i, sid)| {
        let (a, b) = (&*a, &*b);
        async move {
            let entry = RevocationEntry::Session {
                sid: sid.clone(),
                expires_at: NOW + 50,
            };
            let revoke = async { a.revoke(&entry).await.expect("revoke") };
            let rotation = rotate_until(b, sid, ("r0", "r1"), NOW_MS, 0, NOW + 500);
            if i.is_multiple_of(2) {
                join(revoke, rotation).await.1
            } else {
                join(rotation, revoke).await.0
            }
        }
    }))
    .await;
    for (sid, raced) in sids.iter().zip(&races) {
        let least = match raced {
            RotateOutcome::Rotated => NOW + 500,
            RotateOutcome::Revoked { .. } => NOW + 100,
            other => panic!("a rotation racing a revocation rotates or is refused: {other:?}"),
        };
        for (handle, presented) in [(&*a, "r1"), (&*b, "r0")] {
            let after = rotate(handle, sid, presented, "x", NOW_MS + 1, 0).await;
            assert!(
                matches!(after, RotateOutcome::Revoked { .. }),
                "after the race the session is revoked: {presented} got {after:?}"
            );
            let until = held_until(&after).expect("revoked");
            assert!(
                until >= least,
                "held revoked at least as long as the record ({raced:?}): {until} < {least}"
            );
            assert_eq!(loaded_session(handle, sid).await, Some(until));
        }
    }
}

/// A rotation (cases 3 and 4 of the contract) keeps the later of the record's forget-after
/// time and its own: seen in what `Reused` and `Revoked` report, in `load`, and in when
/// `purge` forgets the record.
pub async fn rotation_keeps_the_later_forget_after_time((a, b): Handles) {
    let (a, b) = (&*a, &*b);
    async fn at(a: &dyn RevocationBackend, sid: &str, step: (&str, &str), ms: u64, forget: u64) {
        let outcome = rotate_until(a, sid, step, NOW_MS + ms, 10_000, forget).await;
        assert_eq!(outcome, RotateOutcome::Rotated, "{step:?}");
    }
    // Case 3 with an earlier, then a later time; case 4 (a retry) with a later, then an
    // earlier time than the record's.
    let earlier = session(a, "alice", NOW + 100).await;
    at(a, &earlier, ("r0", "r1"), 0, NOW + 50).await;
    let later = session(a, "alice", NOW + 100).await;
    at(a, &later, ("r0", "r1"), 0, NOW + 200).await;
    let retried_later = session(a, "alice", NOW + 100).await;
    at(a, &retried_later, ("r0", "r1"), 0, NOW + 100).await;
    at(a, &retried_later, ("r0", "r1b"), 10, NOW + 300).await;
    let retried_earlier = session(a, "alice", NOW + 100).await;
    at(a, &retried_earlier, ("r0", "r1"), 0, NOW + 400).await;
    at(a, &retried_earlier, ("r0", "r1b"), 10, NOW + 50).await;

    // Each check rotates again with a time that changes nothing.
    let still = |sid| rotate_until(b, sid, ("r1", "r2"), NOW_MS + 20, 0, NOW + 1);
    b.purge(NOW + 100).await.expect("purge");
    let rule = "an earlier time never shortens the record's";
    assert_eq!(still(&earlier).await, RotateOutcome::Rotated, "{rule}");
    b.purge(NOW + 101).await.expect("purge");
    forgotten("purged after the record's own time", a, &earlier, "r2").await;
    let rule = "a later time extends the record's";
    assert_eq!(still(&later).await, RotateOutcome::Rotated, "{rule}");

    // Reuse reports the record's time, and the session is held revoked until then.
    for (sid, current, until) in [
        (&later, "r2", NOW + 200),
        (&retried_later, "r1b", NOW + 300),
        (&retried_earlier, "r1b", NOW + 400),
    ] {
        let reused = rotate(b, sid, "stranger", "x", NOW_MS + 30, 0).await;
        assert_eq!(
            reused,
            RotateOutcome::Reused {
                forget_after: until
            },
            "reuse reports the record's forget-after time, the later one"
        );
        let rule = "a session revoked for reuse is held revoked until the record's time";
        held_revoked(rule, a, sid, until).await;
        let refused = rotate(a, sid, current, "x", NOW_MS + 40, 0).await;
        assert_eq!(held_until(&refused), Some(until), "{rule}");
    }
    for (sid, until) in [
        (&later, NOW + 200),
        (&retried_later, NOW + 300),
        (&retried_earlier, NOW + 400),
    ] {
        b.purge(until).await.expect("purge");
        held_revoked("kept through its last second", a, sid, until).await;
        b.purge(until + 1).await.expect("purge");
        forgotten("purged after its time", a, sid, "r0").await;
    }
}

/// A session revocation holds the session revoked until the later of its own time and the
/// record's; recording an entry again keeps the later time (and cut-off), each on its own.
pub async fn revocation_keeps_the_later_forget_after_time((a, b): Handles) {
    let (a, b) = (&*a, &*b);
    let revoke = |entry: RevocationEntry| async move { a.revoke(&entry).await.expect("revoke") };
    let session_until = |sid: &str, expires_at| RevocationEntry::Session {
        sid: sid.to_owned(),
        expires_at,
    };
    let early = session(a, "alice", NOW + 100).await;
    revoke(session_until(&early, NOW + 50)).await;
    held_revoked("never before the record's time", b, &early, NOW + 100).await;
    let late = session(a, "alice", NOW + 100).await;
    revoke(session_until(&late, NOW + 200)).await;
    held_revoked("the entry's later time", b, &late, NOW + 200).await;

    // Recorded again: a later time extends, an earlier one never shortens.
    revoke(session_until(&late, NOW + 300)).await;
    revoke(session_until(&late, NOW + 120)).await;
    held_revoked("a session entry recorded again", b, &late, NOW + 300).await;
    let tombstone = unique("sid");
    for until in [NOW + 150, NOW + 250, NOW + 120] {
        revoke(session_until(&tombstone, until)).await;
    }
    held_revoked("a tombstone recorded again", b, &tombstone, NOW + 250).await;
    let jti = unique("jti");
    for expires_at in [NOW + 150, NOW + 250, NOW + 120] {
        let jti = jti.clone();
        revoke(RevocationEntry::Token { jti, expires_at }).await;
    }
    let sub = unique("sub");
    let subject = |cutoff_ms, expires_at| RevocationEntry::Subject {
        sub: sub.clone(),
        cutoff_ms,
        expires_at,
    };
    revoke(subject(NOW_MS + 500, NOW + 150)).await;
    revoke(subject(NOW_MS + 100, NOW + 250)).await;
    revoke(subject(NOW_MS + 900, NOW + 120)).await;
    let token_times = |entries: &[RevocationEntry]| -> Vec<u64> {
        let mut times: Vec<u64> = entries
            .iter()
            .filter_map(|e| match e {
                RevocationEntry::Token { jti: j, expires_at } if *j == jti => Some(*expires_at),
                _ => None,
            })
            .collect();
        times.dedup();
        times
    };
    let subject_entries = |entries: &[RevocationEntry]| -> Vec<RevocationEntry> {
        let mut found: Vec<RevocationEntry> = entries
            .iter()
            .filter(|e| matches!(e, RevocationEntry::Subject { sub: s, .. } if *s == sub))
            .cloned()
            .collect();
        found.dedup();
        found
    };
    let loaded = b.load(NOW).await.expect("load");
    assert_eq!(
        token_times(&loaded),
        [NOW + 250],
        "a token entry recorded again keeps the later time"
    );
    assert_eq!(
        subject_entries(&loaded),
        [subject(NOW_MS + 900, NOW + 250)],
        "a cut-off recorded again keeps the later cut-off and the later time, each on its own"
    );

    // Through purge: each is kept through its last second and forgotten after it.
    b.purge(NOW + 100).await.expect("purge");
    held_revoked("kept through its last second", a, &early, NOW + 100).await;
    b.purge(NOW + 101).await.expect("purge");
    forgotten("purged after its time", a, &early, "r0").await;
    held_revoked("the record's time is not the entry's", a, &late, NOW + 300).await;
    b.purge(NOW + 250).await.expect("purge");
    let loaded = b.load(NOW + 250).await.expect("load");
    assert_eq!(
        token_times(&loaded),
        [NOW + 250],
        "kept through its last second"
    );
    assert_eq!(
        subject_entries(&loaded).len(),
        1,
        "kept through its last second"
    );
    held_revoked("kept through its last second", a, &tombstone, NOW + 250).await;
    b.purge(NOW + 251).await.expect("purge");
    let loaded = b.load(0).await.expect("load");
    assert!(token_times(&loaded).is_empty(), "purged after its time");
    assert!(subject_entries(&loaded).is_empty(), "purged after its time");
    forgotten("purged after its time", a, &tombstone, "r0").await;
    held_revoked("kept through its last second", a, &late, NOW + 300).await;
    b.purge(NOW + 301).await.expect("purge");
    forgotten("purged after its time", a, &late, "r0").await;
}

/// A subject's cut-off is recorded, loaded and published; a rotation does not consult it
/// (the verifier refuses the session's tokens, the refresh token included), and no session
/// record is marked revoked by it.
pub async fn subject_cutoffs_are_recorded_and_rotation_ignores_them((a, b): Handles) {
    let (sid, sub) = (unique("sid"), unique("sub"));
    start(&*a, &sid, &sub, "r0", NOW + 100).await;
    let mut feed = b.subscribe().await.expect("subscribe");
    let cutoff = RevocationEntry::Subject {
        sub: sub.clone(),
        cutoff_ms: NOW_MS + 1000,
        expires_at: NOW + 300,
    };
    a.revoke(&cutoff).await.expect("revoke");
    assert!(
        next_change(&mut feed, |e| *e == cutoff).await,
        "the cut-off is published"
    );
    let loaded = b.load(NOW).await.expect("load");
    assert!(
        loaded.contains(&cutoff),
        "the cut-off is loaded: {loaded:?}"
    );
    assert_eq!(
        session_entry(&loaded, &sid),
        None,
        "a cut-off marks no session record revoked"
    );
    let rule = "a rotation does not consult subject cut-offs";
    once(rule, &sid, (&*b, "r0", "r1", NOW_MS + 2000, Rotated)).await;
}

/// A session's access watermark is one entry whatever the number of revocations: recorded
/// again, the higher number and the later forget-after time win, each on its own. It is
/// published and loaded, marks no session revoked, changes no rotation (the refresh token
/// stays valid), and is purged only after its last second.
pub async fn access_watermarks_are_one_entry_per_session((a, b): Handles) {
    let sid = session(&*a, "alice", NOW + 100).await;
    let mark = |seq, expires_at| RevocationEntry::Access {
        sid: sid.clone(),
        seq,
        expires_at,
    };
    let marks_of = |entries: &[RevocationEntry]| -> Vec<RevocationEntry> {
        entries
            .iter()
            .filter(|e| matches!(e, RevocationEntry::Access { sid: s, .. } if *s == sid))
            .cloned()
            .collect()
    };
    let mut feed = b.subscribe().await.expect("subscribe");
    a.revoke(&mark(3, NOW + 50)).await.expect("revoke");
    assert!(
        next_change(&mut feed, |e| *e == mark(3, NOW + 50)).await,
        "a watermark reaches the other handle's feed"
    );
    // The lower number comes last, with the later time.
    for entry in [mark(3, NOW + 50), mark(7, NOW + 40), mark(1, NOW + 60)] {
        b.revoke(&entry).await.expect("revoke is idempotent");
    }
    let loaded = a.load(NOW).await.expect("load");
    assert_eq!(
        marks_of(&loaded),
        [mark(7, NOW + 60)],
        "one entry per session; the higher number and the later time win, each on its own"
    );
    assert_eq!(
        session_entry(&loaded, &sid),
        None,
        "a watermark revokes no session"
    );
    let rule = "a watermark changes no rotation";
    once(rule, &sid, (&*b, "r0", "r1", NOW_MS, Rotated)).await;
    a.purge(NOW + 60).await.expect("purge");
    assert_eq!(
        marks_of(&b.load(NOW + 60).await.expect("load")),
        [mark(7, NOW + 60)],
        "kept through its last second"
    );
    a.purge(NOW + 61).await.expect("purge");
    assert_eq!(
        marks_of(&b.load(NOW).await.expect("load")),
        [],
        "purged after its time"
    );
}

/// `purge` returns how many records and entries it deleted. Its times are earlier than
/// every other check's, so that nothing else in the state is forgotten with them.
pub async fn purge_counts_what_it_deletes((a, b): Handles) {
    const EARLY: u64 = NOW - 1_000_000;
    let (a, b) = (&*a, &*b);
    // Whatever an earlier user of the state left before then.
    b.purge(EARLY).await.expect("purge");
    assert_eq!(b.purge(EARLY).await.expect("purge"), 0, "nothing left");
    let revoke = |entry: RevocationEntry| async move { a.revoke(&entry).await.expect("revoke") };
    session(a, "alice", EARLY + 10).await;
    revoke(RevocationEntry::Token {
        jti: unique("jti"),
        expires_at: EARLY + 10,
    })
    .await;
    revoke(RevocationEntry::Subject {
        sub: unique("sub"),
        cutoff_ms: EARLY * 1000,
        expires_at: EARLY + 10,
    })
    .await;
    revoke(RevocationEntry::Access {
        sid: unique("sid"),
        seq: 9,
        expires_at: EARLY + 10,
    })
    .await;
    session(a, "alice", EARLY + 20).await;
    revoke(RevocationEntry::Session {
        sid: unique("sid"),
        expires_at: EARLY + 30,
    })
    .await;
    let revoked = session(a, "alice", EARLY + 40).await;
    revoke(RevocationEntry::Session {
        sid: revoked,
        expires_at: EARLY + 40,
    })
    .await;
    let count = |now| async move { b.purge(now).await.expect("purge") };
    assert_eq!(count(EARLY + 10).await, 0, "nothing is deleted while live");
    assert_eq!(
        count(EARLY + 11).await,
        4,
        "a record, a token entry, a subject entry and an access watermark"
    );
    assert_eq!(count(EARLY + 11).await, 0, "nothing is deleted twice");
    assert_eq!(count(EARLY + 21).await, 1, "a session record");
    assert_eq!(count(EARLY + 31).await, 1, "a revoked tombstone");
    let both = count(EARLY + 41).await;
    assert!(
        (1..=2).contains(&both),
        "a revoked session: its record and its entry, as one or as two ({both})"
    );
    assert_eq!(count(EARLY + 41).await, 0, "nothing is deleted twice");
}

/// The `sid`s `backend` lists for `sub` at `now`, oldest first.
async fn listed(backend: &dyn RevocationBackend, sub: &str, now: u64) -> Vec<String> {
    listing(backend, sub, now)
        .await
        .into_iter()
        .map(|s| s.sid)
        .collect()
}

async fn listing(backend: &dyn RevocationBackend, sub: &str, now: u64) -> Vec<LiveSession> {
    backend
        .list_sessions(sub, now)
        .await
        .expect("list_sessions")
}

/// A session of `sub` started at `started_ms`, through `backend`, with `label`.
async fn labelled(
    backend: &dyn RevocationBackend,
    sub: &str,
    started_ms: u64,
    label: Option<&str>,
) -> String {
    let sid = unique("sid");
    let mut new = NewSession::new(&sid, sub, started_ms, "r0", NOW + 100);
    new.label = label;
    backend.create_session(&new).await.expect("create_session");
    sid
}

/// A subject's live sessions are listed, through either handle, oldest first (by start,
/// then by `sid`), with their start and label; never another subject's, and a record
/// created again for another subject stays its first subject's.
pub async fn sessions_are_listed_by_subject((a, b): Handles) {
    let (a, b) = (&*a, &*b);
    let (alice, bob) = (unique("sub"), unique("sub"));
    assert!(listed(b, &alice, NOW).await.is_empty(), "nothing yet");
    let later = labelled(a, &alice, NOW_MS + 2, Some("laptop")).await;
    let first = labelled(b, &alice, NOW_MS, Some("phone")).await;
    let tied = [
        labelled(a, &alice, NOW_MS + 1, None).await,
        labelled(a, &alice, NOW_MS + 1, None).await,
    ];
    let bobs = labelled(a, &bob, NOW_MS, Some("bob's")).await;
    // The same sid again, for another subject: changes nothing.
    let mut again = NewSession::new(&first, &bob, NOW_MS, "m0", NOW + 100);
    again.label = Some("stolen");
    b.create_session(&again).await.expect("create_session");

    let mut by_sid = tied.clone();
    by_sid.sort();
    let want = [vec![first.clone()], by_sid.to_vec(), vec![later.clone()]].concat();
    for handle in [a, b] {
        assert_eq!(
            listed(handle, &alice, NOW).await,
            want,
            "exactly the subject's sessions, oldest first, ties by sid"
        );
        assert_eq!(
            listed(handle, &bob, NOW).await,
            [bobs.as_str()],
            "never another subject's; a record created again stays its first subject's"
        );
    }
    let sessions = listing(a, &alice, NOW).await;
    assert_eq!(
        sessions[0],
        LiveSession::new(first.as_str(), NOW_MS).with_label(Some("phone".into())),
        "start time and label as created, never refreshed"
    );
    assert_eq!(sessions[3].label.as_deref(), Some("laptop"));
    assert_eq!(sessions[1].label, None);
    assert!(
        listed(a, &unique("sub"), NOW).await.is_empty(),
        "an unknown subject has no sessions"
    );
}

/// A session that is revoked (by `revoke` or for reuse), cut off by its subject's
/// "log out everywhere", past its forget-after time or purged is not listed; the subject's
/// other sessions are.
pub async fn ended_sessions_are_not_listed((a, b): Handles) {
    let (a, b) = (&*a, &*b);
    let sub = unique("sub");
    let revoked = labelled(a, &sub, NOW_MS, None).await;
    let reused = labelled(a, &sub, NOW_MS + 1, None).await;
    let short = {
        let sid = unique("sid");
        start(a, &sid, &sub, "r0", NOW + 5).await;
        sid
    };
    let kept = labelled(a, &sub, NOW_MS + 3, None).await;
    let all = listed(b, &sub, NOW).await;
    assert_eq!(all.len(), 4, "{all:?}");

    a.revoke(&RevocationEntry::Session {
        sid: revoked.clone(),
        expires_at: NOW + 100,
    })
    .await
    .expect("revoke");
    play(
        "reuse",
        &reused,
        0,
        &[
            (a, "r0", "r1", NOW_MS, Rotated),
            (a, "r0", "x", NOW_MS, Reused),
        ],
    )
    .await;
    let rule = "a revoked session is not listed, whether revoked or reused";
    assert_eq!(
        listed(b, &sub, NOW).await,
        [short.clone(), kept.clone()],
        "{rule}"
    );
    let rule = "a record is listed through its last second, not after";
    assert_eq!(
        listed(b, &sub, NOW + 5).await,
        [short.clone(), kept.clone()],
        "{rule}"
    );
    assert_eq!(listed(b, &sub, NOW + 6).await, [kept.as_str()], "{rule}");

    // A tombstone (a session revoked without a record) is never listed, nor created.
    let tombstone = unique("sid");
    a.revoke(&RevocationEntry::Session {
        sid: tombstone.clone(),
        expires_at: NOW + 100,
    })
    .await
    .expect("revoke");
    start(a, &tombstone, &sub, "r0", NOW + 100).await;
    assert_eq!(listed(b, &sub, NOW).await, [short.clone(), kept.clone()]);

    b.purge(NOW + 6).await.expect("purge");
    assert_eq!(
        listed(a, &sub, NOW).await,
        [kept.as_str()],
        "a purged record is gone"
    );

    let cutoff = RevocationEntry::Subject {
        sub: sub.clone(),
        cutoff_ms: NOW_MS + 3,
        expires_at: NOW + 100,
    };
    a.revoke(&cutoff).await.expect("revoke");
    let after = labelled(a, &sub, NOW_MS + 4, None).await;
    assert_eq!(
        listed(b, &sub, NOW).await,
        [after],
        "a session started at or before its subject's cut-off is not listed"
    );
}

/// A rotation that answers `Rotated` records its time as the session's last refresh (a
/// retry inside the grace window too); one that does not leaves it.
pub async fn rotation_records_the_last_refresh((a, b): Handles) {
    let (a, b) = (&*a, &*b);
    let sub = unique("sub");
    let sid = labelled(a, &sub, NOW_MS, Some("phone")).await;
    let other = labelled(a, &sub, NOW_MS + 1, None).await;
    let last = |sid: String| {
        let sub = sub.clone();
        async move {
            listing(b, &sub, NOW)
                .await
                .into_iter()
                .find(|s| s.sid == sid)
                .map(|s| s.last_refreshed_ms)
        }
    };
    assert_eq!(last(sid.clone()).await, Some(None), "never refreshed");
    play(
        "rotations",
        &sid,
        10_000,
        &[
            (a, "r0", "r1", NOW_MS + 5_000, Rotated),
            (b, "r0", "r1b", NOW_MS + 6_000, Rotated),
        ],
    )
    .await;
    assert_eq!(
        last(sid.clone()).await,
        Some(Some(NOW_MS + 6_000)),
        "the latest rotation's time, a retry in the window included"
    );
    play(
        "rotation",
        &sid,
        0,
        &[(b, "r1b", "r2", NOW_MS + 9_000, Rotated)],
    )
    .await;
    let session = listing(a, &sub, NOW).await.remove(0);
    assert_eq!(session.last_refreshed_ms, Some(NOW_MS + 9_000));
    assert_eq!(
        (session.started_ms, session.label.as_deref()),
        (NOW_MS, Some("phone")),
        "a rotation keeps the start and the label"
    );
    once(
        "unknown token",
        &other,
        (a, "zz", "r1", NOW_MS + 10_000, Reused),
    )
    .await;
    assert_eq!(last(sid).await, Some(Some(NOW_MS + 9_000)));
    assert_eq!(last(other).await, None, "reuse ends the session");
}
