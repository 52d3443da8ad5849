//! Memory is O(live sessions): bytes per session record, and nothing retained per refresh.
//! Counted by a global allocator that tracks the bytes currently allocated.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{alloc::System, sync::Arc};

use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};
use tower_jwt_auth::{
    Issuer, KeySet, Sessions, SigningKey,
    keys::Algorithm,
    store::{MemoryBackend, NewSession, RevocationBackend},
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
}
