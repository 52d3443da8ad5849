//! Two instances of an application over one shared backend, each running its store's task
//! with a short purge interval, on a clock that moves: many sessions refresh on either
//! instance, some are logged out, some have a token revoked, some have an old refresh token
//! replayed, all at once. Throughout, and after every purge, no superseded refresh token and
//! no revoked token is ever accepted again; every live session refreshes from exactly its
//! newest token, and an older one trips reuse detection.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{collections::HashSet, sync::Arc, time::Duration};

use tower_jwt_auth::{
    Issuer, KeySet, Sessions, SigningKey, TokenPair,
    clock::{Clock, MockClock},
    session::RefreshError,
    store::{MemoryBackend, RevocationStore},
    token::{NoCustomClaims, TokenError},
};

const SESSIONS: usize = 40;
const ROUNDS: u64 = 40;
/// How far both clocks move between rounds.
const STEP: u64 = 30;
const ACCESS_TTL: u64 = 60;
const REFRESH_TTL: u64 = 120;
const SESSION_TTL: u64 = 600;
const LEEWAY: u64 = 10;
const T0: u64 = 1_800_000_000;

/// One instance: its own clock, store (with its task) and sessions; the keys and the backend
/// are shared.
struct Instance {
    clock: MockClock,
    store: RevocationStore,
    sessions: Sessions,
}

fn instance(keys: &KeySet, backend: &Arc<MemoryBackend>) -> Instance {
    let clock = MockClock::at_secs(T0);
    let store = RevocationStore::builder()
        .with_backend(backend.clone())
        .with_clock(clock.clone())
        .with_purge_interval(Duration::from_secs(5))
        .build()
        .unwrap();
    let issuer = Issuer::builder(keys.clone())
        .with_clock(clock.clone())
        .with_leeway(Duration::from_secs(LEEWAY))
        .with_access_ttl(Duration::from_secs(ACCESS_TTL))
        .with_refresh_ttl(Duration::from_secs(REFRESH_TTL))
        .with_session_ttl(Duration::from_secs(SESSION_TTL))
        .with_revocation_store(store.clone())
        .build()
        .unwrap();
    Instance {
        clock,
        store,
        sessions: Sessions::new(issuer),
    }
}

/// A small deterministic generator (xorshift), so that every run does the same.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// What the test knows of a session.
#[derive(Clone)]
struct Session {
    /// Every pair handed out, oldest first, each with the second it was minted.
    pairs: Vec<(TokenPair, u64)>,
    /// Access tokens revoked one by one (RFC 7009).
    revoked_access: HashSet<String>,
    /// Logged out, revoked with its refresh token, or revoked for reuse.
    dead: bool,
    /// How it ended: "reuse", "logout" or "revoke".
    ended: &'static str,
}

impl Session {
    fn newest(&self) -> &TokenPair {
        &self.pairs.last().unwrap().0
    }

    /// The second from which the newest refresh token no longer verifies.
    fn refresh_until(&self) -> u64 {
        let (pair, at) = self.pairs.last().unwrap();
        at + pair.refresh_expires_in() + LEEWAY
    }

    /// The superseded pairs whose refresh token has not expired yet.
    fn older_unexpired(&self, now: u64) -> impl Iterator<Item = &TokenPair> {
        let superseded = &self.pairs[..self.pairs.len() - 1];
        superseded
            .iter()
            .filter(move |(pair, at)| now < at + pair.refresh_expires_in() + LEEWAY)
            .map(|(pair, _)| pair)
    }

    /// Whether the access token of `pairs[i]` must be accepted at `now`.
    fn access_live(&self, i: usize, now: u64) -> bool {
        let (pair, at) = &self.pairs[i];
        !self.dead
            && !self.revoked_access.contains(pair.access_token())
            && now < at + pair.expires_in() + LEEWAY
    }
}

/// Lets the stores' tasks apply the change feed and purge (tokio time is paused).
async fn settle() {
    for _ in 0..4 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(1)).await;
}

