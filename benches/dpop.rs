//! Cost of checking one DPoP proof (RFC 9449) per algorithm: every check but the replay
//! record, which is measured apart (the in-memory cache); and a whole request through the
//! bearer layer: a bearer token against DPoP-bound tokens with ES256 and EdDSA proofs,
//! without and with server nonces.

#![allow(missing_docs, clippy::unwrap_used, clippy::needless_pass_by_value)]

use std::{
    convert::Infallible,
    hint::black_box,
    pin::pin,
    sync::Arc,
    task::{Context, Poll, Waker},
    time::Duration,
};

use aws_lc_rs::{
    rand::SystemRandom,
    signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, Method, Request, Response, Uri, header};
use serde_json::json;
use tower::{Layer, Service, service_fn};
use tower_jwt_auth::{
    BearerAuthLayer, Claims, Issuer, KeySet, SigningKey,
    clock::MockClock,
    dpop::{
        DpopNonces, DpopPolicy, DpopRequest, MemoryReplayCache, ProofVerifier, ReplayCache,
        ReplayKey, jwk_thumbprint,
    },
    keys::{Algorithm, Jwk},
    token::NoCustomClaims,
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

/// Polls a future that completes without waiting (the in-memory replay cache never waits).
fn now<F: Future>(future: F) -> F::Output {
    match pin!(future)
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("the benchmarked layer never waits"),
    }
}

/// Signs a proof's signing input.
type Sign = Box<dyn Fn(&[u8]) -> Vec<u8>>;

/// A client's proof key: signs the claims of each request's proof.
struct Client {
    alg: &'static str,
    jwk: serde_json::Value,
    sign: Sign,
}

impl Client {
    fn es256() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let point = pair.public_key().as_ref();
        let jwk = json!({
            "kty": "EC", "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..]),
        });
        Self {
            alg: "ES256",
            jwk,
            sign: Box::new(move |m| pair.sign(&rng, m).unwrap().as_ref().to_vec()),
        }
    }

    fn eddsa() -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let jwk = json!({
            "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
        });
        Self {
            alg: "EdDSA",
            jwk,
            sign: Box::new(move |m| pair.sign(m).as_ref().to_vec()),
        }
    }

    fn jkt(&self) -> String {
        let jwk: Jwk = serde_json::from_value(self.jwk.clone()).unwrap();
        jwk_thumbprint(&jwk).unwrap()
    }

    fn proof(&self, jti: u64, token: &str, nonce: Option<&str>) -> String {
        let header = json!({ "typ": "dpop+jwt", "alg": self.alg, "jwk": self.jwk });
        let ath = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            token.as_bytes(),
        ));
        let mut claims = json!({
            "jti": jti.to_string(), "htm": "GET", "htu": "https://api.example.com/items",
            "iat": NOW, "ath": ath,
        });
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        let input = format!("{}.{}", b64(&header), b64(&claims));
        let signature = (self.sign)(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

/// An access token of `issuer` (Ed25519 key `pkcs8`), bound to `jkt` when given.
fn access_token(issuer: &Issuer, pkcs8: &[u8], jkt: Option<&str>) -> String {
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8).unwrap();
    let header =
        json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": issuer.keys().signing_kid().unwrap() });
    let mut claims = json!({
        "iss": "https://auth.example", "sub": "alice", "aud": "api", "exp": NOW + 900,
        "iat": NOW, "jti": "at-1", "sid": "sid-1", "seq": 0, "scope": "read",
    });
    if let Some(jkt) = jkt {
        claims["cnf"] = json!({ "jkt": jkt });
    }
    let input = format!("{}.{}", b64(&header), b64(&claims));
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(pair.sign(input.as_bytes()))
    )
}

/// A whole request through `BearerAuth` (verified-token cache on, as by default) to a
/// handler that reads the subject; each DPoP request has a fresh proof (made outside the
/// measured time) recorded in the in-memory replay cache.
fn layer(c: &mut Criterion) {
    let clock = MockClock::at_secs(NOW);
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    let issuer = Issuer::builder(KeySet::new(
        SigningKey::from_der(Algorithm::EdDSA, pkcs8.as_ref()).unwrap(),
    ))
    .with_issuer("https://auth.example")
    .with_audience("api")
    .with_clock(clock.clone())
    .build()
    .unwrap();
    let handler = service_fn(|request: Request<()>| async move {
        let claims = request
            .extensions()
            .get::<Arc<Claims<NoCustomClaims>>>()
            .unwrap();
        black_box(&claims.sub);
        Ok::<_, Infallible>(Response::new(()))
    });
    let proofs = |nonces: Option<DpopNonces>| {
        let builder = ProofVerifier::builder("https://api.example.com")
            .with_clock(clock.clone())
            .with_replay_cache(Arc::new(MemoryReplayCache::new(10_000_000)));
        match nonces {
            Some(nonces) => builder.with_nonces(nonces),
            None => builder,
        }
        .build()
        .unwrap()
    };
    let base = BearerAuthLayer::new(issuer.verifier().clone());
    let mut group = c.benchmark_group("dpop_layer");

    let token = access_token(&issuer, pkcs8.as_ref(), None);
    let mut bearer = base
        .clone()
        .with_dpop(proofs(None), DpopPolicy::Optional)
        .layer(handler);
    let authorization = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
    let request = || {
        Request::get("/items")
            .header(header::AUTHORIZATION, authorization.clone())
            .body(())
            .unwrap()
    };
    assert_eq!(now(bearer.call(request())).unwrap().status(), 200);
    group.bench_function("bearer", |b| {
        b.iter(|| black_box(now(bearer.call(request())).unwrap()))
    });

    let nonces = DpopNonces::new(&[7; 32]).unwrap();
    let nonce = nonces.issue(NOW);
    for client in [Client::es256(), Client::eddsa()] {
        let token = access_token(&issuer, pkcs8.as_ref(), Some(&client.jkt()));
        let authorization = HeaderValue::from_str(&format!("DPoP {token}")).unwrap();
        for nonce in [None, Some(nonce.as_str())] {
            let verifier = proofs(nonce.map(|_| nonces.clone()));
            let mut service = base
                .clone()
                .with_dpop(verifier, DpopPolicy::Required)
                .layer(handler);
            let mut jti = 0u64;
            let mut request = || {
                jti += 1;
                Request::get("/items")
                    .header(header::AUTHORIZATION, authorization.clone())
                    .header("dpop", client.proof(jti, &token, nonce))
                    .body(())
                    .unwrap()
            };
            assert_eq!(now(service.call(request())).unwrap().status(), 200);
            let name = format!(
                "dpop_{}{}",
                client.alg,
                if nonce.is_some() { "_nonce" } else { "" }
            );
            group.bench_function(name, |b| {
                b.iter_batched(
                    &mut request,
                    |request| black_box(now(service.call(request)).unwrap()),
                    BatchSize::SmallInput,
                )
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    targets = dpop, layer
}
criterion_main!(benches);
