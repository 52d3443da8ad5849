//! The backend contract: the conformance suite against `MemoryBackend`, and two instances
//! of an application over one shared state.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::{sync::Arc, time::Duration};

use common::*;
use tower_jwt_auth::{
    TokenPair,
    session::RefreshError,
    store::{MemoryBackend, RevocationBackend, conformance},
    token::{NoCustomClaims, TokenError},
};

#[tokio::test]
async fn the_session_cap_ends_the_oldest_on_memory() {
    let shared = MemoryBackend::new();
    the_session_cap_ends_the_oldest(Arc::new(shared.clone()), Arc::new(shared)).await;
}

#[tokio::test]
async fn memory_backend_passes_the_conformance_suite() {
    conformance::run(|| async {
        let shared = MemoryBackend::new();
        let a: Arc<dyn RevocationBackend> = Arc::new(shared.clone());
        let b: Arc<dyn RevocationBackend> = Arc::new(shared);
        (a, b)
    })
    .await;
}

/// Two instances of one application (same keys, same clock) over one shared backend, each
/// running its store's task.
struct Instances {
    a: Env,
    b: Env,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Instances {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn two_instances() -> Instances {
    let shared = Arc::new(MemoryBackend::new());
    let a = env_with(|b| b.with_revocation_backend(shared.clone()));
    let clock = a.clock.clone();
    let b = env_with(|b| b.with_clock(clock).with_revocation_backend(shared));
    let tasks = vec![
        tokio::spawn(a.issuer.revocation().clone().run()),
        tokio::spawn(b.issuer.revocation().clone().run()),
    ];
    let instances = Instances { a, b, tasks };
    settle().await;
    assert!(instances.a.issuer.revocation().is_ready());
    assert!(instances.b.issuer.revocation().is_ready());
    instances
}

/// Lets the spawned store tasks run until they wait again (tokio time is paused).
async fn settle() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

fn access(env: &Env, pair: &TokenPair) -> Result<(), TokenError> {
    env.issuer
        .verifier()
        .verify_access::<NoCustomClaims>(pair.access_token())
        .map(drop)
}

#[tokio::test(start_paused = true)]
async fn a_logout_on_one_instance_is_refused_on_the_other() {
    let i = two_instances().await;
    let pair =
        i.a.sessions
            .start_with_claims("alice", "", &profile())
            .await
            .unwrap();
    assert_eq!(access(&i.b, &pair), Ok(()));

    i.a.sessions.logout(pair.session_id()).await.unwrap();
    // The refresh is decided by the shared record at once, whichever instance is asked.
    assert!(matches!(
        i.b.sessions.refresh(pair.refresh_token()).await,
        Err(RefreshError::InvalidToken(TokenError::Revoked))
    ));
    settle().await;
    assert_eq!(access(&i.b, &pair), Err(TokenError::Revoked));
}

#[tokio::test(start_paused = true)]
async fn log_out_everywhere_reaches_the_other_instance() {
    let i = two_instances().await;
    let phone =
        i.a.sessions
            .start_with_claims("alice", "", &profile())
            .await
            .unwrap();
    let laptop =
        i.b.sessions
            .start_with_claims("alice", "", &profile())
            .await
            .unwrap();
    i.b.sessions.logout_all("alice").await.unwrap();
    // A refresh on the other instance before the cut-off reaches it may still rotate (the
    // backend's rotation does not consult cut-offs), but the pair it hands out keeps the
    // session's start, and is refused once the cut-off arrives.
    let early = i.a.sessions.refresh(phone.refresh_token()).await;
    settle().await;
    for env in [&i.a, &i.b] {
        assert_eq!(access(env, &phone), Err(TokenError::Revoked));
        assert_eq!(access(env, &laptop), Err(TokenError::Revoked));
    }
    // Once it has arrived, no refresh token of the old sessions refreshes, on either.
    let mut refresh_tokens = vec![phone.refresh_token(), laptop.refresh_token()];
    match &early {
        Ok(pair) => {
            assert_eq!(access(&i.b, pair), Err(TokenError::Revoked));
            refresh_tokens.push(pair.refresh_token());
        }
        Err(err) => assert!(
            matches!(err, RefreshError::InvalidToken(TokenError::Revoked)),
            "{err:?}"
        ),
    }
    for env in [&i.a, &i.b] {
        for token in &refresh_tokens {
            assert!(matches!(
                env.sessions.refresh(token).await,
                Err(RefreshError::InvalidToken(TokenError::Revoked))
            ));
        }
    }
    // A new login on the other instance right after it works.
    let again =
        i.a.sessions
            .start_with_claims("alice", "", &profile())
            .await
            .unwrap();
    assert_eq!(access(&i.b, &again), Ok(()));
}

#[tokio::test(start_paused = true)]
async fn a_token_rotated_on_one_instance_and_replayed_on_the_other_revokes_the_session() {
    let i = two_instances().await;
    let first =
        i.a.sessions
            .start_with_claims("alice", "", &profile())
            .await
            .unwrap();
    let second = i.a.sessions.refresh(first.refresh_token()).await.unwrap();
    assert!(matches!(
        i.b.sessions.refresh(first.refresh_token()).await,
        Err(RefreshError::Reused)
    ));
    // B knows at once; A once the feed delivers.
    assert_eq!(access(&i.b, &second), Err(TokenError::Revoked));
    settle().await;
    assert_eq!(access(&i.a, &second), Err(TokenError::Revoked));
    assert!(matches!(
        i.a.sessions.refresh(second.refresh_token()).await,
        Err(RefreshError::InvalidToken(TokenError::Revoked))
    ));
}

#[tokio::test(start_paused = true)]
async fn a_restarted_instance_loads_every_earlier_revocation() {
    let shared = Arc::new(MemoryBackend::new());
    let a = env_with(|b| b.with_revocation_backend(shared.clone()));
    a.issuer.revocation().load().await.unwrap();
    let (one, two, three) = (
        a.sessions
            .start_with_claims("alice", "", &profile())
            .await
            .unwrap(),
        a.sessions
            .start_with_claims("bob", "", &profile())
            .await
            .unwrap(),
        a.sessions
            .start_with_claims("carol", "", &profile())
            .await
            .unwrap(),
    );
    a.sessions.logout(one.session_id()).await.unwrap();
    a.sessions.logout_all("bob").await.unwrap();
    a.sessions.revoke(three.access_token()).await.unwrap();

    let clock = a.clock.clone();
    let restarted = env_with(|b| b.with_clock(clock).with_revocation_backend(shared));
    assert_eq!(
        access(&restarted, &one),
        Err(TokenError::RevocationUnavailable),
        "nothing is trusted before the load"
    );
    let task = tokio::spawn(restarted.issuer.revocation().clone().run());
    settle().await;
    for pair in [&one, &two, &three] {
        assert_eq!(access(&restarted, pair), Err(TokenError::Revoked));
    }
    // The session of the revoked access token lives on: its refresh token works.
    assert!(
        restarted
            .sessions
            .refresh(three.refresh_token())
            .await
            .is_ok()
    );
    task.abort();
}
