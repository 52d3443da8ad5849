//! Refresh rotation, reuse detection, session lifetimes, logout and revocation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::{
    sync::{
        Arc, Barrier, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use common::*;
use tower_jwt_auth::{
    Claims, Sessions, TokenPair,
    session::{RefreshDecision, RefreshError},
    store::{
        BoxError, BoxFuture, ChangeStream, Heartbeat, MemoryBackend, NewSession, RevocationBackend,
        RevocationEntry, RevocationError, RotateOutcome, Rotation,
    },
    token::{TokenError, TokenKind},
};

fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn valid(env: &Env, pair: &TokenPair) -> bool {
    env.issuer
        .verifier()
        .verify_access::<Profile>(pair.access_token())
        .is_ok()
}

fn access_error(env: &Env, pair: &TokenPair) -> TokenError {
    env.issuer
        .verifier()
        .verify_access::<Profile>(pair.access_token())
        .unwrap_err()
}

#[tokio::test]
async fn refresh_rotates_within_the_same_session() {
    let env = env();
    let first = env
        .sessions
        .start_with_claims("alice", "read write", &profile())
        .await
        .unwrap();
    env.advance(60);
    let second = env.sessions.refresh(first.refresh_token()).await.unwrap();
    assert_eq!(second.session_id(), first.session_id());
    assert_ne!(second.access_token(), first.access_token());
    assert_ne!(second.refresh_token(), first.refresh_token());
    assert_eq!(second.scope(), "read write");
    let claims: Claims<Profile> = env
        .issuer
        .verifier()
        .verify_access(second.access_token())
        .unwrap();
    assert_eq!(claims.custom, profile());
    assert_eq!(claims.iat, T0 + 60);
    assert_eq!(claims.sid, first.session_id());
    // The old access token stays valid until it expires: rotation is about refresh tokens.
    assert!(valid(&env, &first));
    let third = env.sessions.refresh(second.refresh_token()).await.unwrap();
    assert!(valid(&env, &third));
}

#[tokio::test]
async fn reuse_revokes_the_whole_session_and_only_that_session() {
    let env = env();
    let first = env.login("alice").await;
    let other_device = env.login("alice").await;
    let second = env.sessions.refresh(first.refresh_token()).await.unwrap();
    let third = env.sessions.refresh(second.refresh_token()).await.unwrap();

    // An attacker replays the first refresh token.
    assert!(matches!(
        env.sessions.refresh(first.refresh_token()).await,
        Err(RefreshError::Reused)
    ));
    // Every token of the family is dead, the newest included.
    for pair in [&first, &second, &third] {
        assert_eq!(access_error(&env, pair), TokenError::Revoked);
    }
    assert!(matches!(
        env.sessions.refresh(third.refresh_token()).await,
        Err(RefreshError::InvalidToken(TokenError::Revoked))
    ));
    // The user's other session is untouched.
    assert!(valid(&env, &other_device));
    assert!(
        env.sessions
            .refresh(other_device.refresh_token())
            .await
            .is_ok()
    );
}

fn grace_env(grace: u64) -> (Env, Sessions) {
    let env = env();
    let sessions = Sessions::builder(env.issuer.clone())
        .with_reuse_grace(Duration::from_secs(grace))
        .build()
        .unwrap();
    (env, sessions)
}

#[tokio::test]
async fn grace_window_tolerates_a_retry_of_the_latest_exchange_only() {
    let (env, sessions) = grace_env(10);
    let first = env.login("alice").await;
    let second = sessions.refresh(first.refresh_token()).await.unwrap();
    // The response was lost; the client retries within the window.
    env.advance(10);
    let retried = sessions.refresh(first.refresh_token()).await.unwrap();
    assert_eq!(retried.session_id(), first.session_id());
    assert!(valid(&env, &second));
    assert!(valid(&env, &retried));

    // Past the window, the same replay is reuse.
    env.advance(1);
    assert!(matches!(
        sessions.refresh(first.refresh_token()).await,
        Err(RefreshError::Reused)
    ));
    assert_eq!(access_error(&env, &retried), TokenError::Revoked);
}

#[tokio::test]
async fn grace_window_never_covers_an_older_token() {
    let (env, sessions) = grace_env(10);
    let first = env.login("alice").await;
    let second = sessions.refresh(first.refresh_token()).await.unwrap();
    let third = sessions.refresh(second.refresh_token()).await.unwrap();
    env.advance(1);
    // `first` is no longer the session's immediate predecessor.
    assert!(matches!(
        sessions.refresh(first.refresh_token()).await,
        Err(RefreshError::Reused)
    ));
    assert_eq!(access_error(&env, &third), TokenError::Revoked);
}

#[tokio::test]
async fn grace_window_is_capped() {
    let env = env();
    assert!(
        Sessions::builder(env.issuer)
            .with_reuse_grace(Duration::from_secs(61))
            .build()
            .is_err()
    );
}

#[tokio::test]
async fn refresh_renews_idle_expiry_but_never_extends_the_session() {
    let env = env_with(|b| {
        b.with_access_ttl(Duration::from_secs(600))
            .with_refresh_ttl(Duration::from_secs(1800))
            .with_session_ttl(Duration::from_secs(3600))
    });
    let mut pair = env.login("alice").await;
    assert_eq!(pair.refresh_expires_in(), 1800);
    let session_end = T0 + 3600;
    for step in 1..=3 {
        env.advance(1000);
        pair = env.sessions.refresh(pair.refresh_token()).await.unwrap();
        let now = T0 + 1000 * step;
        let refresh: Claims<Profile> = env
            .issuer
            .verifier()
            .verify_refresh(pair.refresh_token())
            .unwrap();
        assert_eq!(refresh.session_expires_at(), Some(session_end));
        assert_eq!(refresh.exp, (now + 1800).min(session_end));
        assert_eq!(
            pair.refresh_expires_in(),
            (now + 1800).min(session_end) - now
        );
        let access: Claims<Profile> = env
            .issuer
            .verifier()
            .verify_access(pair.access_token())
            .unwrap();
        assert_eq!(access.exp, (now + 600).min(session_end));
    }
    // T0 + 3000: 600 s of session left, so the pair says so.
    assert_eq!(pair.expires_in(), 600);
    assert_eq!(pair.refresh_expires_in(), 600);
    env.advance(600);
    assert!(matches!(
        env.sessions.refresh(pair.refresh_token()).await,
        Err(RefreshError::InvalidToken(TokenError::Expired))
    ));
    assert_eq!(access_error(&env, &pair), TokenError::Expired);
}

#[tokio::test]
async fn an_idle_session_ends_after_the_refresh_lifetime() {
    let env = env_with(|b| b.with_refresh_ttl(Duration::from_secs(1800)));
    let pair = env.login("alice").await;
    env.advance(1799);
    let pair = env.sessions.refresh(pair.refresh_token()).await.unwrap();
    env.advance(1800);
    assert!(matches!(
        env.sessions.refresh(pair.refresh_token()).await,
        Err(RefreshError::InvalidToken(TokenError::Expired))
    ));
}

#[tokio::test]
async fn logout_ends_one_session_at_once() {
    let env = env();
    let phone = env.login("alice").await;
    let laptop = env.login("alice").await;
    env.sessions.logout(phone.session_id()).await.unwrap();
    assert_eq!(access_error(&env, &phone), TokenError::Revoked);
    assert!(matches!(
        env.sessions.refresh(phone.refresh_token()).await,
        Err(RefreshError::InvalidToken(TokenError::Revoked))
    ));
    assert!(valid(&env, &laptop));
    assert!(env.sessions.refresh(laptop.refresh_token()).await.is_ok());
}

#[tokio::test]
async fn logout_all_in_the_same_millisecond_revokes_before_and_admits_after() {
    // The mock clock does not move: the token, the cut-off and the next login all happen at
    // the same millisecond, the hardest case for a time-based cut-off.
    let env = env();
    let before = env.login("alice").await;
    let bob = env.login("bob").await;
    env.sessions.logout_all("alice").await.unwrap();
    assert_eq!(access_error(&env, &before), TokenError::Revoked);
    assert!(matches!(
        env.sessions.refresh(before.refresh_token()).await,
        Err(RefreshError::InvalidToken(TokenError::Revoked))
    ));
    assert!(valid(&env, &bob));

    let after = env.login("alice").await;
    assert!(valid(&env, &after));
    let refreshed = env.sessions.refresh(after.refresh_token()).await.unwrap();
    assert!(valid(&env, &refreshed));

    // A second logout-all, still in the same millisecond, catches the new session too.
    env.sessions.logout_all("alice").await.unwrap();
    assert_eq!(access_error(&env, &refreshed), TokenError::Revoked);
    let again = env.login("alice").await;
    assert!(valid(&env, &again));
}

#[tokio::test]
async fn logout_all_within_one_second_orders_by_millisecond() {
    let env = env();
    env.clock.set_millis(T0 * 1000 + 100);
    let before = env.login("alice").await;
    env.clock.set_millis(T0 * 1000 + 500);
    env.sessions.logout_all("alice").await.unwrap();
    env.clock.set_millis(T0 * 1000 + 900);
    let after = env.login("alice").await;
    assert_eq!(access_error(&env, &before), TokenError::Revoked);
    assert!(valid(&env, &after));
    let claims: Claims<Profile> = env
        .issuer
        .verifier()
        .verify_access(after.access_token())
        .unwrap();
    assert_eq!(claims.iat, T0, "iat stays the clock's own second");
}

#[tokio::test]
async fn revoking_one_token_leaves_the_rest_of_its_session() {
    let env = env();
    let pair = env.login("alice").await;
    assert_eq!(
        env.sessions.revoke(pair.access_token()).await.unwrap(),
        Some(TokenKind::Access)
    );
    assert_eq!(access_error(&env, &pair), TokenError::Revoked);
    // The refresh token still works and its new access token too.
    let next = env.sessions.refresh(pair.refresh_token()).await.unwrap();
    assert!(valid(&env, &next));

    // Revoking a refresh token ends its session (RFC 7009 §2.1).
    assert_eq!(
        env.sessions.revoke(next.refresh_token()).await.unwrap(),
        Some(TokenKind::Refresh)
    );
    assert_eq!(access_error(&env, &next), TokenError::Revoked);

    // Revoking again is harmless; unknown or invalid tokens: nothing to do, and no error.
    assert_eq!(
        env.sessions.revoke(next.access_token()).await.unwrap(),
        Some(TokenKind::Access)
    );
    for token in ["", "garbage"] {
        assert_eq!(env.sessions.revoke(token).await.unwrap(), None);
    }
    env.advance(900);
    assert_eq!(
        env.sessions.revoke(next.access_token()).await.unwrap(),
        None,
        "expired"
    );
}

#[tokio::test]
async fn revoking_an_access_token_revokes_its_sessions_earlier_access_tokens_only() {
    let env = env();
    let other = env.login("bob").await;
    let mut pairs = vec![env.login("alice").await];
    for _ in 0..3 {
        env.advance(10);
        let next = env
            .sessions
            .refresh(pairs.last().unwrap().refresh_token())
            .await
            .unwrap();
        pairs.push(next);
    }
    let seq = |pair: &TokenPair| {
        let claims: Claims<Profile> = env
            .issuer
            .verifier()
            .verify_access(pair.access_token())
            .unwrap();
        claims.sequence()
    };
    let numbers: Vec<_> = pairs.iter().map(seq).collect();
    assert_eq!(numbers, [Some(0), Some(1), Some(2), Some(3)]);

    env.sessions.revoke(pairs[2].access_token()).await.unwrap();
    for pair in &pairs[..3] {
        assert_eq!(access_error(&env, pair), TokenError::Revoked);
    }
    assert!(valid(&env, &pairs[3]), "a later pair of the session");
    assert!(valid(&env, &other), "another session");
    // The current refresh token refreshes, and its pair is numbered past the watermark.
    let next = env
        .sessions
        .refresh(pairs[3].refresh_token())
        .await
        .unwrap();
    assert_eq!(seq(&next), Some(4));
    // An earlier token revoked later never lowers the watermark.
    env.sessions.revoke(pairs[0].access_token()).await.unwrap();
    assert_eq!(access_error(&env, &pairs[2]), TokenError::Revoked);
    assert_eq!(
        env.issuer
            .revocation()
            .access_watermark(pairs[0].session_id()),
        Some(2)
    );
}

#[tokio::test]
async fn revoking_access_tokens_costs_one_entry_per_session() {
    let env = env();
    let mut pair = env.login("alice").await;
    for _ in 0..1_000 {
        pair = env.sessions.refresh(pair.refresh_token()).await.unwrap();
        env.sessions.revoke(pair.access_token()).await.unwrap();
        assert_eq!(access_error(&env, &pair), TokenError::Revoked);
    }
    let store = env.issuer.revocation();
    assert_eq!(store.len(), 1);
    assert_eq!(store.access_watermark(pair.session_id()), Some(1_000));
}

#[tokio::test]
async fn a_watermark_outlives_the_retries_that_mint_its_number_again() {
    let (env, sessions) = grace_env(10);
    let first = env.login("alice").await;
    let pair = sessions.refresh(first.refresh_token()).await.unwrap();
    // The client lost the answer and retries 9 s later: the same number again, a later `exp`.
    env.advance(9);
    let retry = sessions.refresh(first.refresh_token()).await.unwrap();
    sessions.revoke(pair.access_token()).await.unwrap();
    assert_eq!(access_error(&env, &retry), TokenError::Revoked);
    // Up to the retry's last second, after a purge, it stays refused.
    env.advance(900 - 1);
    assert_eq!(sessions.purge_expired(), 0);
    assert_eq!(access_error(&env, &retry), TokenError::Revoked);
    env.advance(1);
    assert_eq!(access_error(&env, &retry), TokenError::Expired);
}

#[tokio::test]
async fn an_access_token_without_a_number_is_refused() {
    let backend = Arc::new(MemoryBackend::new());
    let env = env_with(|b| b.with_revocation_backend(backend.clone()));
    env.issuer.revocation().load().await.unwrap();
    let mut claims = env.claims();
    claims.as_object_mut().unwrap().remove("seq");
    let token = env.forge("at+jwt", &claims);
    assert_eq!(
        env.issuer
            .verifier()
            .verify_access::<Profile>(&token)
            .unwrap_err(),
        TokenError::MissingClaim("seq")
    );
    // Revoking it records nothing: it is refused anyway.
    assert_eq!(
        env.sessions.revoke(&token).await.unwrap(),
        Some(TokenKind::Access)
    );
    assert!(env.issuer.revocation().is_empty());

    // A refresh token without one still refreshes, and the next pair is numbered 1.
    let now = env.clock_secs();
    let mut refresh = claims.clone();
    refresh["sexp"] = (now + 3600).into();
    let session = NewSession::new("sid-1", "alice", now * 1000, "jti-1", now + 3600);
    backend.create_session(&session).await.unwrap();
    let next = env
        .sessions
        .refresh(&env.forge("refresh+jwt", &refresh))
        .await
        .unwrap();
    let claims: Claims<Profile> = env
        .issuer
        .verifier()
        .verify_access(next.access_token())
        .unwrap();
    assert_eq!(claims.sequence(), Some(1));
}

#[tokio::test]
async fn revoked_entries_are_purged_once_they_cannot_matter() {
    let env = env_with(|b| {
        b.with_access_ttl(Duration::from_secs(600))
            .with_refresh_ttl(Duration::from_secs(1800))
            .with_session_ttl(Duration::from_secs(3600))
    });
    let store = env.issuer.revocation().clone();
    let a = env.login("alice").await;
    let b = env.login("bob").await;
    let claims: Claims<Profile> = env
        .issuer
        .verifier()
        .verify_access(a.access_token())
        .unwrap();
    env.sessions.revoke_token(&claims).await.unwrap();
    env.sessions.refresh(a.refresh_token()).await.unwrap();
    env.sessions.logout(b.session_id()).await.unwrap();
    env.sessions.logout_all("carol").await.unwrap();
    assert_eq!(store.len(), 3);

    // Nothing is dropped while what it covers could still be presented.
    env.advance(600);
    assert_eq!(env.sessions.purge_expired(), 0);
    assert_eq!(store.access_watermark(&claims.sid), Some(0));
    env.advance(1);
    assert_eq!(env.sessions.purge_expired(), 1, "the access watermark");
    env.advance(3600 - 601);
    assert_eq!(env.sessions.purge_expired(), 0);
    env.advance(1);
    assert_eq!(
        env.sessions.purge_expired(),
        2,
        "the session and the subject"
    );
    assert!(store.is_empty());
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_have_exactly_one_winner() {
    let env = env();
    let pair = env.login("alice").await;
    let token = pair.refresh_token().to_owned();
    let barrier = Barrier::new(64);
    let winners = AtomicUsize::new(0);
    let reused = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..64 {
            s.spawn(|| {
                barrier.wait();
                match block_on(env.sessions.refresh(&token)) {
                    Ok(_) => winners.fetch_add(1, Ordering::SeqCst),
                    Err(RefreshError::Reused | RefreshError::InvalidToken(TokenError::Revoked)) => {
                        reused.fetch_add(1, Ordering::SeqCst)
                    }
                    Err(other) => panic!("unexpected error {other:?}"),
                };
            });
        }
    });
    assert_eq!(winners.load(Ordering::SeqCst), 1);
    assert_eq!(reused.load(Ordering::SeqCst), 63);
    // Concurrent use of one refresh token is reuse: the session is revoked.
    assert!(
        env.issuer
            .revocation()
            .is_session_revoked(pair.session_id())
    );
}

