//! Two instances of an application over two handles of one shared backend, for the tests of
//! the database backends (included with `#[path]` next to `mod common`).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::{sync::Arc, time::Duration};

use futures::future::join_all;
use tower_jwt_auth::{
    TokenPair,
    session::RefreshError,
    store::RevocationBackend,
    token::{NoCustomClaims, TokenError},
};

pub use crate::common::unique_name;
use crate::common::{Env, env_with};

/// Two instances (same keys, same clock) whose stores have loaded the shared state; their
/// `run` tasks are not started.
pub async fn two_instances(
    a: Arc<dyn RevocationBackend>,
    b: Arc<dyn RevocationBackend>,
) -> (Env, Env) {
    let first = env_with(|builder| builder.with_revocation_backend(a));
    let clock = first.clock.clone();
    let second = env_with(|builder| builder.with_clock(clock).with_revocation_backend(b));
    first.issuer.revocation().load().await.unwrap();
    second.issuer.revocation().load().await.unwrap();
    (first, second)
}

pub fn access(env: &Env, pair: &TokenPair) -> Result<(), TokenError> {
    env.issuer
        .verifier()
        .verify_access::<NoCustomClaims>(pair.access_token())
        .map(drop)
}

/// Waits, polling, until `check` holds; fails after `within`.
pub async fn eventually(what: &str, within: Duration, check: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// 64 concurrent refreshes of one refresh token, spread over the stores of two instances
/// on two handles of one backend: exactly one wins, and concurrent use is reuse.
pub async fn one_of_64_concurrent_refreshes_wins(
    a: Arc<dyn RevocationBackend>,
    b: Arc<dyn RevocationBackend>,
) {
    let (a, b) = two_instances(a, b).await;
    let pair = a.login("alice").await;
    let outcomes = join_all((0..64).map(|i| {
        let sessions = if i % 2 == 0 { &a.sessions } else { &b.sessions };
        sessions.refresh(pair.refresh_token())
    }))
    .await;
    let winners: Vec<&TokenPair> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "exactly one winner: {outcomes:?}");
    for outcome in &outcomes {
        assert!(
            matches!(
                outcome,
                Ok(_)
                    | Err(RefreshError::Reused)
                    | Err(RefreshError::InvalidToken(TokenError::Revoked))
            ),
            "{outcome:?}"
        );
    }
    assert!(
        outcomes
            .iter()
            .any(|o| matches!(o, Err(RefreshError::Reused))),
        "a loser detects the reuse: {outcomes:?}"
    );
    // The session is revoked, the winner's pair included.
    assert!(matches!(
        a.sessions.refresh(winners[0].refresh_token()).await,
        Err(RefreshError::InvalidToken(TokenError::Revoked))
    ));
}

/// "Log out everywhere" on one instance: once the cut-off reaches the other instance (its
/// store follows the backend's change feed), no refresh token of the subject's earlier
/// sessions refreshes there, while a session started after it does.
pub async fn log_out_everywhere_reaches_the_other_instance(
    a: Arc<dyn RevocationBackend>,
    b: Arc<dyn RevocationBackend>,
) {
    let (a, b) = two_instances(a, b).await;
    let tasks = [
        tokio::spawn(a.issuer.revocation().clone().run()),
        tokio::spawn(b.issuer.revocation().clone().run()),
    ];
    let (phone, laptop) = (a.login("alice").await, b.login("alice").await);
    let bob = b.login("bob").await;
    a.sessions.logout_all("alice").await.unwrap();
    let b_store = b.issuer.revocation();
    eventually("the cut-off reaches b", Duration::from_secs(20), || {
        b_store.subject_cutoff_ms("alice").is_some()
    })
    .await;
    for pair in [&phone, &laptop] {
        assert_eq!(access(&b, pair), Err(TokenError::Revoked));
        assert!(matches!(
            b.sessions.refresh(pair.refresh_token()).await,
            Err(RefreshError::InvalidToken(TokenError::Revoked))
        ));
    }
    // Another subject's session, and a login after the cut-off, refresh.
    assert!(b.sessions.refresh(bob.refresh_token()).await.is_ok());
    let again = a.login("alice").await;
    assert!(b.sessions.refresh(again.refresh_token()).await.is_ok());
    for task in tasks {
        task.abort();
    }
}

/// A sessions table made before the session listing existed (no `last_refreshed_ms`, no
/// `label`, no index by subject) is upgraded by the next backend built on it: a session
/// started before the upgrade keeps refreshing (and its reuse is still caught), the listing
/// shows it, and a new session carries its label. `downgrade` turns the tables of `old` into
/// the earlier schema; `reopen` builds a backend on them again (which migrates).
pub async fn an_old_sessions_table_is_upgraded<D, R>(
    old: Arc<dyn RevocationBackend>,
    downgrade: D,
    reopen: R,
) where
    D: Future<Output = ()>,
    R: Future<Output = Arc<dyn RevocationBackend>>,
{
    use tower_jwt_auth::session::Login;

    let before = env_with(|builder| builder.with_revocation_backend(old));
    before.issuer.revocation().load().await.unwrap();
    let pair = before.login("alice").await;
    downgrade.await;

    let upgraded = reopen.await;
    let clock = before.clock.clone();
    let after = env_with(|builder| builder.with_clock(clock).with_revocation_backend(upgraded));
    after.issuer.revocation().load().await.unwrap();
    after.advance(5);
    let next = after.sessions.refresh(pair.refresh_token()).await.unwrap();
    let phone = after
        .sessions
        .start_with(Login::new("alice").with_label("phone"))
        .await
        .unwrap();
    let listed = after
        .sessions
        .list_sessions("alice", Some(next.session_id()))
        .await
        .unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    let old_one = listed.iter().find(|s| s.id == pair.session_id()).unwrap();
    assert!(old_one.current);
    assert_eq!(old_one.label, None);
    assert!(old_one.last_refreshed_ms.is_some(), "{old_one:?}");
    let new_one = listed.iter().find(|s| s.id == phone.session_id()).unwrap();
    assert_eq!(new_one.label.as_deref(), Some("phone"));
    // The session from before the upgrade is still guarded: its spent token is reuse.
    assert!(matches!(
        after.sessions.refresh(pair.refresh_token()).await,
        Err(RefreshError::Reused)
    ));
    assert!(
        after
            .sessions
            .list_sessions("alice", None)
            .await
            .unwrap()
            .len()
            == 1
    );
}
