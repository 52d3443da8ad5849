//! Memory is O(live sessions): bytes per session record, nothing retained per refresh, and
//! nothing per revoked access token beyond one watermark per session. Counted by a global
//! allocator that tracks the bytes currently allocated.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{alloc::System, sync::Arc};

use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};
use tower_jwt_auth::{
    Issuer, KeySet, Sessions, SigningKey,
    clock::MockClock,
    dpop::{MemoryReplayCache, ReplayCache, ReplayKey},
    keys::Algorithm,
    store::{MemoryBackend, NewSession, RevocationBackend, RevocationEntry, RevocationStore},
};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Bytes currently allocated by the whole process (a reallocation's growth or shrinkage is
/// counted in the allocated or deallocated bytes).
fn live() -> isize {
    let stats = GLOBAL.stats();
    stats.bytes_allocated as isize - stats.bytes_deallocated as isize
}

// One test only: the counter is process-wide, and tests of one binary run in parallel.
#[test]
fn sessions_cost_under_256_bytes_and_refreshes_cost_nothing() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();

    // Bytes per session record, with ids of the size the issuer writes (22 characters).
    let backend = MemoryBackend::new();
    let n = 100_000;
    let ids: Vec<(String, String, String)> = (0..n)
        .map(|i| {
            (
                format!("sid-{i:0>18}"),
                format!("user-{}", i % 1000),
                format!("jti-{i:0>18}"),
            )
        })
        .collect();
    let before = live();
    runtime.block_on(async {
        for (sid, sub, jti) in &ids {
            let session = NewSession::new(sid, sub, 1_000, jti, 2_000_000_000);
            backend.create_session(&session).await.unwrap();
        }
    });
    let per_session = (live() - before) as f64 / n as f64;
    eprintln!("bytes per session record: {per_session:.1}");
    assert_eq!(backend.session_count(), n);
    assert!(per_session < 256.0, "{per_session} bytes per session");

    // Bytes retained per refresh, on one long-lived session.
    let keys = KeySet::new(SigningKey::from_secret(Algorithm::HS256, &[7; 32]).unwrap());
    let shared = Arc::new(MemoryBackend::new());
    let issuer = Issuer::builder(keys)
        .with_revocation_backend(shared.clone())
        .build()
        .unwrap();
    let sessions: Sessions = Sessions::new(issuer.clone());
    let retained = runtime.block_on(async {
        issuer.revocation().load().await.unwrap();
        let mut pair = Sessions::new(issuer.clone()).start("alice").await.unwrap();
        for _ in 0..100 {
            pair = sessions.refresh(pair.refresh_token()).await.unwrap();
        }
        let before = live();
        for _ in 0..10_000 {
            pair = sessions.refresh(pair.refresh_token()).await.unwrap();
        }
        drop(pair);
        live() - before
    });
    eprintln!("bytes retained by 10,000 refreshes: {retained}");
    assert_eq!(shared.session_count(), 1);
    assert!(issuer.revocation().is_empty());
    // The pair held before the loop is dropped; nothing else may stay.
    assert!(
        retained <= 0,
        "{retained} bytes retained by 10,000 refreshes"
    );

    revocations(&runtime);
    replay_entries(&runtime);
}

/// Bytes per DPoP proof in the in-process replay cache: its documented bound (1,000,000
/// entries in under 100 MB) holds.
fn replay_entries(runtime: &tokio::runtime::Runtime) {
    let n = 100_000;
    let keys: Vec<ReplayKey> = (0..n)
        .map(|i| ReplayKey::new("jkt", &format!("jti-{i}")))
        .collect();
    let before = live();
    let cache = MemoryReplayCache::new(n);
    runtime.block_on(async {
        for key in &keys {
            assert!(cache.first_use(key, 1_000, 61_000).await.unwrap());
        }
    });
    let per_entry = (live() - before) as f64 / n as f64;
    eprintln!("bytes per DPoP replay-cache entry: {per_entry:.1}");
    assert_eq!(cache.len(), n);
    assert!(
        per_entry < 100.0,
        "{per_entry} bytes per replay-cache entry"
    );
}

/// Bytes per revoked access token: before, one entry per token (`jti`); now one watermark
/// per session, whatever the number of tokens revoked.
fn revocations(runtime: &tokio::runtime::Runtime) {
    const FAR: u64 = 4_000_000_000;
    // Both kinds of entry, each in a store over its own in-memory backend (the two copies a
    // single instance holds), with ids of the issuer's length.
    let n = 20_000;
    let per_entry = |make: fn(String) -> RevocationEntry| {
        let store = RevocationStore::builder()
            .with_backend(Arc::new(MemoryBackend::new()))
            .with_clock(MockClock::at_secs(1_000))
            .build()
            .unwrap();
        runtime.block_on(store.load()).unwrap();
        let ids: Vec<String> = (0..n).map(|i| format!("id-{i:0>19}")).collect();
        let before = live();
        runtime.block_on(async {
            for id in &ids {
                store.revoke(make(id.clone())).await.unwrap();
            }
        });
        assert_eq!(store.len(), n);
        (live() - before) as f64 / n as f64
    };
    let per_token = per_entry(|jti| RevocationEntry::Token {
        jti,
        expires_at: FAR,
    });
    let per_session = per_entry(|sid| RevocationEntry::Access {
        sid,
        seq: 7,
        expires_at: FAR,
    });
    eprintln!(
        "bytes per revoked token (`jti` entry, store and backend): {per_token:.1}; \
         per session watermark (store and backend): {per_session:.1}"
    );
    assert!(
        per_session < 192.0,
        "{per_session} bytes per session watermark"
    );

    // 20,000 refresh-and-revoke cycles (RFC 7009) of one session: one entry in the store
    // and in the backend, and no byte retained beyond the first.
    let keys = KeySet::new(SigningKey::from_secret(Algorithm::HS256, &[7; 32]).unwrap());
    let shared = Arc::new(MemoryBackend::new());
    let issuer = Issuer::builder(keys)
        .with_clock(MockClock::at_secs(1_800_000_000))
        .with_revocation_backend(shared.clone())
        .build()
        .unwrap();
    let sessions = Sessions::new(issuer.clone());
    let (retained, backend_entries) = runtime.block_on(async {
        issuer.revocation().load().await.unwrap();
        let mut pair = sessions.start("mallory").await.unwrap();
        for _ in 0..100 {
            pair = sessions.refresh(pair.refresh_token()).await.unwrap();
            sessions.revoke(pair.access_token()).await.unwrap();
        }
        let before = live();
        for _ in 0..20_000 {
            pair = sessions.refresh(pair.refresh_token()).await.unwrap();
            sessions.revoke(pair.access_token()).await.unwrap();
        }
        assert!(
            issuer
                .verifier()
                .verify_access::<tower_jwt_auth::token::NoCustomClaims>(pair.access_token())
                .is_err()
        );
        drop(pair);
        let retained = live() - before;
        (retained, shared.load(0).await.unwrap().len())
    });
    eprintln!("bytes retained by 20,000 refresh-and-revoke cycles: {retained}");
    assert_eq!(issuer.revocation().len(), 1, "one watermark in the store");
    assert_eq!(backend_entries, 1, "one watermark in the backend");
    assert_eq!(shared.session_count(), 1);
    assert!(
        retained <= 0,
        "{retained} bytes retained by 20,000 refresh-and-revoke cycles"
    );
}
