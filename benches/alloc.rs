//! Allocations per accepted request and bytes per stored item, counted by a global allocator
//! (`cargo bench --bench alloc`). Prints a table; no timing.

#![allow(missing_docs, clippy::unwrap_used)]

use std::{alloc::System, hint::black_box, sync::Arc};

use axum::{Router, body::Body, routing::get};
use http::{HeaderValue, Request, header};
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};
use tower::{Layer, Service, service_fn};
use tower_jwt_auth::{
    BearerAuthLayer, Claims, Issuer, KeySet, Sessions, SigningKey,
    axum::SharedClaims,
    keys::Algorithm,
    store::{MemoryBackend, NewSession, RevocationBackend, RevocationEntry, RevocationStore},
};

mod common;
use common::{LocalOnly, now};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Allocations (reallocations included) made by `f`, its result dropped outside the count.
fn allocations<R>(mut f: impl FnMut() -> R) -> usize {
    // Warm up: lazily initialised state is not a per-request cost.
    for _ in 0..3 {
        drop(f());
    }
    let before = GLOBAL.stats();
    let result = f();
    let after = GLOBAL.stats();
    drop(result);
    (after.allocations - before.allocations) + (after.reallocations - before.reallocations)
}

/// Bytes currently allocated by the process.
fn live() -> isize {
    let stats = GLOBAL.stats();
    stats.bytes_allocated as isize - stats.bytes_deallocated as isize
}

fn requests() {
    let issuer = Issuer::builder(KeySet::new(
        SigningKey::from_secret(Algorithm::HS256, &[7; 32]).unwrap(),
    ))
    .with_issuer("https://auth.example")
    .with_audience("api")
    .build()
    .unwrap();
    let pair = now(Sessions::new(issuer.clone()).start_with_scope("alice", "read write")).unwrap();
    let token = pair.access_token().to_owned();
    let verifier = issuer.verifier().clone();
    let bearer = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();

    println!("| allocations per accepted HS256 request | count |");
    println!("| --- | ---: |");
    let n = allocations(|| {
        black_box(
            verifier
                .verify_access::<tower_jwt_auth::token::NoCustomClaims>(&token)
                .unwrap(),
        )
    });
    println!("| `Verifier::verify_access` alone | {n} |");

    // The layer around a `service_fn` that only answers.
    for (name, layer) in [
        (
            "cold",
            BearerAuthLayer::new(verifier.clone()).without_cache(),
        ),
        ("warm", BearerAuthLayer::new(verifier.clone())),
    ] {
        let mut service = layer.layer(service_fn(|_: Request<()>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(()))
        }));
        let mut requests: Vec<_> = (0..4)
            .map(|_| {
                Request::get("/")
                    .header(header::AUTHORIZATION, bearer.clone())
                    .body(())
                    .unwrap()
            })
            .collect();
        let n = allocations(|| now(service.call(requests.pop().unwrap())).unwrap());
        println!(
            "| `BearerAuth` {name} around a `service_fn` (the request built beforehand) | {n} |"
        );
    }
    // The first request of a token: verification, then the cache insert.
    let mut service =
        BearerAuthLayer::new(verifier.clone()).layer(service_fn(|_: Request<()>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(()))
        }));
    let fresh: Vec<HeaderValue> = (0..4)
        .map(|i| {
            let pair =
                now(Sessions::new(issuer.clone()).start_with_scope(&format!("user-{i}"), "read"))
                    .unwrap();
            HeaderValue::from_str(&format!("Bearer {}", pair.access_token())).unwrap()
        })
        .collect();
    let mut requests: Vec<_> = fresh
        .iter()
        .map(|bearer| {
            Request::get("/")
                .header(header::AUTHORIZATION, bearer.clone())
                .body(())
                .unwrap()
        })
        .collect();
    let n = allocations(|| now(service.call(requests.pop().unwrap())).unwrap());
    println!("| `BearerAuth`, first request of a token (verified, then kept) | {n} |");

    // An axum router: the difference is the layer's (and the extractor's) share.
    let router_requests = |n: usize| -> Vec<Request<Body>> {
        (0..n)
            .map(|_| {
                Request::get("/")
                    .header(header::AUTHORIZATION, bearer.clone())
                    .body(Body::empty())
                    .unwrap()
            })
            .collect()
    };
    let mut unprotected: Router = Router::new().route("/", get(|| async { "hello" }));
    let count = |router: &mut Router| {
        let mut reqs = router_requests(4);
        allocations(|| now(router.call(reqs.pop().unwrap())).unwrap())
    };
    let base = count(&mut unprotected);
    println!("| axum `Router`, unprotected | {base} |");
    for (name, layer) in [
        (
            "cold",
            BearerAuthLayer::new(verifier.clone()).without_cache(),
        ),
        ("warm", BearerAuthLayer::new(verifier)),
    ] {
        let mut protected: Router = Router::new()
            .route("/", get(|| async { "hello" }))
            .route_layer(layer.clone());
        let mut extractor: Router = Router::new()
            .route(
                "/",
                get(|claims: Claims| async move {
                    black_box(claims.sub.len());
                    "hello"
                }),
            )
            .route_layer(layer.clone());
        let mut shared: Router = Router::new()
            .route(
                "/",
                get(|claims: SharedClaims| async move {
                    black_box(claims.sub.len());
                    "hello"
                }),
            )
            .route_layer(layer);
        for (what, router) in [
            ("", &mut protected),
            (", `Claims` extractor", &mut extractor),
            (", `SharedClaims` extractor", &mut shared),
        ] {
            let n = count(router);
            println!(
                "| axum `Router` behind `BearerAuthLayer` {name}{what} | {n} (+{}) |",
                n - base
            );
        }
    }
    println!();
}