/// One round of session `s`: an action on instance `on`, chosen by `roll`.
async fn act(instances: Arc<[Instance; 2]>, mut s: Session, roll: u64, on: usize) -> Session {
    let here = &instances[on];
    let now = here.clock.now_secs();
    if s.dead || now >= s.refresh_until() {
        return s;
    }
    tokio::task::yield_now().await;
    match roll % 100 {
        // Refresh from the newest token: always exactly one new pair.
        0..60 => {
            let next = here
                .sessions
                .refresh(s.newest().refresh_token())
                .await
                .unwrap_or_else(|e| panic!("a live session failed to refresh: {e}"));
            assert_eq!(next.session_id(), s.newest().session_id());
            s.pairs.push((next, now));
        }
        // Replay of an older refresh token: reuse, and the whole session is revoked.
        60..68 if s.older_unexpired(now).next().is_some() => {
            let older: Vec<&TokenPair> = s.older_unexpired(now).collect();
            let old = older[(roll as usize / 100) % older.len()];
            let replay = here.sessions.refresh(old.refresh_token()).await;
            assert!(matches!(replay, Err(RefreshError::Reused)), "{replay:?}");
            (s.dead, s.ended) = (true, "reuse");
            tokio::task::yield_now().await;
            let there = &instances[1 - on];
            let newest = there.sessions.refresh(s.newest().refresh_token()).await;
            assert!(
                matches!(newest, Err(RefreshError::InvalidToken(TokenError::Revoked))),
                "the newest token after a reuse: {newest:?}"
            );
        }
        68..74 => {
            here.sessions.logout(s.newest().session_id()).await.unwrap();
            (s.dead, s.ended) = (true, "logout");
        }
        // One access token revoked; the session lives on.
        74..80 if s.access_live(s.pairs.len() - 1, now) => {
            let access = s.newest().access_token().to_owned();
            assert!(here.sessions.revoke(&access).await.unwrap().is_some());
            s.revoked_access.insert(access);
        }
        // RFC 7009 with the refresh token: the whole session.
        80..84 => {
            assert!(
                here.sessions
                    .revoke(s.newest().refresh_token())
                    .await
                    .unwrap()
                    .is_some()
            );
            (s.dead, s.ended) = (true, "revoke");
        }
        _ => {}
    }
    s
}

