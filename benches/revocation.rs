//! The revocation state under load: lookups in deny-lists of 1M entries, with and without a
//! writer revoking at the same time, and refresh rotations per second from several threads.

#![allow(missing_docs, clippy::unwrap_used)]

use std::{
    hint::black_box,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use criterion::{Criterion, criterion_group, criterion_main};
use tower_jwt_auth::{
    Claims, Issuer, KeySet, Sessions, SigningKey,
    keys::Algorithm,
    store::{RevocationEntry, RevocationStore},
};

mod common;
use common::{LocalOnly, now};

/// Entries per map: 1M under `cargo bench`, a few in a test run (`cargo test --benches`).
fn entries() -> usize {
    if std::env::args().any(|a| a == "--bench") {
        1_000_000
    } else {
        1_000
    }
}
const FAR: u64 = 4_000_000_000;

fn id(kind: &str, i: usize) -> String {
    // The issuer's ids are 22 base64url characters.
    format!("{kind}{i:0>20}")
}

fn lookups(c: &mut Criterion) {
    let n = entries();
    let store = RevocationStore::builder()
        .with_backend(Arc::new(LocalOnly::default()))
        .build()
        .unwrap();
    now(store.load()).unwrap();
    for i in 0..n {
        now(store.revoke(RevocationEntry::Token {
            jti: id("j-", i),
            expires_at: FAR,
        }))
        .unwrap();
        now(store.revoke(RevocationEntry::Session {
            sid: id("s-", i),
            expires_at: FAR,
        }))
        .unwrap();
        now(store.revoke(RevocationEntry::Access {
            sid: id("a-", i),
            seq: 7,
            expires_at: FAR,
        }))
        .unwrap();
        now(store.revoke(RevocationEntry::Subject {
            sub: id("u-", i),
            cutoff_ms: 1_000,
            expires_at: FAR,
        }))
        .unwrap();
    }
    assert_eq!(store.len(), 4 * n);

    // Claims of an access token that is not revoked: all three maps are looked up (the
    // session map holds revoked sessions and access watermarks, 2n slots).
    let issuer = Issuer::builder(KeySet::new(
        SigningKey::from_secret(Algorithm::HS256, &[7; 32]).unwrap(),
    ))
    .build()
    .unwrap();
    let pair = now(Sessions::new(issuer.clone()).start("alice")).unwrap();
    let live: Claims = issuer
        .verifier()
        .verify_access(pair.access_token())
        .unwrap();
    assert!(!store.is_revoked(
        &live.jti,
        &live.sid,
        &live.sub,
        live.session_started_millis(),
        live.sequence()
    ));

    let mut group = c.benchmark_group("revocation");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    group.bench_function(format!("is_revoked, 3 maps of {n}, not revoked"), |b| {
        b.iter(|| {
            black_box(store.is_revoked(
                black_box(&live.jti),
                &live.sid,
                &live.sub,
                live.session_started_millis(),
                live.sequence(),
            ))
        })
    });
    let jti = id("j-", n / 2);
    group.bench_function(format!("is_token_revoked, {n}, hit"), |b| {
        b.iter(|| black_box(store.is_token_revoked(black_box(&jti))))
    });

    // The same lookup while another thread revokes as fast as it can.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (store, stop) = (store.clone(), stop.clone());
        thread::spawn(move || {
            let mut i = n;
            while !stop.load(Ordering::Relaxed) {
                now(store.revoke(RevocationEntry::Token {
                    jti: id("w-", i),
                    expires_at: FAR,
                }))
                .unwrap();
                i += 1;
            }
            i - n
        })
    };
    group.bench_function(
        format!("is_revoked, 3 maps of {n}, not revoked, with a writer"),
        |b| {
            b.iter(|| {
                black_box(store.is_revoked(
                    black_box(&live.jti),
                    &live.sid,
                    &live.sub,
                    live.session_started_millis(),
                    live.sequence(),
                ))
            })
        },
    );
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().unwrap();
    eprintln!("the writer revoked {written} tokens during the measurement");
    group.finish();
}

/// Refresh rotations per second with `threads` threads, each on its own sessions of one
/// shared issuer and store (HS256, so that the state rather than signing is measured).
fn rotations(c: &mut Criterion) {
    let issuer = Issuer::builder(KeySet::new(
        SigningKey::from_secret(Algorithm::HS256, &[7; 32]).unwrap(),
    ))
    .build()
    .unwrap();
    let sessions: Sessions = Sessions::new(issuer.clone());
    let mut group = c.benchmark_group("rotation");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for threads in [1usize, 2, 4] {
        let pairs: Vec<_> = (0..threads)
            .map(|t| now(Sessions::new(issuer.clone()).start(&format!("user-{t}"))).unwrap())
            .collect();
        let pairs = std::sync::Mutex::new(pairs);
        group.bench_function(format!("refresh, {threads} threads"), |b| {
            b.iter_custom(|iters| {
                let per_thread = iters.div_ceil(threads as u64);
                let mut taken = std::mem::take(&mut *pairs.lock().unwrap());
                let start = Instant::now();
                thread::scope(|s| {
                    for pair in &mut taken {
                        let sessions = &sessions;
                        s.spawn(move || {
                            for _ in 0..per_thread {
                                *pair = now(sessions.refresh(pair.refresh_token())).unwrap();
                            }
                        });
                    }
                });
                let elapsed = start.elapsed();
                *pairs.lock().unwrap() = taken;
                // Time per rotation of the whole process: its inverse is rotations/s.
                elapsed.mul_f64(iters as f64 / (per_thread * threads as u64) as f64)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, lookups, rotations);
criterion_main!(benches);
