//! Revoke, refresh, log out, log out everywhere and purge, all at once from many threads:
//! afterwards no revoked token or session is ever accepted, and every untouched session
//! still refreshes from exactly its newest token.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use tower_jwt_auth::{
    Claims, Issuer, KeySet, Sessions, SigningKey, TokenPair, clock::MockClock,
    session::RefreshError, token::NoCustomClaims,
};

const SESSIONS: usize = 64;
const REFRESHES: usize = 20;

/// What happens to session `i`.
fn logged_out(i: usize) -> bool {
    i % 4 == 1
}
fn token_revoked(i: usize) -> bool {
    i % 4 == 2
}
fn subject(i: usize) -> String {
    format!("user-{}", i / 2)
}
fn everywhere(i: usize) -> bool {
    (i / 2) % 8 == 3
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_revocations_rotations_and_purges_never_readmit_a_revoked_token() {
    let clock = MockClock::at_secs(1_800_000_000);
    let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519().unwrap()))
        .with_clock(clock)
        .build()
        .unwrap();
    let sessions = Arc::new(Sessions::new(issuer.clone()));
    let mut firsts = Vec::new();
    for i in 0..SESSIONS {
        firsts.push(
            Sessions::new(issuer.clone())
                .start(&subject(i))
                .await
                .unwrap(),
        );
    }

    // Every session refreshes as fast as it can; its tokens are kept.
    let mut chains = Vec::new();
    for first in firsts.iter().cloned() {
        let sessions = sessions.clone();
        chains.push(tokio::spawn(async move {
            let mut pairs = vec![first];
            for _ in 0..REFRESHES {
                match sessions
                    .refresh(pairs.last().unwrap().refresh_token())
                    .await
                {
                    Ok(next) => pairs.push(next),
                    Err(RefreshError::InvalidToken(_)) => break,
                    Err(other) => panic!("unexpected refresh failure: {other}"),
                }
                tokio::task::yield_now().await;
            }
            pairs
        }));
    }
    // Meanwhile: logouts, single-token revocations, log out everywhere, purges.
    let mut writers = Vec::new();
    for (i, first) in firsts.iter().enumerate() {
        let sessions = sessions.clone();
        let (sid, access) = (
            first.session_id().to_owned(),
            first.access_token().to_owned(),
        );
        writers.push(tokio::spawn(async move {
            tokio::task::yield_now().await;
            if logged_out(i) {
                sessions.logout(&sid).await.unwrap();
            }
            if token_revoked(i) {
                assert!(sessions.revoke(&access).await.unwrap().is_some());
            }
            if everywhere(i) && i % 2 == 0 {
                sessions.logout_all(&subject(i)).await.unwrap();
            }
            sessions.purge_expired();
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let mut all: Vec<Vec<TokenPair>> = Vec::new();
    for chain in chains {
        all.push(chain.await.unwrap());
    }
    sessions.purge_expired();

    let verifier = issuer.verifier();
    let accepted = |token: &str| verifier.verify_access::<NoCustomClaims>(token).is_ok();
    for (i, pairs) in all.iter().enumerate() {
        if logged_out(i) || everywhere(i) {
            for pair in pairs {
                assert!(
                    !accepted(pair.access_token()),
                    "session {i}: a token survived"
                );
            }
            let last = pairs.last().unwrap();
            assert!(
                sessions.refresh(last.refresh_token()).await.is_err(),
                "session {i}"
            );
            continue;
        }
        if token_revoked(i) {
            assert!(
                !accepted(firsts[i].access_token()),
                "session {i}: revoked token accepted"
            );
        }
        // Untouched (or only one token revoked): the newest pair works, and only it refreshes.
        let last = pairs.last().unwrap();
        let claims: Claims = verifier.verify_access(last.access_token()).unwrap();
        assert_eq!(claims.sub, subject(i));
        assert_eq!(pairs.len(), REFRESHES + 1, "session {i} stopped refreshing");
        sessions.refresh(last.refresh_token()).await.unwrap();
    }
}
