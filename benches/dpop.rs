//! Cost of checking one DPoP proof (RFC 9449) per algorithm: every check but the replay
//! record, which is measured apart (the in-memory cache).

#![allow(missing_docs, clippy::unwrap_used, clippy::needless_pass_by_value)]

use std::{hint::black_box, time::Duration};

use aws_lc_rs::{
    rand::SystemRandom,
    signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, Method, Uri};
use serde_json::json;
use tower_jwt_auth::{
    clock::MockClock,
    dpop::{DpopRequest, MemoryReplayCache, ProofVerifier, ReplayCache, ReplayKey},
};

const NOW: u64 = 1_700_000_000;

fn b64(value: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// A proof for `GET https://api.example.com/items` with `ath`, signed by `sign`.
fn proof(alg: &str, jwk: serde_json::Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let header = json!({ "typ": "dpop+jwt", "alg": alg, "jwk": jwk });
    let claims = json!({
        "jti": "e1j3V_bKic8-LAEB", "htm": "GET", "htu": "https://api.example.com/items",
        "iat": NOW, "ath": "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo",
    });
    let input = format!("{}.{}", b64(&header), b64(&claims));
    let signature = sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn es256() -> String {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    let point = pair.public_key().as_ref();
    let jwk = json!({
        "kty": "EC", "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..]),
    });
    proof("ES256", jwk, |m| {
        pair.sign(&rng, m).unwrap().as_ref().to_vec()
    })
}

fn eddsa() -> String {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let jwk = json!({
        "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
    });
    proof("EdDSA", jwk, |m| pair.sign(m).as_ref().to_vec())
}

fn dpop(c: &mut Criterion) {
    let verifier = ProofVerifier::builder("https://api.example.com")
        .with_clock(MockClock::at_secs(NOW))
        .build()
        .unwrap();
    let uri = Uri::from_static("/items");
    let mut group = c.benchmark_group("dpop_check");
    for (name, proof) in [("ES256", es256()), ("EdDSA", eddsa())] {
        let mut headers = HeaderMap::new();
        headers.insert("dpop", HeaderValue::from_str(&proof).unwrap());
        let request = DpopRequest::new(&Method::GET, &uri, &headers)
            .with_access_token("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU");
        verifier.check(&request).unwrap();
        group.bench_function(name, |b| {
            b.iter(|| black_box(verifier.check(black_box(&request)).unwrap()))
        });
    }
    group.finish();

    let cache = MemoryReplayCache::new(10_000_000);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut n = 0u64;
    c.bench_function("dpop_replay_memory_first_use", |b| {
        b.iter(|| {
            n += 1;
            let key = ReplayKey::new("jkt", &n.to_string());
            runtime.block_on(cache.first_use(&key, 0, 60_000)).unwrap()
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    targets = dpop
}
criterion_main!(benches);
