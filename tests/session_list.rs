//! The sessions a subject can see and end: listing (with labels, start and last-refresh
//! times, the caller's own marked), ending one by id only within the caller's subject, and
//! the per-subject cap that ends the oldest.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::*;
use tower_jwt_auth::{
    Sessions, TokenPair,
    clock::MockClock,
    session::{Login, RefreshError, StartError},
    store::{
        BoxError, BoxFuture, ChangeStream, Heartbeat, MemoryBackend, NewSession, RevocationBackend,
        RevocationEntry, RotateOutcome, Rotation,
    },
    token::NoCustomClaims,
};

const T0_MS: u64 = T0 * 1000;

fn valid(env: &Env, pair: &TokenPair) -> bool {
    env.issuer
        .verifier()
        .verify_access::<NoCustomClaims>(pair.access_token())
        .is_ok()
}

fn ids(listed: &[tower_jwt_auth::session::SessionInfo]) -> Vec<&str> {
    listed.iter().map(|s| s.id.as_str()).collect()
}

fn capped(env: &Env, max: usize) -> Sessions {
    Sessions::builder(env.issuer.clone())
        .with_max_sessions_per_subject(max)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_subject_lists_its_live_sessions_with_labels_oldest_first() {
    let env = env();
    let phone = env
        .sessions
        .start_with(Login::new("alice").with_label("phone"))
        .await
        .unwrap();
    env.advance(1);
    let laptop = env
        .sessions
        .start_with(
            Login::new("alice")
                .with_scope("read")
                .with_claims(&profile())
                .with_label("laptop"),
        )
        .await
        .unwrap();
    env.advance(1);
    let bare = env.sessions.start("alice").await.unwrap();
    let bob = env.sessions.start("bob").await.unwrap();

    let listed = env
        .sessions
        .list_sessions("alice", Some(laptop.session_id()))
        .await
        .unwrap();
    assert_eq!(
        ids(&listed),
        [phone.session_id(), laptop.session_id(), bare.session_id()]
    );
    let labels: Vec<_> = listed.iter().map(|s| s.label.as_deref()).collect();
    assert_eq!(labels, [Some("phone"), Some("laptop"), None]);
    let started: Vec<_> = listed.iter().map(|s| s.started_ms).collect();
    assert_eq!(started, [T0_MS, T0_MS + 1000, T0_MS + 2000]);
    assert!(listed.iter().all(|s| s.last_refreshed_ms.is_none()));
    let current: Vec<_> = listed.iter().map(|s| s.current).collect();
    assert_eq!(current, [false, true, false]);
    // The labelled start keeps scope and claims.
    assert_eq!(laptop.scope(), "read");

    let bobs = env.sessions.list_sessions("bob", None).await.unwrap();
    assert_eq!(ids(&bobs), [bob.session_id()]);
    assert!(!bobs[0].current, "no caller's session given");
    assert!(
        env.sessions
            .list_sessions("nobody", None)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn ended_revoked_and_cut_off_sessions_are_not_listed() {
    let env = env();
    let out = env.sessions.start("alice").await.unwrap();
    let revoked = env.sessions.start("alice").await.unwrap();
    let reused = env.sessions.start("alice").await.unwrap();
    let kept = env.sessions.start("alice").await.unwrap();
    env.sessions.logout(out.session_id()).await.unwrap();
    env.sessions.revoke(revoked.refresh_token()).await.unwrap();
    env.sessions.refresh(reused.refresh_token()).await.unwrap();
    assert!(matches!(
        env.sessions.refresh(reused.refresh_token()).await,
        Err(RefreshError::Reused)
    ));
    let listed = env.sessions.list_sessions("alice", None).await.unwrap();
    assert_eq!(ids(&listed), [kept.session_id()]);

    env.sessions.logout_all("alice").await.unwrap();
    assert!(
        env.sessions
            .list_sessions("alice", None)
            .await
            .unwrap()
            .is_empty(),
        "log out everywhere ends every listed session"
    );
    let after = env.sessions.start("alice").await.unwrap();
    let listed = env.sessions.list_sessions("alice", None).await.unwrap();
    assert_eq!(ids(&listed), [after.session_id()]);

    // Expired: past its absolute lifetime nothing of it is listed.
    env.advance(env.issuer.session_ttl_secs() + 3600);
    assert!(
        env.sessions
            .list_sessions("alice", None)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn listing_after_a_refresh_shows_the_new_last_refreshed_time() {
    let env = env();
    let first = env.login("alice").await;
    env.advance(90);
    let second = env.sessions.refresh(first.refresh_token()).await.unwrap();
    let listed = env.sessions.list_sessions("alice", None).await.unwrap();
    assert_eq!(listed[0].started_ms, T0_MS);
    assert_eq!(listed[0].last_refreshed_ms, Some(T0_MS + 90_000));
    env.advance(30);
    env.sessions.refresh(second.refresh_token()).await.unwrap();
    let listed = env.sessions.list_sessions("alice", None).await.unwrap();
    assert_eq!(listed[0].last_refreshed_ms, Some(T0_MS + 120_000));
    assert_eq!(listed.len(), 1, "a refresh keeps the session");
}

#[tokio::test]
async fn one_subject_cannot_end_another_subjects_session() {
    let env = env();
    let alice = env.login("alice").await;
    let bob = env.login("bob").await;
    for (who, sid) in [
        ("alice", bob.session_id()),
        ("mallory", alice.session_id()),
        ("alice", "no-such-session"),
    ] {
        assert!(
            !env.sessions.end_session(who, sid).await.unwrap(),
            "{who} ends {sid}"
        );
    }
    assert!(valid(&env, &alice) && valid(&env, &bob), "nothing changed");
    assert!(!env.issuer.revocation().is_session_revoked(bob.session_id()));
    let bob = env.sessions.refresh(bob.refresh_token()).await.unwrap();
    assert_eq!(
        env.sessions.list_sessions("bob", None).await.unwrap().len(),
        1
    );

    assert!(
        env.sessions
            .end_session("alice", alice.session_id())
            .await
            .unwrap()
    );
    assert!(!valid(&env, &alice));
    assert!(env.sessions.refresh(alice.refresh_token()).await.is_err());
    assert!(valid(&env, &bob));
    assert!(
        !env.sessions
            .end_session("alice", alice.session_id())
            .await
            .unwrap(),
        "an ended session is not live any more"
    );
}

#[tokio::test]
async fn the_cap_ends_the_oldest_sessions_first() {
    let env = env();
    let sessions = capped(&env, 2);
    let first = sessions.start("alice").await.unwrap();
    env.advance(1);
    let second = sessions.start("alice").await.unwrap();
    env.advance(1);
    let bob = sessions.start("bob").await.unwrap();
    // The oldest refreshed last: still the oldest by start.
    let first = sessions.refresh(first.refresh_token()).await.unwrap();
    env.advance(1);
    let third = sessions.start("alice").await.unwrap();
    assert!(!valid(&env, &first), "the oldest is ended");
    assert!(matches!(
        sessions.refresh(first.refresh_token()).await,
        Err(RefreshError::InvalidToken(_))
    ));
    assert!(valid(&env, &second) && valid(&env, &third));
    let listed = sessions.list_sessions("alice", None).await.unwrap();
    assert_eq!(ids(&listed), [second.session_id(), third.session_id()]);
    assert!(
        valid(&env, &bob),
        "another subject's sessions are not counted"
    );

    // A cap lowered later ends as many as needed at the next start.
    let one = capped(&env, 1);
    env.advance(1);
    let fourth = one.start("alice").await.unwrap();
    let listed = one.list_sessions("alice", None).await.unwrap();
    assert_eq!(ids(&listed), [fourth.session_id()]);
    assert!(!valid(&env, &second) && !valid(&env, &third));
}

#[test]
fn the_cap_is_validated() {
    let env = env();
    for bad in [0, 10_001, usize::MAX] {
        assert!(
            Sessions::builder(env.issuer.clone())
                .with_max_sessions_per_subject(bad)
                .build()
                .is_err(),
            "{bad}"
        );
    }
    for good in [1, 200, 10_000] {
        assert!(
            Sessions::builder(env.issuer.clone())
                .with_max_sessions_per_subject(good)
                .build()
                .is_ok()
        );
    }
}

#[tokio::test]
async fn a_label_longer_than_256_bytes_is_refused() {
    let env = env();
    let ok = "é".repeat(128);
    env.sessions
        .start_with(Login::new("alice").with_label(&ok))
        .await
        .unwrap();
    let long = "x".repeat(257);
    let err = env
        .sessions
        .start_with(Login::new("alice").with_label(&long))
        .await
        .unwrap_err();
    assert!(err.is_invalid_input(), "{err:?}");
    let bad_claims = env
        .sessions
        .start_with(Login::new("alice").with_claims(&42))
        .await
        .unwrap_err();
    assert!(bad_claims.is_invalid_input());
    assert_eq!(
        env.sessions
            .list_sessions("alice", None)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// A backend that keeps the state but does not list sessions (the trait's default).
#[derive(Debug, Default)]
struct Unlisted(MemoryBackend);

impl RevocationBackend for Unlisted {
    fn create_session<'a>(&'a self, s: &'a NewSession<'a>) -> BoxFuture<'a, Result<(), BoxError>> {
        self.0.create_session(s)
    }
    fn rotate<'a>(&'a self, r: &'a Rotation<'a>) -> BoxFuture<'a, Result<RotateOutcome, BoxError>> {
        self.0.rotate(r)
    }
    fn revoke<'a>(&'a self, e: &'a RevocationEntry) -> BoxFuture<'a, Result<(), BoxError>> {
        self.0.revoke(e)
    }
    fn load(&self, now: u64) -> BoxFuture<'_, Result<Vec<RevocationEntry>, BoxError>> {
        self.0.load(now)
    }
    fn subscribe(&self) -> BoxFuture<'_, Result<ChangeStream, BoxError>> {
        self.0.subscribe()
    }
    fn purge(&self, now: u64) -> BoxFuture<'_, Result<u64, BoxError>> {
        self.0.purge(now)
    }
    fn heartbeat<'a>(&'a self, beat: &'a Heartbeat) -> BoxFuture<'a, Result<(), BoxError>> {
        self.0.heartbeat(beat)
    }
}

#[tokio::test]
async fn without_a_listing_backend_listing_and_the_cap_fail_closed() {
    let clock = MockClock::at_secs(T0);
    let issuer = builder(&clock)
        .with_revocation_backend(Arc::new(Unlisted::default()))
        .build()
        .unwrap();
    issuer.revocation().load().await.unwrap();
    let plain = Sessions::new(issuer.clone());
    let pair = plain.start("alice").await.unwrap();
    assert!(plain.list_sessions("alice", None).await.is_err());
    assert!(plain.end_session("alice", pair.session_id()).await.is_err());
    assert!(
        issuer
            .verifier()
            .verify_access::<NoCustomClaims>(pair.access_token())
            .is_ok(),
        "a failed ending changes nothing"
    );
    let capped = Sessions::builder(issuer)
        .with_max_sessions_per_subject(5)
        .build()
        .unwrap();
    assert!(matches!(
        capped.start("alice").await,
        Err(StartError::Store(_))
    ));
}
