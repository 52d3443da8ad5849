//! Model-based property test of refresh sessions: random sequences of logins, refreshes (of
//! any refresh token ever handed out, current or superseded), logouts, "log out everywhere",
//! purges and clock moves run against the real `Issuer`/`Sessions`, next to a small reference
//! model. A token is accepted only if the model says so, and every refusal has the class the
//! model predicts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use proptest::{prelude::*, test_runner::TestCaseError};
use tower_jwt_auth::{Sessions, TokenPair, session::RefreshError, token::TokenError};

/// The model tracks at most this many sessions; a login beyond it forgets the oldest one.
const MAX_SESSIONS: usize = 3;
const SUBJECTS: [&str; 2] = ["alice", "bob"];

/// Which handed-out refresh token of a session a refresh presents.
#[derive(Debug, Clone)]
enum Pick {
    /// The session's current refresh token.
    Current,
    /// Its immediate predecessor (the current one before any rotation).
    Previous,
    /// Any token handed out in the session (index modulo their number).
    Any(usize),
}

#[derive(Debug, Clone)]
enum Op {
    /// A new session of `SUBJECTS[n]`.
    Login(usize),
    /// Refresh the session (index modulo the number of tracked sessions).
    Refresh(usize, Pick),
    Logout(usize),
    /// "Log out everywhere" of `SUBJECTS[n]`.
    LogoutAll(usize),
    Purge,
    /// Move the clock by whole seconds, then purge if asked (as the store's run task would).
    Advance(u64, bool),
    /// Move the clock by milliseconds (sub-second expiry and grace edges), then purge if
    /// asked.
    AdvanceMs(u64, bool),
}

/// The class of a refresh or verification result.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Ok,
    Reused,
    Revoked,
    Expired,
    Other(String),
}

fn refresh_outcome(result: &Result<TokenPair, RefreshError>) -> Outcome {
    match result {
        Ok(_) => Outcome::Ok,
        Err(RefreshError::Reused) => Outcome::Reused,
        Err(RefreshError::InvalidToken(err)) => token_error(err),
        Err(other) => Outcome::Other(format!("{other:?}")),
    }
}

fn token_outcome<T>(result: &Result<T, TokenError>) -> Outcome {
    result.as_ref().map_or_else(token_error, |_| Outcome::Ok)
}

fn token_error(err: &TokenError) -> Outcome {
    match err {
        TokenError::Revoked => Outcome::Revoked,
        TokenError::Expired => Outcome::Expired,
        other => Outcome::Other(format!("{other:?}")),
    }
}

#[derive(Debug)]
struct Token {
    jwt: String,
    exp: u64,
}

/// The model of one session: everything handed out, and the rotation state.
#[derive(Debug)]
struct Session {
    sid: String,
    subject: usize,
    /// Absolute expiry: login second + session lifetime.
    session_exp: u64,
    /// Every refresh token handed out, oldest first.
    refresh: Vec<Token>,
    /// The access token handed out with each refresh token (same index).
    access: Vec<Token>,
    /// Index of the one refresh token that can refresh.
    current: usize,
    /// The immediate predecessor and when it was first superseded (ms).
    previous: Option<(usize, u64)>,
    revoked: bool,
}

/// Access, refresh (idle) and session lifetimes in seconds, A <= R <= S.
#[derive(Debug, Clone, Copy)]
struct Lifetimes {
    access: u64,
    refresh: u64,
    session: u64,
}

#[derive(Debug)]
struct Model {
    now_ms: u64,
    ttl: Lifetimes,
    leeway: u64,
    grace_ms: u64,
    sessions: Vec<Session>,
}

impl Model {
    fn now(&self) -> u64 {
        self.now_ms / 1000
    }

    /// A token is within its lifetime while `now < exp + leeway`.
    fn live(&self, exp: u64) -> bool {
        self.now() < exp + self.leeway
    }

    /// What verifying a token of session `s` with this `exp` gives: expiry is checked
    /// before revocation.
    fn verdict(&self, s: &Session, exp: u64) -> Outcome {
        if !self.live(exp) {
            Outcome::Expired
        } else if s.revoked {
            Outcome::Revoked
        } else {
            Outcome::Ok
        }
    }