fn memory() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    println!("| memory | bytes |");
    println!("| --- | ---: |");

    // Deny-list entries, ids of the issuer's length (22 characters).
    // 200k entries under `cargo bench`, fewer in a test run (`cargo test --benches`).
    let bench = std::env::args().any(|a| a == "--bench");
    let n = if bench { 200_000 } else { 2_000 };
    let ids: Vec<String> = (0..n).map(|i| format!("j-{i:0>20}")).collect();
    type Make = fn(String) -> RevocationEntry;
    let entries: [(&str, Make); 3] = [
        ("token (`jti`)", |id| RevocationEntry::Token {
            jti: id,
            expires_at: 4_000_000_000,
        }),
        ("session (`sid`)", |id| RevocationEntry::Session {
            sid: id,
            expires_at: 4_000_000_000,
        }),
        ("access watermark (`sid`)", |id| RevocationEntry::Access {
            sid: id,
            seq: 7,
            expires_at: 4_000_000_000,
        }),
    ];
    for (kind, make) in entries {
        let store = RevocationStore::builder()
            .with_backend(Arc::new(LocalOnly::default()))
            .build()
            .unwrap();
        runtime.block_on(store.load()).unwrap();
        let before = live();
        runtime.block_on(async {
            for id in &ids {
                // The entry is dropped after the call: what stays is the map's own copy.
                store.revoke(make(id.clone())).await.unwrap();
            }
        });
        let per = (live() - before) as f64 / n as f64;
        println!("| per deny-list entry, {kind}, {n} entries | {per:.0} |");
    }

    // Session records in the in-memory backend.
    let backend = MemoryBackend::new();
    let sessions: Vec<(String, String, String)> = (0..n)
        .map(|i| {
            (
                format!("s-{i:0>20}"),
                format!("user-{}", i % 1000),
                format!("r-{i:0>20}"),
            )
        })
        .collect();
    let before = live();
    runtime.block_on(async {
        for (sid, sub, jti) in &sessions {
            backend
                .create_session(&NewSession::new(sid, sub, 1_000, jti, 4_000_000_000))
                .await
                .unwrap();
        }
    });
    let per = (live() - before) as f64 / n as f64;
    println!("| per session record (`MemoryBackend`), {n} sessions | {per:.0} |");
    cache_memory(&runtime, n / 10);
    println!();
}

/// Bytes per kept token: `n` distinct tokens through one layer, the requests built and
/// dropped outside the count.
fn cache_memory(runtime: &tokio::runtime::Runtime, n: usize) {
    let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519().unwrap()))
        .with_issuer("https://auth.example")
        .with_audience("api")
        .build()
        .unwrap();
    let tokens: Vec<String> = runtime.block_on(async {
        let mut tokens = Vec::with_capacity(n);
        for i in 0..n {
            let pair = Sessions::new(issuer.clone())
                .start_with_scope(&format!("user-{i:0>8}"), "read write")
                .await
                .unwrap();
            tokens.push(pair.access_token().to_owned());
        }
        tokens
    });
    let length = tokens.iter().map(String::len).sum::<usize>() / n;
    let layer = BearerAuthLayer::new(issuer.verifier().clone()).with_cache_capacity(n);
    let mut service = layer.layer(service_fn(|_: Request<()>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(()))
    }));
    let before = live();
    for token in &tokens {
        // Built and dropped here (the claims' `Arc` with it): only the cache's share stays.
        let request = Request::get("/")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(())
            .unwrap();
        assert_eq!(now(service.call(request)).unwrap().status(), 200);
    }
    let per = (live() - before) as f64 / n as f64;
    println!(
        "| per kept token (cache entry), EdDSA access token of {length} bytes, {n} tokens | {per:.0} |"
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this once as well.
    requests();
    memory();
}
