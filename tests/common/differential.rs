//! The differential test of a backend against `MemoryBackend`: random sequences of every
//! operation, on small pools of ids and times so that sequences hit the same sessions,
//! tokens and edges again, must answer the same on both (included with `#[path]` by each
//! backend's tests).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use futures::TryFutureExt;
use proptest::{prelude::*, test_runner::TestCaseError};
use tower_jwt_auth::store::{
    MemoryBackend, NewSession, RevocationBackend, RevocationEntry, RotateOutcome, Rotation,
};

/// The sequences' "now" (2096): far ahead of any server's clock, so that nothing they write
/// expires by itself while they run.
pub const NOW: u64 = 4_000_000_000;

/// One backend operation.
#[derive(Debug, Clone)]
pub enum Step {
    /// Start session `sid` (its first token is `"{sid}-0"`) with a forget-after offset.
    Create {
        sid: usize,
        forget: u64,
    },
    /// Rotate session `sid`, presenting its token `pick` (modulo those handed out; beyond
    /// them a token never handed out), at a time offset (ms), with a grace window.
    Rotate {
        sid: usize,
        pick: usize,
        at_ms: u64,
        grace_ms: u64,
        forget: u64,
    },
    RevokeToken {
        jti: usize,
        forget: u64,
    },
    RevokeSession {
        sid: usize,
        forget: u64,
    },
    RevokeSubject {
        sub: usize,
        cutoff_ms: u64,
        forget: u64,
    },
    Purge {
        at: u64,
    },
    Load {
        at: u64,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let forget = || 0u64..40;
    let grace = prop_oneof![Just(0u64), Just(1_000), 0u64..3_000];
    let rotate = (0usize..3, 0usize..6, 0u64..4_000, grace, forget());
    prop_oneof![
        2 => (0usize..3, forget()).prop_map(|(sid, forget)| Step::Create { sid, forget }),
        6 => rotate.prop_map(|(sid, pick, at_ms, grace_ms, forget)| Step::Rotate {
            sid,
            pick,
            at_ms,
            grace_ms,
            forget,
        }),
        1 => (0usize..3, forget()).prop_map(|(jti, forget)| Step::RevokeToken { jti, forget }),
        1 => (0usize..4, forget()).prop_map(|(sid, forget)| Step::RevokeSession { sid, forget }),
        1 => (0usize..2, 0u64..4_000, forget()).prop_map(|(sub, cutoff_ms, forget)| {
            Step::RevokeSubject { sub, cutoff_ms, forget }
        }),
        1 => (0u64..45).prop_map(|at| Step::Purge { at }),
        2 => (0u64..45).prop_map(|at| Step::Load { at }),
    ]
}

/// Sequences of 1 to 40 steps.
pub fn steps() -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec(step(), 1..=40)
}

/// The proptest settings of the differential tests: `cases` sequences, nothing persisted.
pub fn config(cases: u32) -> proptest::test_runner::Config {
    proptest::test_runner::Config {
        cases,
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    }
}

/// How `purge` counts, compared with `MemoryBackend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counts {
    /// As `MemoryBackend` does: a revoked session's record and entry apart (Redis).
    Same,
    /// A revoked session's record is its entry, and counts once (SQL): the counts are not
    /// compared, only what the purge leaves, through every later answer.
    RevokedSessionsOnce,
}

/// Entries as comparable text, sorted, without repeats (a `SCAN` may find a key twice).
fn entry_set(entries: &[RevocationEntry]) -> Vec<String> {
    let mut set: Vec<String> = entries.iter().map(|e| format!("{e:?}")).collect();
    set.sort();
    set.dedup();
    set
}

/// Runs `steps` on a fresh `MemoryBackend` and on `backend` (a fresh state, named `name`)
/// side by side; every answer must be the same.
pub async fn same_answers(
    steps: &[Step],
    backend: &dyn RevocationBackend,
    name: &str,
    counts: Counts,
) -> Result<(), TestCaseError> {
    let memory = MemoryBackend::new();
    let backends: [&dyn RevocationBackend; 2] = [&memory, backend];
    /// The answers of both backends to one call, as text.
    macro_rules! ask {
        (|$b:ident| $call:expr) => {{
            let mut answers = Vec::new();
            for $b in backends {
                answers.push(format!("{:?}", $call.await.map_err(|e| e.to_string())));
            }
            answers
        }};
    }
    // The tokens handed out per session, oldest first.
    let mut handed_out: Vec<Vec<String>> = vec![Vec::new(); 3];
    for (n, step) in steps.iter().enumerate() {
        let answers = match *step {
            Step::Create { sid, forget } => {
                let (id, first) = (format!("sid{sid}"), format!("sid{sid}-0"));
                if handed_out[sid].is_empty() {
                    handed_out[sid].push(first.clone());
                }
                let session = NewSession::new(&id, "alice", NOW * 1000, &first, NOW + forget);
                ask!(|b| b.create_session(&session))
            }
            Step::Rotate {
                sid,
                pick,
                at_ms,
                grace_ms,
                forget,
            } => {
                let tokens = &mut handed_out[sid];
                let presented = tokens
                    .get(pick)
                    .cloned()
                    .unwrap_or_else(|| format!("stranger-{pick}"));
                let (id, next) = (format!("sid{sid}"), format!("sid{sid}-{}", tokens.len()));
                let now_ms = NOW * 1000 + at_ms;
                let rotation =
                    Rotation::new(&id, &presented, &next, now_ms, grace_ms, NOW + forget);
                let answers = ask!(|b| b.rotate(&rotation));
                if answers[0] == format!("{:?}", Ok::<_, String>(RotateOutcome::Rotated)) {
                    tokens.push(next);
                }
                answers
            }
            Step::RevokeToken { jti, forget } => {
                let entry = RevocationEntry::Token {
                    jti: format!("jti{jti}"),
                    expires_at: NOW + forget,
                };
                ask!(|b| b.revoke(&entry))
            }
            Step::RevokeSession { sid, forget } => {
                let entry = RevocationEntry::Session {
                    sid: format!("sid{sid}"),
                    expires_at: NOW + forget,
                };
                ask!(|b| b.revoke(&entry))
            }
            Step::RevokeSubject {
                sub,
                cutoff_ms,
                forget,
            } => {
                let entry = RevocationEntry::Subject {
                    sub: format!("sub{sub}"),
                    cutoff_ms: NOW * 1000 + cutoff_ms,
                    expires_at: NOW + forget,
                };
                ask!(|b| b.revoke(&entry))
            }
            Step::Purge { at } => match counts {
                Counts::Same => ask!(|b| b.purge(NOW + at)),
                Counts::RevokedSessionsOnce => ask!(|b| b.purge(NOW + at).map_ok(drop)),
            },
            Step::Load { at } => ask!(|b| b.load(NOW + at).map_ok(|entries| entry_set(&entries))),
        };
        prop_assert_eq!(
            &answers[0],
            &answers[1],
            "step {} ({:?}): memory, then {}",
            n,
            step,
            name
        );
    }
    Ok(())
}