    /// What presenting refresh token `j` of session `i` gives.
    fn predict_refresh(&self, i: usize, j: usize) -> Outcome {
        let s = &self.sessions[i];
        match self.verdict(s, s.refresh[j].exp) {
            Outcome::Ok => {}
            refused => return refused,
        }
        let retry_in_grace = self.grace_ms > 0
            && s.previous
                .is_some_and(|(p, at)| p == j && self.now_ms - at <= self.grace_ms);
        if j == s.current || retry_in_grace {
            Outcome::Ok
        } else {
            Outcome::Reused
        }
    }

    /// The expiries of a pair minted now in a session ending at `session_exp`.
    fn expiries(&self, session_exp: u64) -> (u64, u64) {
        let now = self.now();
        (
            (now + self.ttl.access).min(session_exp),
            (now + self.ttl.refresh).min(session_exp),
        )
    }

    /// Checks a freshly handed-out pair against the model and records it in session `i`.
    fn hand_out(&mut self, i: usize, pair: &TokenPair) -> Result<(), TestCaseError> {
        let now = self.now();
        let (access_exp, refresh_exp) = self.expiries(self.sessions[i].session_exp);
        let s = &mut self.sessions[i];
        prop_assert_eq!(pair.session_id(), s.sid.as_str());
        prop_assert_eq!(pair.expires_in(), access_exp.saturating_sub(now));
        prop_assert_eq!(pair.refresh_expires_in(), refresh_exp.saturating_sub(now));
        s.refresh.push(Token {
            jwt: pair.refresh_token().to_owned(),
            exp: refresh_exp,
        });
        s.access.push(Token {
            jwt: pair.access_token().to_owned(),
            exp: access_exp,
        });
        Ok(())
    }
}

fn pick() -> impl Strategy<Value = Pick> {
    prop_oneof![
        4 => Just(Pick::Current),
        3 => Just(Pick::Previous),
        1 => any::<usize>().prop_map(Pick::Any),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => prop_oneof![3 => Just(0), 1 => Just(1)].prop_map(Op::Login),
        8 => (0..MAX_SESSIONS, pick()).prop_map(|(i, p)| Op::Refresh(i, p)),
        1 => (0..MAX_SESSIONS).prop_map(Op::Logout),
        2 => prop_oneof![3 => Just(0), 1 => Just(1)].prop_map(Op::LogoutAll),
        1 => Just(Op::Purge),
        3 => (prop_oneof![Just(1u64), 0u64..=3], any::<bool>())
            .prop_map(|(s, p)| Op::Advance(s, p)),
        2 => (0u64..=15, any::<bool>()).prop_map(|(s, p)| Op::Advance(s, p)),
        2 => (0u64..=120, any::<bool>()).prop_map(|(s, p)| Op::Advance(s, p)),
        1 => (1u64..=2_000, any::<bool>()).prop_map(|(ms, p)| Op::AdvanceMs(ms, p)),
    ]
}

fn lifetimes() -> impl Strategy<Value = Lifetimes> {
    let lifetimes = |(access, refresh, session)| Lifetimes {
        access,
        refresh,
        session,
    };
    prop_oneof![
        Just((60, 300, 600)).prop_map(lifetimes),
        // The refresh lifetime reaching the session's: tokens end with the session.
        Just((30, 120, 120)).prop_map(lifetimes),
        Just((10, 10, 10)).prop_map(lifetimes),
        (1u64..=60, 0u64..=120, 0u64..=240).prop_map(|(a, dr, ds)| Lifetimes {
            access: a,
            refresh: a + dr,
            session: a + dr + ds,
        }),
    ]
}

fn run(ttl: Lifetimes, grace_ms: u64, leeway: u64, ops: &[Op]) -> Result<(), TestCaseError> {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(run_async(ttl, grace_ms, leeway, ops))
}