#[tokio::test]
async fn the_refresh_hook_reloads_or_refuses_the_subject() {
    let env = env();
    let disabled = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = disabled.clone();
    let sessions = Sessions::builder(env.issuer.clone())
        .with_refresh_hook(move |claims: &Claims<Profile>| {
            let refuse = seen.lock().unwrap().contains(&claims.sub);
            let promote = claims.sub == "bob";
            async move {
                Ok(if refuse {
                    RefreshDecision::Refuse
                } else if promote {
                    RefreshDecision::Update {
                        scope: "read admin".into(),
                        custom: Profile {
                            name: "Bob (admin)".into(),
                        },
                    }
                } else {
                    RefreshDecision::Keep
                })
            }
        })
        .build()
        .unwrap();

    let bob = env
        .sessions
        .start_with_claims("bob", "read", &profile())
        .await
        .unwrap();
    let next = sessions.refresh(bob.refresh_token()).await.unwrap();
    let claims: Claims<Profile> = env
        .issuer
        .verifier()
        .verify_access(next.access_token())
        .unwrap();
    assert!(claims.has_scope("admin"));
    assert_eq!(claims.custom.name, "Bob (admin)");
    assert_eq!(next.scope(), "read admin");

    let alice = env.login("alice").await;
    disabled.lock().unwrap().push("alice".into());
    assert!(matches!(
        sessions.refresh(alice.refresh_token()).await,
        Err(RefreshError::Refused)
    ));
    assert_eq!(access_error(&env, &alice), TokenError::Revoked);
}