/// Every check of the model against both instances. `all` also presents every refresh token
/// of every ended session (a slower check, made now and then).
async fn check(instances: &[Instance; 2], sessions: &[Session], all: bool) {
    for (i, s) in sessions.iter().enumerate() {
        for (at, instance) in instances.iter().enumerate() {
            let now = instance.clock.now_secs();
            let verifier = instance.sessions.issuer().verifier();
            let indices: Vec<usize> = if all || s.dead {
                (0..s.pairs.len()).collect()
            } else {
                vec![s.pairs.len() - 1]
            };
            for k in indices {
                let accepted = verifier
                    .verify_access::<NoCustomClaims>(s.pairs[k].0.access_token())
                    .is_ok();
                assert_eq!(
                    accepted,
                    s.access_live(k, now),
                    "session {i}, access token {k}, on instance {at}, at T0+{}",
                    now - T0
                );
            }
            for access in &s.revoked_access {
                assert!(verifier.verify_access::<NoCustomClaims>(access).is_err());
            }
            if all && (s.dead || now >= s.refresh_until()) {
                for (k, (pair, _)) in s.pairs.iter().enumerate() {
                    let refused = instance.sessions.refresh(pair.refresh_token()).await;
                    assert!(
                        refused.as_ref().is_err_and(RefreshError::is_invalid_grant),
                        "session {i}, refresh token {k}, on instance {at}: {refused:?}"
                    );
                }
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn two_instances_with_purges_never_readmit_a_superseded_or_revoked_token() {
    let keys = KeySet::new(SigningKey::generate_ed25519().unwrap());
    let backend = Arc::new(MemoryBackend::new());
    let instances = Arc::new([instance(&keys, &backend), instance(&keys, &backend)]);
    let tasks: Vec<_> = instances
        .iter()
        .map(|i| tokio::spawn(i.store.clone().run()))
        .collect();
    settle().await;
    assert!(instances.iter().all(|i| i.store.is_ready()));

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut sessions: Vec<Session> = Vec::new();
    let mut purged_records = false;
    let mut purged_entries = false;
    for round in 0..ROUNDS {
        // New logins, staggered over the first rounds, on either instance.
        while sessions.len() < SESSIONS && sessions.len() as u64 * 24 / SESSIONS as u64 <= round {
            let here = &instances[sessions.len() % 2];
            let pair = here.sessions.start("user").await.unwrap();
            let now = here.clock.now_secs();
            sessions.push(Session {
                pairs: vec![(pair, now)],
                revoked_access: HashSet::new(),
                dead: false,
                ended: "",
            });
        }

        // Every session acts at once, each on an instance of its own choosing.
        let handles: Vec<_> = sessions
            .drain(..)
            .map(|s| {
                let (roll, on) = (rng.next() % 10_000, (rng.next() % 2) as usize);
                tokio::spawn(act(instances.clone(), s, roll, on))
            })
            .collect();
        for handle in handles {
            sessions.push(handle.await.unwrap());
        }
        settle().await;
        check(&instances, &sessions, round % 8 == 7).await;

        // Both clocks move together, and the stores' tasks purge on their interval.
        let entries = instances[0].store.len();
        let records = backend.session_count();
        for instance in instances.iter() {
            instance.clock.advance(Duration::from_secs(STEP));
        }
        tokio::time::advance(Duration::from_secs(STEP)).await;
        settle().await;
        purged_records |= backend.session_count() < records;
        purged_entries |= instances[0].store.len() < entries;
        check(&instances, &sessions, false).await;
    }
    assert!(purged_records, "no session record was ever purged");
    assert!(purged_entries, "no revocation was ever purged");
    for how in ["reuse", "logout", "revoke"] {
        assert!(
            sessions.iter().any(|s| s.ended == how),
            "no session ended by {how}"
        );
    }
    assert!(sessions.iter().any(|s| !s.revoked_access.is_empty()));
    assert!(sessions.iter().any(|s| s.pairs.len() > 8));

    // Every session still live refreshes from exactly its newest token, and the token before
    // it trips reuse.
    let mut live = 0;
    for (i, s) in sessions.iter_mut().enumerate() {
        let here = &instances[i % 2];
        if s.dead || here.clock.now_secs() >= s.refresh_until() {
            continue;
        }
        live += 1;
        let next = instances[1 - i % 2]
            .sessions
            .refresh(s.newest().refresh_token())
            .await
            .unwrap();
        s.pairs.push((next, here.clock.now_secs()));
        let older = &s.pairs[s.pairs.len() - 2].0;
        let replay = here.sessions.refresh(older.refresh_token()).await;
        assert!(matches!(replay, Err(RefreshError::Reused)), "{replay:?}");
        s.dead = true;
    }
    assert!(live > 0, "no session was left to refresh at the end");
    assert!(sessions.iter().filter(|s| s.dead).count() > live);
    settle().await;
    check(&instances, &sessions, true).await;

    // Past every lifetime: everything is purged, and nothing is readmitted.
    for instance in instances.iter() {
        instance
            .clock
            .advance(Duration::from_secs(SESSION_TTL + LEEWAY + 1));
    }
    tokio::time::advance(Duration::from_secs(10)).await;
    settle().await;
    assert_eq!(backend.session_count(), 0);
    assert!(instances.iter().all(|i| i.store.is_empty()));
    check(&instances, &sessions, true).await;
    for task in tasks {
        task.abort();
    }
}
