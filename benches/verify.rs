//! The verifier against a plain `jsonwebtoken::decode` of the same token, in the same run.

#![allow(missing_docs, clippy::unwrap_used, clippy::needless_pass_by_value)]

use std::{
    convert::Infallible,
    future::Future,
    pin::pin,
    task::{Context, Poll, Waker},
};

use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderValue, Request, Response, header};
use jsonwebtoken::{DecodingKey, Validation};
use serde::Deserialize;
use std::hint::black_box;
use tower::{Layer, Service, service_fn};
use tower_jwt_auth::{
    BearerAuthLayer, Claims, Issuer, KeySet, Sessions, SigningKey, keys::Algorithm,
    token::NoCustomClaims,
};

/// Polls a future that completes without waiting (every service here is synchronous).
fn now<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("the benchmarked services never wait"),
    }
}

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

fn bench_alg(
    c: &mut Criterion,
    name: &str,
    key: SigningKey,
    decoding: DecodingKey,
    alg: jsonwebtoken::Algorithm,
) {
    let issuer = Issuer::builder(KeySet::new(key))
        .with_issuer("https://auth.example")
        .with_audience("api")
        .build()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let pair = runtime
        .block_on(issuer.issue_with_scope("alice", "read write"))
        .unwrap();
    let token = pair.access_token().to_owned();
    let verifier = issuer.verifier().clone();

    let mut validation = Validation::new(alg);
    validation.set_issuer(&["https://auth.example"]);
    validation.set_audience(&["api"]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = 0;
    jsonwebtoken::decode::<JwtClaims>(&token, &decoding, &validation).unwrap();

    let mut group = c.benchmark_group(name);
    group.bench_function("tower_jwt_auth::Verifier", |b| {
        b.iter(|| {
            let claims: Claims<NoCustomClaims> = verifier.verify_access(black_box(&token)).unwrap();
            black_box(claims)
        })
    });
    group.bench_function("jsonwebtoken::decode", |b| {
        b.iter(|| {
            black_box(
                jsonwebtoken::decode::<JwtClaims>(black_box(&token), &decoding, &validation)
                    .unwrap(),
            )
        })
    });
    group.finish();

    // A whole request: the middleware against a service that calls jsonwebtoken directly.
    let bearer = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
    let request = || {
        Request::get("/")
            .header(header::AUTHORIZATION, bearer.clone())
            .body(())
            .unwrap()
    };
    let mut ours = BearerAuthLayer::new(verifier.clone()).layer(service_fn(|r| {
        handler::<Claims<NoCustomClaims>>(r, |c| &c.sub)
    }));
    let mut theirs = service_fn(|mut r: Request<()>| {
        let token = r.headers()[header::AUTHORIZATION]
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap();
        let claims = jsonwebtoken::decode::<JwtClaims>(token, &decoding, &validation)
            .unwrap()
            .claims;
        r.extensions_mut().insert(std::sync::Arc::new(claims));
        handler::<std::sync::Arc<JwtClaims>>(r, |c| &c.sub)
    });
    assert_eq!(now(ours.call(request())).unwrap().status(), 200);
    assert_eq!(now(theirs.call(request())).unwrap().status(), 200);

    let mut group = c.benchmark_group(name.replace("verify_access", "request"));
    group.bench_function("BearerAuth", |b| {
        b.iter(|| black_box(now(ours.call(request())).unwrap()))
    });
    group.bench_function("jsonwebtoken::decode service", |b| {
        b.iter(|| black_box(now(theirs.call(request())).unwrap()))
    });
    group.finish();
}

fn verify(c: &mut Criterion) {
    // The tests and benches build jsonwebtoken with both crypto backends; its own `decode`
    // needs the process default chosen. The crate under test never relies on it.
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();

    let secret = [0x5au8; 32];
    bench_alg(
        c,
        "verify_access/HS256",
        SigningKey::from_secret(Algorithm::HS256, &secret).unwrap(),
        DecodingKey::from_secret(&secret),
        jsonwebtoken::Algorithm::HS256,
    );

    let key = SigningKey::generate_ed25519().unwrap();
    let jwk = key.verifying_key().to_jwk().unwrap();
    let Some(x) = jwk.x else {
        unreachable!("Ed25519 keys export their public point");
    };
    bench_alg(
        c,
        "verify_access/EdDSA",
        key,
        DecodingKey::from_ed_components(&x).unwrap(),
        jsonwebtoken::Algorithm::EdDSA,
    );
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
    let mut pair = now(issuer.issue("alice")).unwrap();
    c.bench_function("refresh/EdDSA", |b| {
        b.iter(|| {
            pair = now(sessions.refresh(black_box(pair.refresh_token()))).unwrap();
        });
    });
}

criterion_group!(benches, verify, refresh);
criterion_main!(benches);