#[tokio::test]
async fn a_failing_hook_does_not_consume_the_refresh_token() {
    let env = env();
    let fail = Arc::new(Mutex::new(true));
    let flag = fail.clone();
    let sessions = Sessions::builder(env.issuer.clone())
        .with_refresh_hook(move |_: &Claims<Profile>| {
            let failing = *flag.lock().unwrap();
            async move {
                if failing {
                    Err(BoxError::from("user database unavailable"))
                } else {
                    Ok(RefreshDecision::Keep)
                }
            }
        })
        .build()
        .unwrap();
    let pair = env.login("alice").await;
    let err = sessions.refresh(pair.refresh_token()).await.unwrap_err();
    assert!(matches!(err, RefreshError::Hook(_)));
    assert!(!err.is_invalid_grant());
    *fail.lock().unwrap() = false;
    assert!(sessions.refresh(pair.refresh_token()).await.is_ok());
}

#[tokio::test]
async fn custom_claims_cannot_shadow_registered_claims() {
    #[derive(serde::Serialize)]
    struct Sneaky {
        exp: u64,
    }
    let env = env();
    assert!(
        env.sessions
            .start_with_claims("alice", "", &Sneaky { exp: u64::MAX })
            .await
            .is_err()
    );
    assert!(
        env.sessions
            .start_with_claims("", "", &profile())
            .await
            .is_err()
    );
    assert!(
        env.sessions
            .start_with_claims("alice", "bad\"scope", &profile())
            .await
            .is_err()
    );
}

