//! Per-request cost of the bearer layer for HS256, ES256, EdDSA and RS256, against a plain
//! `jsonwebtoken::decode` of the same token in the same run, and with an axum `Router` as the
//! inner service against the same router unprotected.

#![allow(missing_docs, clippy::unwrap_used, clippy::needless_pass_by_value)]

use std::{convert::Infallible, hint::black_box, sync::Arc, time::Duration};

use aws_lc_rs::{
    encoding::{AsDer, Pkcs8V1Der},
    rand::SystemRandom,
    rsa::KeySize,
    signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, RsaKeyPair},
};
use axum::{Router, body::Body, routing::get};
use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderValue, Request, Response, header};
use jsonwebtoken::{DecodingKey, Validation};
use serde::Deserialize;
use tower::{Layer, Service, service_fn};
use tower_jwt_auth::{
    BearerAuthLayer, Claims, Issuer, KeySet, Sessions, SigningKey, Verifier, axum::SharedClaims,
    keys::Algorithm, token::NoCustomClaims,
};

mod common;
use common::now;

/// The handler behind both middlewares: reads the subject from the claims.
async fn handler<C: Send + Sync + 'static>(
    request: Request<()>,
    sub: fn(&C) -> &str,
) -> Result<Response<()>, Infallible> {
    let claims = request.extensions().get::<C>().unwrap();
    black_box(sub(claims));
    Ok(Response::new(()))
}

/// What `jsonwebtoken::decode` deserialises: the same registered claims.
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct JwtClaims {
    iss: String,
    sub: String,
    aud: String,
    exp: u64,
    iat: u64,
    jti: String,
    sid: String,
    scope: String,
}

/// A signing key of each benchmarked algorithm, with jsonwebtoken's key for its tokens.
fn keys(name: &str) -> (SigningKey, DecodingKey, jsonwebtoken::Algorithm) {
    let rng = SystemRandom::new();
    match name {
        "HS256" => {
            let secret = [0x5au8; 32];
            (
                SigningKey::from_secret(Algorithm::HS256, &secret).unwrap(),
                DecodingKey::from_secret(&secret),
                jsonwebtoken::Algorithm::HS256,
            )
        }
        "ES256" => {
            let pkcs8 =
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
            let key = SigningKey::from_der(Algorithm::ES256, pkcs8.as_ref()).unwrap();
            let jwk = key.verifying_key().to_jwk().unwrap();
            let decoding = DecodingKey::from_ec_components(
                jwk.x.as_deref().unwrap(),
                jwk.y.as_deref().unwrap(),
            )
            .unwrap();
            (key, decoding, jsonwebtoken::Algorithm::ES256)
        }
        "EdDSA" => {
            let key = SigningKey::generate_ed25519().unwrap();
            let jwk = key.verifying_key().to_jwk().unwrap();
            let decoding = DecodingKey::from_ed_components(jwk.x.as_deref().unwrap()).unwrap();
            (key, decoding, jsonwebtoken::Algorithm::EdDSA)
        }
        "RS256" => {
            let rsa = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
            let der = AsDer::<Pkcs8V1Der<'_>>::as_der(&rsa).unwrap();
            let key = SigningKey::from_der(Algorithm::RS256, der.as_ref()).unwrap();
            let jwk = key.verifying_key().to_jwk().unwrap();
            let decoding = DecodingKey::from_rsa_components(
                jwk.n.as_deref().unwrap(),
                jwk.e.as_deref().unwrap(),
            )
            .unwrap();
            (key, decoding, jsonwebtoken::Algorithm::RS256)
        }
        _ => unreachable!("no such algorithm in the benchmark"),
    }
}

/// An issuer of `name` tokens and one access token of it.
fn issue(key: SigningKey) -> (Verifier, String) {
    let issuer = Issuer::builder(KeySet::new(key))
        .with_issuer("https://auth.example")
        .with_audience("api")
        .build()
        .unwrap();
    let pair = now(Sessions::new(issuer.clone()).start_with_scope("alice", "read write")).unwrap();
    (issuer.verifier().clone(), pair.access_token().to_owned())
}