async fn run_async(
    ttl: Lifetimes,
    grace_ms: u64,
    leeway: u64,
    ops: &[Op],
) -> Result<(), TestCaseError> {
    let env = env_with(|b| {
        b.with_access_ttl(Duration::from_secs(ttl.access))
            .with_refresh_ttl(Duration::from_secs(ttl.refresh))
            .with_session_ttl(Duration::from_secs(ttl.session))
            .with_leeway(Duration::from_secs(leeway))
    });
    let sessions = Sessions::builder(env.issuer.clone())
        .with_reuse_grace(Duration::from_millis(grace_ms))
        .build()
        .unwrap();
    let verifier = env.issuer.verifier();
    let mut model = Model {
        now_ms: T0 * 1000,
        ttl,
        leeway,
        grace_ms,
        sessions: Vec::new(),
    };

    // Every sequence starts with a session of alice: step 0 is that login, step k is
    // `ops[k - 1]`.
    let ops = std::iter::once(&Op::Login(0)).chain(ops);
    for (step, op) in ops.enumerate() {
        match op {
            Op::Login(n) => {
                let pair = env
                    .sessions
                    .start_with_claims(SUBJECTS[*n], "", &profile())
                    .await
                    .unwrap();
                if model.sessions.len() == MAX_SESSIONS {
                    model.sessions.remove(0);
                }
                model.sessions.push(Session {
                    sid: pair.session_id().to_owned(),
                    subject: *n,
                    session_exp: model.now() + ttl.session,
                    refresh: Vec::new(),
                    access: Vec::new(),
                    current: 0,
                    previous: None,
                    revoked: false,
                });
                let i = model.sessions.len() - 1;
                model.hand_out(i, &pair)?;
            }
            Op::Refresh(i, pick) => {
                if model.sessions.is_empty() {
                    continue;
                }
                let i = i % model.sessions.len();
                let s = &model.sessions[i];
                let j = match pick {
                    Pick::Current => s.current,
                    Pick::Previous => s.previous.map_or(s.current, |(p, _)| p),
                    Pick::Any(k) => k % s.refresh.len(),
                };
                let expected = model.predict_refresh(i, j);
                let result = sessions.refresh(&s.refresh[j].jwt).await;
                let actual = refresh_outcome(&result);
                prop_assert_eq!(
                    &actual,
                    &expected,
                    "step {}: refresh of token {} of session {} (current {}, previous {:?}, \
                     revoked {}, exp {}), now {} ms",
                    step,
                    j,
                    i,
                    s.current,
                    s.previous,
                    s.revoked,
                    s.refresh[j].exp,
                    model.now_ms
                );
                match result {
                    Ok(pair) => {
                        model.hand_out(i, &pair)?;
                        let now_ms = model.now_ms;
                        let s = &mut model.sessions[i];
                        if j == s.current {
                            s.previous = Some((j, now_ms));
                        }
                        // A retry in the grace window replaces the current token; the
                        // predecessor and its superseded time stay.
                        s.current = s.refresh.len() - 1;
                    }
                    Err(_) if expected == Outcome::Reused => model.sessions[i].revoked = true,
                    Err(_) => {}
                }
            }
            Op::Logout(i) => {
                if model.sessions.is_empty() {
                    continue;
                }
                let i = i % model.sessions.len();
                sessions.logout(&model.sessions[i].sid).await.unwrap();
                model.sessions[i].revoked = true;
            }
            Op::LogoutAll(n) => {
                sessions.logout_all(SUBJECTS[*n]).await.unwrap();
                for s in model.sessions.iter_mut().filter(|s| s.subject == *n) {
                    s.revoked = true;
                }
            }
            Op::Purge => {
                sessions.purge_expired();
            }
            Op::Advance(secs, purge) => {
                env.advance(*secs);
                model.now_ms += secs * 1000;
                if *purge {
                    sessions.purge_expired();
                }
            }
            Op::AdvanceMs(ms, purge) => {
                env.clock.advance(Duration::from_millis(*ms));
                model.now_ms += ms;
                if *purge {
                    sessions.purge_expired();
                }
            }
        }

        // The latest access and refresh tokens of every session: accepted exactly when the
        // model says (verifying a refresh token does not consume it).
        for (i, s) in model.sessions.iter().enumerate() {
            let access = s.access.last().unwrap();
            let actual = token_outcome(&verifier.verify_access::<Profile>(&access.jwt));
            prop_assert_eq!(
                &actual,
                &model.verdict(s, access.exp),
                "step {}: latest access token of session {} (revoked {}, exp {}), now {} ms",
                step,
                i,
                s.revoked,
                access.exp,
                model.now_ms
            );
            let refresh = s.refresh.last().unwrap();
            let actual = token_outcome(&verifier.verify_refresh::<Profile>(&refresh.jwt));
            prop_assert_eq!(
                &actual,
                &model.verdict(s, refresh.exp),
                "step {}: latest refresh token of session {} (revoked {}, exp {}), now {} ms",
                step,
                i,
                s.revoked,
                refresh.exp,
                model.now_ms
            );
        }
    }

    // Every token handed out, at the end: an access or refresh token verifies exactly when
    // it is in its lifetime and its session is not revoked (verifying a refresh token does
    // not consume it, so a superseded one still verifies).
    let check_all = |model: &Model| -> Result<(), TestCaseError> {
        for (i, s) in model.sessions.iter().enumerate() {
            for (k, t) in s.access.iter().enumerate() {
                let actual = token_outcome(&verifier.verify_access::<Profile>(&t.jwt));
                prop_assert_eq!(
                    &actual,
                    &model.verdict(s, t.exp),
                    "access token {} of session {}",
                    k,
                    i
                );
            }
            for (k, t) in s.refresh.iter().enumerate() {
                let actual = token_outcome(&verifier.verify_refresh::<Profile>(&t.jwt));
                prop_assert_eq!(
                    &actual,
                    &model.verdict(s, t.exp),
                    "refresh token {} of session {}",
                    k,
                    i
                );
            }
        }
        Ok(())
    };
    check_all(&model)?;

    // Then, in order, the last second of every token's lifetime, after a purge: purging never
    // forgets a revocation that still covers a token.
    let mut last_seconds: Vec<u64> = model
        .sessions
        .iter()
        .flat_map(|s| s.access.iter().chain(&s.refresh))
        .filter(|t| model.live(t.exp))
        .map(|t| t.exp + leeway - 1)
        .collect();
    last_seconds.sort_unstable();
    last_seconds.dedup();
    for second in last_seconds {
        let ms = second * 1000;
        if ms > model.now_ms {
            env.clock.advance(Duration::from_millis(ms - model.now_ms));
            model.now_ms = ms;
        }
        sessions.purge_expired();
        check_all(&model)?;
    }

    // Past every lifetime, purging forgets every local entry, and every token is expired. A
    // "log out everywhere" cut-off lies the leeway ahead of the clock (it covers sessions
    // started on an instance whose clock is ahead), so it is kept that much longer.
    let beyond = ttl.session + 2 * leeway + 1;
    env.advance(beyond);
    model.now_ms += beyond * 1000;
    sessions.purge_expired();
    prop_assert!(
        env.issuer.revocation().is_empty(),
        "entries left after purging: {:?}",
        env.issuer.revocation()
    );
    check_all(&model)?;
    for s in &model.sessions {
        let outcome = refresh_outcome(&sessions.refresh(&s.refresh[s.current].jwt).await);
        prop_assert_eq!(outcome, Outcome::Expired);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        // Keep failures in the output only: no regression file next to the tests.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn tokens_are_accepted_only_when_the_model_says_so(
        ttl in lifetimes(),
        grace_ms in prop_oneof![
            2 => Just(0u64),
            2 => Just(1_000),
            1 => Just(2_000),
            1 => Just(10_000),
            1 => 1u64..=60_000,
        ],
        leeway in prop_oneof![Just(0u64), Just(1), Just(5), Just(30), 0u64..=60],
        ops in prop::collection::vec(op(), 1..=40),
    ) {
        run(ttl, grace_ms, leeway, &ops)?;
    }
}
