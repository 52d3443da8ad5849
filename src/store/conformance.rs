//! The conformance suite every [`RevocationBackend`] passes (feature `test-util`).
//!
//! [`run`] checks each method against the contract written on the trait, with fresh ids so
//! that it can run against a database shared with other tests. Give it a function that opens
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

use crate::crypto::{SecureRandom, SystemRandom};
use futures::{StreamExt, future::join_all};

use super::{
    NewSession, RevocationBackend, RevocationEntry, RevocationStore, RotateOutcome, Rotation,
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
    backend
        .rotate(&Rotation::new(
            sid,
            presented,
            next,
            now_ms,
            grace_ms,
            NOW + 3600,
        ))
        .await
        .expect("rotate")
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
    concurrent_rotations_have_one_winner(open().await).await;
    the_grace_window_never_forks(open().await).await;
    revocations_are_recorded_and_loaded(open().await).await;
    the_feed_reaches_the_other_handle(open().await).await;
    purge_keeps_everything_live(open().await).await;
    stores_share_state_through_the_backend(open().await).await;
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
            if change.as_ref().is_ok_and(&wanted) {
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