fn bench_alg(c: &mut Criterion, name: &str) {
    let (key, decoding, alg) = keys(name);
    let (verifier, token) = issue(key);

    let mut validation = Validation::new(alg);
    validation.set_issuer(&["https://auth.example"]);
    validation.set_audience(&["api"]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = 0;
    jsonwebtoken::decode::<JwtClaims>(&token, &decoding, &validation).unwrap();

    let mut group = c.benchmark_group(name);
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    group.bench_function("verify/Verifier", |b| {
        b.iter(|| {
            let claims: Claims<NoCustomClaims> = verifier.verify_access(black_box(&token)).unwrap();
            black_box(claims)
        })
    });
    group.bench_function("verify/jsonwebtoken::decode", |b| {
        b.iter(|| {
            black_box(
                jsonwebtoken::decode::<JwtClaims>(black_box(&token), &decoding, &validation)
                    .unwrap(),
            )
        })
    });

    // A whole request: the middleware against a service that calls jsonwebtoken directly.
    let bearer = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
    let request = || {
        Request::get("/")
            .header(header::AUTHORIZATION, bearer.clone())
            .body(())
            .unwrap()
    };
    let claims_sub = |r| handler::<Arc<Claims<NoCustomClaims>>>(r, |c| &c.sub);
    let mut cold = BearerAuthLayer::new(verifier.clone())
        .without_cache()
        .layer(service_fn(claims_sub));
    let mut warm = BearerAuthLayer::new(verifier.clone()).layer(service_fn(claims_sub));
    let mut theirs = service_fn(|mut r: Request<()>| {
        let token = r.headers()[header::AUTHORIZATION]
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap();
        let claims = jsonwebtoken::decode::<JwtClaims>(token, &decoding, &validation)
            .unwrap()
            .claims;
        r.extensions_mut().insert(Arc::new(claims));
        handler::<Arc<JwtClaims>>(r, |c| &c.sub)
    });
    assert_eq!(now(cold.call(request())).unwrap().status(), 200);
    assert_eq!(now(warm.call(request())).unwrap().status(), 200);
    assert_eq!(now(theirs.call(request())).unwrap().status(), 200);
    group.bench_function("request/BearerAuth cold", |b| {
        b.iter(|| black_box(now(cold.call(request())).unwrap()))
    });
    group.bench_function("request/BearerAuth warm", |b| {
        b.iter(|| black_box(now(warm.call(request())).unwrap()))
    });
    group.bench_function("request/jsonwebtoken::decode service", |b| {
        b.iter(|| black_box(now(theirs.call(request())).unwrap()))
    });

    // An axum router: the same handler unprotected and behind the layer.
    let router_request = || {
        Request::get("/")
            .header(header::AUTHORIZATION, bearer.clone())
            .body(Body::empty())
            .unwrap()
    };
    let hello = || get(|| async { "hello" });
    let mut unprotected: Router = Router::new().route("/", hello());
    let protected =
        |layer: BearerAuthLayer| -> Router { Router::new().route("/", hello()).route_layer(layer) };
    let mut router_cold = protected(BearerAuthLayer::new(verifier.clone()).without_cache());
    let mut router_warm = protected(BearerAuthLayer::new(verifier.clone()));
    let with_extractor = |layer: BearerAuthLayer, shared: bool| -> Router {
        let route = if shared {
            get(|claims: SharedClaims| async move {
                black_box(claims.sub.len());
                "hello"
            })
        } else {
            get(|claims: Claims| async move {
                black_box(claims.sub.len());
                "hello"
            })
        };
        Router::new().route("/", route).route_layer(layer)
    };
    let mut extractor_cold = with_extractor(
        BearerAuthLayer::new(verifier.clone()).without_cache(),
        false,
    );
    let mut extractor_warm = with_extractor(BearerAuthLayer::new(verifier.clone()), true);
    for router in [
        &mut unprotected,
        &mut router_cold,
        &mut router_warm,
        &mut extractor_cold,
        &mut extractor_warm,
    ] {
        assert_eq!(now(router.call(router_request())).unwrap().status(), 200);
    }
    group.bench_function("router/unprotected", |b| {
        b.iter(|| black_box(now(unprotected.call(router_request())).unwrap()))
    });
    group.bench_function("router/BearerAuth cold", |b| {
        b.iter(|| black_box(now(router_cold.call(router_request())).unwrap()))
    });
    group.bench_function("router/BearerAuth cold + Claims extractor", |b| {
        b.iter(|| black_box(now(extractor_cold.call(router_request())).unwrap()))
    });
    group.bench_function("router/BearerAuth warm", |b| {
        b.iter(|| black_box(now(router_warm.call(router_request())).unwrap()))
    });
    group.bench_function("router/BearerAuth warm + SharedClaims extractor", |b| {
        b.iter(|| black_box(now(extractor_warm.call(router_request())).unwrap()))
    });
    group.finish();
}

fn verify(c: &mut Criterion) {
    // The tests and benches build jsonwebtoken with both crypto backends; its own `decode`
    // needs the process default chosen. The crate under test never relies on it.
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    for name in ["HS256", "ES256", "EdDSA", "RS256"] {
        bench_alg(c, name);
    }
}

/// Refresh exchanges per second in process: verify, mint and rotate, on the in-memory
/// backend, one long-lived session.
fn refresh(c: &mut Criterion) {
    let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519().unwrap()))
        .with_issuer("https://auth.example")
        .with_audience("api")
        .build()
        .unwrap();
    let sessions: Sessions = Sessions::new(issuer.clone());
    let mut pair = now(Sessions::new(issuer).start("alice")).unwrap();
    c.bench_function("refresh/EdDSA", |b| {
        b.iter(|| {
            pair = now(sessions.refresh(black_box(pair.refresh_token()))).unwrap();
        });
    });
}