/// A shared in-process state whose every call can be switched to fail.
#[derive(Debug, Default)]
struct FlakyBackend {
    inner: MemoryBackend,
    failing: Mutex<bool>,
}

impl FlakyBackend {
    fn set_failing(&self, failing: bool) {
        *self.failing.lock().unwrap() = failing;
    }

    /// Fails when switched to, before the call reaches the state.
    fn check<'a, T: Send + 'a>(
        &self,
        call: BoxFuture<'a, Result<T, BoxError>>,
    ) -> BoxFuture<'a, Result<T, BoxError>> {
        let failing = *self.failing.lock().unwrap();
        Box::pin(async move {
            if failing {
                return Err("connection refused".into());
            }
            call.await
        })
    }
}

impl RevocationBackend for FlakyBackend {
    fn create_session<'a>(&'a self, s: &'a NewSession<'a>) -> BoxFuture<'a, Result<(), BoxError>> {
        self.check(self.inner.create_session(s))
    }
    fn rotate<'a>(&'a self, r: &'a Rotation<'a>) -> BoxFuture<'a, Result<RotateOutcome, BoxError>> {
        self.check(self.inner.rotate(r))
    }
    fn revoke<'a>(&'a self, entry: &'a RevocationEntry) -> BoxFuture<'a, Result<(), BoxError>> {
        self.check(self.inner.revoke(entry))
    }
    fn load(&self, now: u64) -> BoxFuture<'_, Result<Vec<RevocationEntry>, BoxError>> {
        self.check(self.inner.load(now))
    }
    fn subscribe(&self) -> BoxFuture<'_, Result<ChangeStream, BoxError>> {
        self.check(self.inner.subscribe())
    }
    fn purge(&self, now: u64) -> BoxFuture<'_, Result<u64, BoxError>> {
        self.check(self.inner.purge(now))
    }
    fn heartbeat<'a>(&'a self, beat: &'a Heartbeat) -> BoxFuture<'a, Result<(), BoxError>> {
        self.check(self.inner.heartbeat(beat))
    }
}

