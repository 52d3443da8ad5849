//! The per-subject session cap of `Sessions`, over any backend that lists sessions.

use std::{sync::Arc, time::Duration};

use tower_jwt_auth::{
    Issuer, KeySet, Sessions, SigningKey, clock::MockClock, store::RevocationBackend,
    token::NoCustomClaims,
};

use super::unique_name as unique;

/// A time far from any other test's, in seconds.
const NOW: u64 = 4_100_000_000;

/// The sids `backend` lists for `sub` at `NOW`, oldest first.
async fn listed(backend: &dyn RevocationBackend, sub: &str) -> Vec<String> {
    backend
        .list_sessions(sub, NOW)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.sid)
        .collect()
}

/// Through `Sessions` over `a`: a start beyond the per-subject cap ends the oldest live
/// session first (its tokens refused), and `b`, another handle onto the same state, lists the
/// newest.
pub async fn the_session_cap_ends_the_oldest(
    a: Arc<dyn RevocationBackend>,
    b: Arc<dyn RevocationBackend>,
) {
    let clock = MockClock::at_secs(NOW);
    let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519().unwrap()))
        .with_clock(clock.clone())
        .with_revocation_backend(a)
        .build()
        .unwrap();
    issuer.revocation().load().await.unwrap();
    let sessions = Sessions::builder(issuer.clone())
        .with_max_sessions_per_subject(2)
        .build()
        .unwrap();
    let sub = unique("sub");
    let mut pairs = Vec::new();
    for _ in 0..3 {
        pairs.push(sessions.start(&sub).await.unwrap());
        clock.advance(Duration::from_secs(1));
    }
    let ids: Vec<&str> = pairs.iter().map(|p| p.session_id()).collect();
    assert_eq!(
        listed(&*b, &sub).await,
        ids[1..],
        "the cap ends the oldest, not the newest"
    );
    let verifier = issuer.verifier();
    assert!(
        verifier
            .verify_access::<NoCustomClaims>(pairs[0].access_token())
            .is_err(),
        "the oldest session's tokens are refused"
    );
    assert!(sessions.refresh(pairs[0].refresh_token()).await.is_err());
    for pair in &pairs[1..] {
        assert!(
            verifier
                .verify_access::<NoCustomClaims>(pair.access_token())
                .is_ok()
        );
    }
    let next = sessions.refresh(pairs[1].refresh_token()).await.unwrap();
    assert_eq!(next.session_id(), ids[1], "a refresh is not a new session");
    assert_eq!(listed(&*b, &sub).await.len(), 2);
}