/// The cache crates considered for the layer's cache, on what the layer does on a hit: look
/// a 500-byte token up by `&str` among 4096 and clone an `Arc` out, from one thread and from
/// two at once (the machine's cores).
fn cache(c: &mut Criterion) {
    const N: usize = 4096;
    let tokens: Vec<String> = (0..N).map(|i| format!("{i:0>500}")).collect();
    let quick: quick_cache::sync::Cache<Box<str>, Arc<u64>> = quick_cache::sync::Cache::new(N);
    let moka: moka::sync::Cache<Box<str>, Arc<u64>> = moka::sync::Cache::new(N as u64);
    for (i, token) in tokens.iter().enumerate() {
        quick.insert(token.as_str().into(), Arc::new(i as u64));
        moka.insert(token.as_str().into(), Arc::new(i as u64));
    }
    moka.run_pending_tasks();
    // Lookups spread over the kept tokens, as requests of many users are.
    fn lookups(iters: u64, threads: u64, get: impl Fn(usize) + Sync) -> Duration {
        let per_thread = iters.div_ceil(threads);
        let start = std::time::Instant::now();
        std::thread::scope(|s| {
            for t in 0..threads {
                let get = &get;
                s.spawn(move || {
                    for i in 0..per_thread {
                        get(((i * 7 + t) % N as u64) as usize);
                    }
                });
            }
        });
        // Time per lookup of the whole process.
        start
            .elapsed()
            .mul_f64(iters as f64 / (threads * per_thread) as f64)
    }
    let mut group = c.benchmark_group("cache");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for threads in [1, 2] {
        group.bench_function(format!("get, {threads} thread(s)/quick_cache"), |b| {
            b.iter_custom(|iters| {
                lookups(iters, threads, |i| {
                    black_box(quick.get(tokens[i].as_str()));
                })
            })
        });
        group.bench_function(format!("get, {threads} thread(s)/moka"), |b| {
            b.iter_custom(|iters| {
                lookups(iters, threads, |i| {
                    black_box(moka.get(tokens[i].as_str()));
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, verify, refresh, cache);
criterion_main!(benches);