#[tokio::test]
async fn writes_fail_closed_when_the_backend_fails() {
    let backend = Arc::new(FlakyBackend::default());
    let env = env_with(|b| b.with_revocation_backend(backend.clone()));
    env.issuer.revocation().load().await.unwrap();
    let pair = env.login("alice").await;

    backend.set_failing(true);
    assert!(matches!(
        env.sessions.logout(pair.session_id()).await,
        Err(RevocationError::Backend(_))
    ));
    // Nothing half-done: not recorded locally either, so no instance disagrees.
    assert!(valid(&env, &pair));
    // A refresh whose consumption cannot be recorded mints nothing.
    let err = env
        .sessions
        .refresh(pair.refresh_token())
        .await
        .unwrap_err();
    assert!(matches!(err, RefreshError::Revocation(_)));
    assert!(!err.is_invalid_grant());

    backend.set_failing(false);
    let next = env.sessions.refresh(pair.refresh_token()).await.unwrap();
    env.sessions.logout(next.session_id()).await.unwrap();
    assert_eq!(access_error(&env, &next), TokenError::Revoked);
    assert_eq!(backend.inner.load(0).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_new_instance_loads_the_shared_revocations() {
    let backend = Arc::new(FlakyBackend::default());
    let first = env_with(|b| b.with_revocation_backend(backend.clone()));
    first.issuer.revocation().load().await.unwrap();
    let pair = first.login("alice").await;
    first.sessions.logout(pair.session_id()).await.unwrap();

    // A second instance with the same key and backend.
    let second = env_with(|b| b.with_revocation_backend(backend.clone()));
    // Until it has loaded the shared state it trusts no token at all (fail closed).
    assert_eq!(
        access_error(&second, &pair),
        TokenError::RevocationUnavailable
    );
    assert!(matches!(
        second.sessions.refresh(pair.refresh_token()).await,
        Err(err @ RefreshError::InvalidToken(TokenError::RevocationUnavailable)) if !err.is_invalid_grant()
    ));
    assert_eq!(second.issuer.revocation().load().await.unwrap(), 1);
    assert_eq!(access_error(&second, &pair), TokenError::Revoked);
    // Consumption is decided by the shared backend, whichever instance is asked.
    let other = first.login("bob").await;
    first.sessions.refresh(other.refresh_token()).await.unwrap();
    assert!(matches!(
        second.sessions.refresh(other.refresh_token()).await,
        Err(RefreshError::Reused)
    ));
}

/// Issue 1 of the refresh-sessions review: a consumed refresh token was forgotten at its own
/// `exp` while the verifier still accepted it for `exp + leeway`, so replaying it after a
/// purge started a second chain.
#[tokio::test]
async fn a_superseded_refresh_token_is_reuse_for_as_long_as_it_verifies() {
    let backend = Arc::new(MemoryBackend::new());
    let env = env_with(|b| {
        b.with_leeway(Duration::from_secs(120))
            .with_access_ttl(Duration::from_secs(2))
            .with_refresh_ttl(Duration::from_secs(3))
            .with_revocation_backend(backend.clone())
    });
    env.issuer.revocation().load().await.unwrap();
    let first = env.login("alice").await;
    let mut latest = env.sessions.refresh(first.refresh_token()).await.unwrap();
    // The legitimate chain goes on past the first token's expiry and a purge.
    for _ in 0..5 {
        env.advance(2);
        latest = env.sessions.refresh(latest.refresh_token()).await.unwrap();
    }
    assert_eq!(env.sessions.purge_expired(), 0);
    backend.purge(T0 + 10).await.unwrap();
    // The first token still verifies (exp T0 + 3, leeway 120): replaying it is reuse.
    assert!(
        env.issuer
            .verifier()
            .verify_refresh::<Profile>(first.refresh_token())
            .is_ok()
    );
    assert!(matches!(
        env.sessions.refresh(first.refresh_token()).await,
        Err(RefreshError::Reused)
    ));
    assert_eq!(access_error(&env, &latest), TokenError::Revoked);
    assert!(matches!(
        env.sessions.refresh(latest.refresh_token()).await,
        Err(RefreshError::InvalidToken(TokenError::Revoked))
    ));
}

/// Issue 2: replaying the predecessor inside the grace window handed out a new successor
/// each time, and every one of them could refresh for ever.
#[tokio::test]
async fn grace_retries_never_fork_a_session() {
    let env = env();
    let sessions = Sessions::builder(env.issuer.clone())
        .with_reuse_grace(Duration::from_secs(10))
        .build()
        .unwrap();
    let first = env.login("alice").await;
    let mut successors = vec![sessions.refresh(first.refresh_token()).await.unwrap()];
    for _ in 0..5 {
        env.clock.advance(Duration::from_millis(1500));
        successors.push(sessions.refresh(first.refresh_token()).await.unwrap());
    }
    // Only the last successor can refresh; any other one is a lost branch, and using it
    // revokes the session.
    let (last, lost) = successors.split_last().unwrap();
    let next = sessions.refresh(last.refresh_token()).await.unwrap();
    assert!(matches!(
        sessions.refresh(lost[2].refresh_token()).await,
        Err(RefreshError::Reused)
    ));
    assert_eq!(access_error(&env, &next), TokenError::Revoked);
    for pair in lost {
        assert!(sessions.refresh(pair.refresh_token()).await.is_err());
    }

    // The same from the other side: the first branch used first is reuse too.
    let first = env.login("alice").await;
    let branch = sessions.refresh(first.refresh_token()).await.unwrap();
    let retry = sessions.refresh(first.refresh_token()).await.unwrap();
    assert!(matches!(
        sessions.refresh(branch.refresh_token()).await,
        Err(RefreshError::Reused)
    ));
    assert_eq!(access_error(&env, &retry), TokenError::Revoked);
}

/// Issue 4: a refresh that passed the revocation check just before a "log out everywhere"
/// minted a pair stamped after the cut-off, which survived it.
#[tokio::test]
async fn a_refresh_in_flight_cannot_outlive_log_out_everywhere() {
    let env = env();
    let logout = env.sessions.clone();
    // The hook runs after the refresh token has been verified and before the next pair is
    // minted: the cut-off lands in the middle of the exchange.
    let sessions = Sessions::builder(env.issuer.clone())
        .with_refresh_hook(move |claims: &Claims<Profile>| {
            let (logout, sub) = (logout.clone(), claims.sub.clone());
            async move {
                logout.logout_all(&sub).await?;
                Ok(RefreshDecision::Keep)
            }
        })
        .build()
        .unwrap();
    let pair = env.login("alice").await;
    env.clock.advance(Duration::from_millis(1));
    let raced = sessions.refresh(pair.refresh_token()).await.unwrap();
    assert_eq!(access_error(&env, &raced), TokenError::Revoked);
    assert!(matches!(
        env.sessions.refresh(raced.refresh_token()).await,
        Err(RefreshError::InvalidToken(TokenError::Revoked))
    ));
    // A login right after the cut-off, in the same millisecond, works.
    let after = env.login("alice").await;
    assert!(valid(&env, &after));
}

/// Every forget-after time includes the leeway: with a leeway longer than the purge
/// interval, a purge between `exp` and `exp + leeway` keeps each kind of entry while its
/// tokens still verify.
#[tokio::test]
async fn every_entry_outlives_its_tokens_by_the_leeway() {
    let backend = Arc::new(MemoryBackend::new());
    let env = env_with(|b| {
        b.with_leeway(Duration::from_secs(120))
            .with_access_ttl(Duration::from_secs(60))
            .with_refresh_ttl(Duration::from_secs(60))
            .with_session_ttl(Duration::from_secs(60))
            .with_revocation_backend(backend.clone())
    });
    env.issuer.revocation().load().await.unwrap();
    let token = env.login("alice").await;
    let session = env.login("bob").await;
    let subject = env.login("carol").await;
    let reused = env.login("dave").await;
    let claims: Claims<Profile> = env
        .issuer
        .verifier()
        .verify_access(token.access_token())
        .unwrap();
    env.sessions.revoke_token(&claims).await.unwrap();
    env.sessions.logout(session.session_id()).await.unwrap();
    env.sessions.logout_all("carol").await.unwrap();
    let next = env.sessions.refresh(reused.refresh_token()).await.unwrap();

    // The tokens expire at T0 + 60 and verify until exp + leeway = T0 + 180. Every 60 s
    // (the default purge interval) a purge runs, locally and in the backend.
    env.clock.set_secs(T0 + 60);
    env.sessions.purge_expired();
    backend.purge(T0 + 60).await.unwrap();
    assert!(valid(&env, &next));
    // The superseded refresh token of dave's session is still reuse.
    assert!(matches!(
        env.sessions.refresh(reused.refresh_token()).await,
        Err(RefreshError::Reused)
    ));
    for now in [T0 + 60, T0 + 120, T0 + 179] {
        env.clock.set_secs(now);
        env.sessions.purge_expired();
        backend.purge(now).await.unwrap();
        for pair in [&token, &session, &subject, &next] {
            assert_eq!(access_error(&env, pair), TokenError::Revoked, "at {now}");
        }
    }
    env.clock.set_secs(T0 + 181);
    assert!(env.sessions.purge_expired() > 0);
    assert!(backend.purge(T0 + 181).await.unwrap() > 0);
    // The cut-off lies the leeway ahead of the clock (a session started on an instance whose
    // clock is ahead), so it covers sessions that started until T0 + 120 and last until
    // T0 + 180, whose tokens verify until T0 + 300.
    assert_eq!(env.issuer.revocation().len(), 1);
    assert_eq!(
        env.issuer.revocation().subject_cutoff_ms("carol"),
        Some((T0 + 120) * 1000)
    );
    env.clock.set_secs(T0 + 301);
    assert_eq!(env.sessions.purge_expired(), 1);
    assert_eq!(backend.purge(T0 + 301).await.unwrap(), 1);
    assert!(env.issuer.revocation().is_empty());
    assert_eq!(backend.session_count(), 0);
    for pair in [&token, &session, &subject, &next] {
        assert_eq!(access_error(&env, pair), TokenError::Expired);
    }
}

/// Two instances over one backend whose clocks differ: `b`'s runs `skew` seconds behind
/// `a`'s; both with a 5 s leeway and their stores loaded.
async fn skewed_instances(skew: u64) -> (Env, Env) {
    let backend = Arc::new(MemoryBackend::new());
    let instance = || {
        env_with(|b| {
            b.with_leeway(Duration::from_secs(5))
                .with_revocation_backend(backend.clone())
        })
    };
    let (a, b) = (instance(), instance());
    a.advance(skew);
    a.issuer.revocation().load().await.unwrap();
    b.issuer.revocation().load().await.unwrap();
    (a, b)
}

#[tokio::test]
async fn log_out_everywhere_ends_a_session_started_on_an_instance_whose_clock_is_ahead() {
    let (fast, slow) = skewed_instances(3).await;
    // Started on the fast instance just before the subject logs out everywhere on the slow one.
    let before = fast.login("alice").await;
    slow.sessions.logout_all("alice").await.unwrap();
    // The fast instance learns of it (as from the change feed).
    fast.issuer.revocation().load().await.unwrap();
    for env in [&fast, &slow] {
        assert_eq!(access_error(env, &before), TokenError::Revoked);
        assert!(matches!(
            env.sessions.refresh(before.refresh_token()).await,
            Err(RefreshError::InvalidToken(TokenError::Revoked))
        ));
    }
    // A login right after it works on every instance, wherever it was made.
    for at in [&fast, &slow] {
        let after = at.login("alice").await;
        for env in [&fast, &slow] {
            assert!(valid(env, &after));
        }
        let next = at.sessions.refresh(after.refresh_token()).await.unwrap();
        assert!(valid(&fast, &next) && valid(&slow, &next));
    }
}

#[tokio::test]
async fn log_out_everywhere_on_the_fast_instance_admits_a_login_on_the_slow_one_after_it() {
    let (fast, slow) = skewed_instances(5).await;
    let before = slow.login("alice").await;
    fast.sessions.logout_all("alice").await.unwrap();
    slow.issuer.revocation().load().await.unwrap();
    assert_eq!(access_error(&slow, &before), TokenError::Revoked);
    // The slow instance starts the next session past a cut-off 10 s ahead of its own clock.
    let after = slow.login("alice").await;
    assert!(valid(&slow, &after) && valid(&fast, &after));
}

#[tokio::test]
async fn a_token_whose_session_starts_after_it_was_minted_is_malformed() {
    let env = env_with(|b| b.with_leeway(Duration::from_secs(5)));
    let now = env.clock_secs();
    let token_with_start = |auth_time: u64, auth_time_ms: u64| {
        let mut claims = env.claims();
        claims["auth_time"] = auth_time.into();
        claims["auth_time_ms"] = auth_time_ms.into();
        env.forge("at+jwt", &claims)
    };
    let verify = |token: &str| {
        env.issuer
            .verifier()
            .verify_access::<Profile>(token)
            .map(drop)
    };
    // A day ahead: it would outlive every "log out everywhere" until then.
    assert!(matches!(
        verify(&token_with_start(now + 86_400, (now + 86_400) * 1000)),
        Err(TokenError::Malformed(_))
    ));
    // Twice the leeway and the rounding of `iat`: the most a start past a cut-off can lead.
    verify(&token_with_start(now + 11, (now + 11) * 1000)).unwrap();
    assert!(matches!(
        verify(&token_with_start(now + 11, (now + 11) * 1000 + 1)),
        Err(TokenError::Malformed(_))
    ));
}
