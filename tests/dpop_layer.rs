//! DPoP in the bearer layer (RFC 9449 §7): bound tokens with their proofs through
//! `tower::ServiceExt::oneshot`, one refusal per check with its challenge, the nonce
//! exchange, replays on one layer and across instances sharing a replay cache, and the
//! binding rules between a token's `cnf` and the scheme it comes with.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::{
    convert::Infallible,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use aws_lc_rs::{
    hmac,
    rand::SystemRandom,
    signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair},
};
use axum::body::Body;
use common::*;
use http::{HeaderValue, Request, Response, StatusCode, header};
use serde_json::{Value, json};
use tower::{Layer, ServiceExt, service_fn};
use tower_jwt_auth::{
    BearerAuthLayer, Claims,
    dpop::{DpopNonces, DpopPolicy, MemoryReplayCache, ProofVerifier, ReplayCache, jwk_thumbprint},
    keys::Jwk,
};

const ORIGIN: &str = "https://api.example.com";
const ALGS: &str = r#"algs="ES256 EdDSA""#;

/// A client's DPoP key.
enum Key {
    Es256(EcdsaKeyPair),
    EdDsa(Ed25519KeyPair),
}

impl Key {
    fn es256() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        Self::Es256(
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap(),
        )
    }

    fn eddsa() -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        Self::EdDsa(Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap())
    }

    fn alg(&self) -> &'static str {
        match self {
            Self::Es256(_) => "ES256",
            Self::EdDsa(_) => "EdDSA",
        }
    }

    fn jwk(&self) -> Value {
        match self {
            Self::Es256(pair) => {
                let point = pair.public_key().as_ref();
                json!({ "kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65]) })
            }
            Self::EdDsa(pair) => {
                json!({ "kty": "OKP", "crv": "Ed25519", "x": b64(pair.public_key().as_ref()) })
            }
        }
    }

    fn jkt(&self) -> String {
        let jwk: Jwk = serde_json::from_value(self.jwk()).unwrap();
        jwk_thumbprint(&jwk).unwrap()
    }

    fn sign_with_header(&self, header: &Value, claims: &Value) -> String {
        let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        let signature = match self {
            Self::Es256(pair) => pair
                .sign(&SystemRandom::new(), input.as_bytes())
                .unwrap()
                .as_ref()
                .to_vec(),
            Self::EdDsa(pair) => pair.sign(input.as_bytes()).as_ref().to_vec(),
        };
        format!("{input}.{}", b64(signature))
    }

    fn sign(&self, claims: &Value) -> String {
        let header = json!({ "typ": "dpop+jwt", "alg": self.alg(), "jwk": self.jwk() });
        self.sign_with_header(&header, claims)
    }
}

fn ath(token: &str) -> String {
    b64(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes()).as_ref())
}

fn unique_jti() -> String {
    unique_name("jti")
}

/// The claims of a good proof for `method path` with `token`, now.
fn proof_claims(env: &Env, method: &str, path: &str, token: &str) -> Value {
    json!({
        "jti": unique_jti(),
        "htm": method,
        "htu": format!("{ORIGIN}{path}"),
        "iat": env.clock_secs(),
        "ath": ath(token),
    })
}

/// A token bound to `jkt`.
fn bound_token(env: &Env, jkt: &str) -> String {
    let mut claims = env.claims();
    claims["cnf"] = json!({ "jkt": jkt });
    env.forge("at+jwt", &claims)
}

fn unbound_token(env: &Env) -> String {
    env.forge("at+jwt", &env.claims())
}

fn proofs(env: &Env) -> tower_jwt_auth::dpop::ProofVerifierBuilder {
    ProofVerifier::builder(ORIGIN).with_clock(env.clock.clone())
}

struct Harness {
    env: Env,
    calls: Arc<AtomicUsize>,
}

type Inner = tower::util::BoxCloneService<Request<Body>, Response<Body>, Infallible>;

/// Counts its calls, and answers 200 with the subject only when it got the claims and the
/// proof header marked sensitive.
fn echo(calls: Arc<AtomicUsize>) -> Inner {
    tower::util::BoxCloneService::new(service_fn(move |req: Request<Body>| {
        calls.fetch_add(1, Ordering::SeqCst);
        let sub = req
            .extensions()
            .get::<Arc<Claims<Profile>>>()
            .map(|c| c.sub.clone());
        let sensitive = req.headers().get("dpop").is_none_or(|v| v.is_sensitive());
        async move {
            assert!(
                sensitive,
                "the DPoP header reached the inner service unmarked"
            );
            Ok::<_, Infallible>(Response::new(Body::from(sub.unwrap_or_default())))
        }
    }))
}

impl Harness {
    fn new() -> Self {
        Self {
            env: env(),
            calls: Arc::default(),
        }
    }

    fn plain(&self) -> BearerAuthLayer<Profile> {
        BearerAuthLayer::new(self.env.issuer.verifier().clone()).with_claims::<Profile>()
    }

    fn layer(&self, policy: DpopPolicy) -> BearerAuthLayer<Profile> {
        self.plain()
            .with_dpop(proofs(&self.env).build().unwrap(), policy)
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    async fn send(&self, layer: &BearerAuthLayer<Profile>, req: Request<Body>) -> Response<Body> {
        layer
            .layer(echo(self.calls.clone()))
            .oneshot(req)
            .await
            .unwrap()
            .map(Body::new)
    }

    /// `GET /items` with `Authorization: {scheme} {token}` and the proof, if any.
    async fn get(
        &self,
        layer: &BearerAuthLayer<Profile>,
        scheme: &str,
        token: &str,
        proof: Option<&str>,
    ) -> Response<Body> {
        let mut req = Request::get("/items?page=2")
            .header(header::AUTHORIZATION, format!("{scheme} {token}"))
            .body(Body::empty())
            .unwrap();
        if let Some(proof) = proof {
            req.headers_mut()
                .insert("dpop", HeaderValue::from_str(proof).unwrap());
        }
        self.send(layer, req).await
    }
}

fn challenges(response: &Response<Body>) -> Vec<String> {
    response
        .headers()
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

fn challenge(response: &Response<Body>) -> String {
    let all = challenges(response);
    assert_eq!(all.len(), 1, "{all:?}");
    all.into_iter().next().unwrap()
}

fn invalid_proof(description: &str) -> String {
    format!(r#"DPoP error="invalid_dpop_proof", error_description="{description}", {ALGS}"#)
}

async fn body_json(response: Response<Body>) -> Value {
    use http_body_util::BodyExt;
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn a_bound_token_with_a_valid_proof_is_accepted_for_each_default_algorithm() {
    let h = Harness::new();
    let layer = h.layer(DpopPolicy::Required);
    for key in [Key::es256(), Key::eddsa()] {
        let token = bound_token(&h.env, &key.jkt());
        let proof = key.sign(&proof_claims(&h.env, "GET", "/items", &token));
        let response = h.get(&layer, "DPoP", &token, Some(&proof)).await;
        assert_eq!(response.status(), StatusCode::OK, "{}", key.alg());
        assert!(response.headers().get("dpop-nonce").is_none());
        let body = http_body_util::BodyExt::collect(response.into_body()).await;
        assert_eq!(body.unwrap().to_bytes(), "alice");
    }
    assert_eq!(h.calls(), 2);
}

#[tokio::test]
async fn a_replayed_proof_is_refused_by_the_same_layer_even_when_the_token_is_cached() {
    let h = Harness::new();
    // The verified-token cache is on by default: the token is served from it the second
    // time, the proof is still checked and recorded.
    let layer = h.layer(DpopPolicy::Optional);
    let key = Key::eddsa();
    let token = bound_token(&h.env, &key.jkt());
    let proof = key.sign(&proof_claims(&h.env, "GET", "/items", &token));
    assert_eq!(
        h.get(&layer, "DPoP", &token, Some(&proof)).await.status(),
        200
    );
    let replay = h.get(&layer, "DPoP", &token, Some(&proof)).await;
    assert_eq!(replay.status(), 401);
    assert_eq!(
        challenge(&replay),
        invalid_proof("the DPoP proof was already used")
    );
    assert_eq!(
        body_json(replay).await,
        json!({ "error": "invalid_dpop_proof", "error_description": "the DPoP proof was already used" })
    );
    // A cached token without its proof, or with a proof of another request, is refused.
    let missing = h.get(&layer, "DPoP", &token, None).await;
    assert_eq!(
        challenge(&missing),
        invalid_proof("the request has no DPoP proof")
    );
    let other = key.sign(&proof_claims(&h.env, "POST", "/items", &token));
    let refused = h.get(&layer, "DPoP", &token, Some(&other)).await;
    assert_eq!(
        challenge(&refused),
        invalid_proof("the DPoP proof's htm is not the request method")
    );
    // A fresh proof passes.
    let fresh = key.sign(&proof_claims(&h.env, "GET", "/items", &token));
    assert_eq!(
        h.get(&layer, "DPoP", &token, Some(&fresh)).await.status(),
        200
    );
    assert_eq!(h.calls(), 2);
}

#[tokio::test]
async fn a_replayed_proof_is_refused_by_another_instance_sharing_the_replay_cache() {
    let h = Harness::new();
    let cache: Arc<dyn ReplayCache> = Arc::new(MemoryReplayCache::new(1_000));
    let instance = || {
        h.plain().with_dpop(
            proofs(&h.env)
                .with_replay_cache(cache.clone())
                .build()
                .unwrap(),
            DpopPolicy::Required,
        )
    };
    let (one, two) = (instance(), instance());
    let key = Key::es256();
    let token = bound_token(&h.env, &key.jkt());
    let proof = key.sign(&proof_claims(&h.env, "GET", "/items", &token));
    assert_eq!(
        h.get(&one, "DPoP", &token, Some(&proof)).await.status(),
        200
    );
    let replay = h.get(&two, "DPoP", &token, Some(&proof)).await;
    assert_eq!(
        challenge(&replay),
        invalid_proof("the DPoP proof was already used")
    );
    assert_eq!(h.calls(), 1);
}

/// Two instances, each with its own connection to one Redis (127.0.0.1:6379, or
/// `REDIS_ADDR`), as their replay cache: the answer comes after an await.
#[cfg(feature = "redis")]
#[tokio::test]
async fn a_replayed_proof_is_refused_by_another_instance_through_redis() {
    use tower_jwt_auth::store::RedisBackend;

    let addr = std::env::var("REDIS_ADDR").unwrap_or_else(|_| "127.0.0.1:6379".into());
    let prefix = unique_name("dpop_layer_");
    let h = Harness::new();
    let mut instances = Vec::new();
    for _ in 0..2 {
        let backend = RedisBackend::builder(format!("redis://{addr}/"))
            .with_prefix(&prefix)
            .build()
            .await
            .unwrap();
        let verifier = proofs(&h.env)
            .with_replay_cache(Arc::new(backend))
            .build()
            .unwrap();
        instances.push(h.plain().with_dpop(verifier, DpopPolicy::Required));
    }
    let key = Key::eddsa();
    let token = bound_token(&h.env, &key.jkt());
    let proof = key.sign(&proof_claims(&h.env, "GET", "/items", &token));
    assert_eq!(
        h.get(&instances[0], "DPoP", &token, Some(&proof))
            .await
            .status(),
        200
    );
    for instance in &instances {
        let replay = h.get(instance, "DPoP", &token, Some(&proof)).await;
        assert_eq!(
            challenge(&replay),
            invalid_proof("the DPoP proof was already used")
        );
    }
    let fresh = key.sign(&proof_claims(&h.env, "GET", "/items", &token));
    assert_eq!(
        h.get(&instances[1], "DPoP", &token, Some(&fresh))
            .await
            .status(),
        200
    );
    assert_eq!(h.calls(), 2);
}

#[tokio::test]
async fn each_bad_proof_is_refused_with_the_dpop_challenge() {
    let h = Harness::new();
    let layer = h.layer(DpopPolicy::Optional);
    let env = &h.env;
    let key = Key::es256();
    let token = bound_token(env, &key.jkt());
    let good = || proof_claims(env, "GET", "/items", &token);
    let with = |name: &str, value: Value| {
        let mut claims = good();
        claims[name] = value;
        key.sign(&claims)
    };
    let now = env.clock_secs();
    let mut private = key.jwk();
    private["d"] = json!(b64([1u8; 32]));
    let hs256 = Forger::hmac(hmac::HMAC_SHA256, b"a shared secret of 32 bytes......").sign(
        &json!({ "typ": "dpop+jwt", "alg": "HS256", "jwk": key.jwk() }),
        &good(),
    );
    let cases = [
        (
            with("htm", json!("POST")),
            "the DPoP proof's htm is not the request method",
        ),
        (
            with("htu", json!(format!("{ORIGIN}/other"))),
            "the DPoP proof's htu is not the request URI",
        ),
        (
            with("htu", json!("https://evil.example.com/items")),
            "the DPoP proof's htu is not the request URI",
        ),
        (
            with("ath", json!(ath("another token"))),
            "the DPoP proof's ath does not match the access token",
        ),
        (with("iat", json!(now - 61)), "the DPoP proof is too old"),
        (
            with("iat", json!(now + 6)),
            "the DPoP proof is issued in the future",
        ),
        (
            // Another key's proof, good in every other respect.
            Key::es256().sign(&good()),
            "the DPoP proof's key is not the one the token is bound to",
        ),
        (hs256, "the DPoP proof's alg is not accepted"),
        (
            key.sign_with_header(
                &json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": private }),
                &good(),
            ),
            "the DPoP proof's jwk contains private key material",
        ),
        ("not.a.proof".to_owned(), "the DPoP proof is malformed"),
    ];
    for (proof, description) in cases {
        let response = h.get(&layer, "DPoP", &token, Some(&proof)).await;
        assert_eq!(response.status(), 401, "{description}");
        assert_eq!(challenge(&response), invalid_proof(description));
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    }
    // Two DPoP headers.
    let mut req = Request::get("/items")
        .header(header::AUTHORIZATION, format!("DPoP {token}"))
        .body(Body::empty())
        .unwrap();
    for _ in 0..2 {
        let proof = key.sign(&good());
        req.headers_mut()
            .append("dpop", HeaderValue::from_str(&proof).unwrap());
    }
    let response = h.send(&layer, req).await;
    assert_eq!(
        challenge(&response),
        invalid_proof("the request has more than one DPoP header")
    );
    assert_eq!(h.calls(), 0);
    // None of the refused proofs was recorded: the good one passes.
    let proof = key.sign(&good());
    assert_eq!(
        h.get(&layer, "DPoP", &token, Some(&proof)).await.status(),
        200
    );
}

#[tokio::test]
async fn the_nonce_exchange() {
    let h = Harness::new();
    let env = &h.env;
    let verifier = proofs(env)
        .with_nonces(DpopNonces::new(&[9; 32]).unwrap())
        .build()
        .unwrap();
    let layer = h.plain().with_dpop(verifier, DpopPolicy::Required);
    let key = Key::eddsa();
    let token = bound_token(env, &key.jkt());

    // No nonce: 401 use_dpop_nonce, with one to retry with.
    let proof = key.sign(&proof_claims(env, "GET", "/items", &token));
    let refused = h.get(&layer, "DPoP", &token, Some(&proof)).await;
    assert_eq!(refused.status(), 401);
    assert_eq!(
        challenge(&refused),
        format!(
            r#"DPoP error="use_dpop_nonce", error_description="a fresh DPoP nonce is required", {ALGS}"#
        )
    );
    let nonce = refused.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    assert_eq!(h.calls(), 0);

    // A made-up nonce is stale too.
    let mut claims = proof_claims(env, "GET", "/items", &token);
    claims["nonce"] = json!("made-up");
    let refused = h
        .get(&layer, "DPoP", &token, Some(&key.sign(&claims)))
        .await;
    assert!(refused.headers().contains_key("dpop-nonce"));

    // The retry with the server's nonce passes; the nonce is current: none is sent.
    let mut claims = proof_claims(env, "GET", "/items", &token);
    claims["nonce"] = json!(nonce);
    let ok = h
        .get(&layer, "DPoP", &token, Some(&key.sign(&claims)))
        .await;
    assert_eq!(ok.status(), 200);
    assert!(ok.headers().get("dpop-nonce").is_none());

    // A step later the nonce still passes, and the answer brings a fresh one.
    env.advance(300);
    let token = bound_token(env, &key.jkt());
    let mut claims = proof_claims(env, "GET", "/items", &token);
    claims["nonce"] = json!(nonce);
    let ok = h
        .get(&layer, "DPoP", &token, Some(&key.sign(&claims)))
        .await;
    assert_eq!(ok.status(), 200);
    let fresh = ok.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    assert_ne!(fresh, nonce);
    let mut claims = proof_claims(env, "GET", "/items", &token);
    claims["nonce"] = json!(fresh);
    let ok = h
        .get(&layer, "DPoP", &token, Some(&key.sign(&claims)))
        .await;
    assert_eq!(ok.status(), 200);
    assert!(ok.headers().get("dpop-nonce").is_none());
    assert_eq!(h.calls(), 3);
}

#[tokio::test]
async fn a_bound_token_presented_as_bearer_is_refused_with_or_without_dpop() {
    let h = Harness::new();
    let key = Key::eddsa();
    let token = bound_token(&h.env, &key.jkt());
    let proof = key.sign(&proof_claims(&h.env, "GET", "/items", &token));
    let description = "a DPoP-bound token must be presented with the DPoP scheme and a proof";
    for (layer, algs) in [
        (h.plain(), String::new()),
        (h.layer(DpopPolicy::Optional), format!(", {ALGS}")),
    ] {
        // With its proof or not: a stolen token is replayed as a bearer token.
        for proof in [None, Some(proof.as_str())] {
            let response = h.get(&layer, "Bearer", &token, proof).await;
            assert_eq!(response.status(), 401);
            assert_eq!(
                challenge(&response),
                format!(r#"DPoP error="invalid_token", error_description="{description}"{algs}"#)
            );
        }
    }
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn an_unbound_token_is_refused_with_the_dpop_scheme_and_as_bearer_where_dpop_is_required() {
    let h = Harness::new();
    let key = Key::eddsa();
    let token = unbound_token(&h.env);
    let proof = key.sign(&proof_claims(&h.env, "GET", "/items", &token));
    for policy in [DpopPolicy::Optional, DpopPolicy::Required] {
        let layer = h.layer(policy);
        let response = h.get(&layer, "DPoP", &token, Some(&proof)).await;
        assert_eq!(response.status(), 401);
        assert_eq!(
            challenge(&response),
            format!(
                r#"DPoP error="invalid_token", error_description="the token is not DPoP-bound", {ALGS}"#
            )
        );
    }
    // As a bearer token: accepted where DPoP is allowed, refused where it is required.
    let allowed = h
        .get(&h.layer(DpopPolicy::Optional), "Bearer", &token, None)
        .await;
    assert_eq!(allowed.status(), 200);
    let required = h
        .get(&h.layer(DpopPolicy::Required), "Bearer", &token, None)
        .await;
    assert_eq!(required.status(), 401);
    assert_eq!(
        challenge(&required),
        format!(
            r#"DPoP error="invalid_token", error_description="a DPoP-bound token with its DPoP proof is required", {ALGS}"#
        )
    );
    // A bad token with the DPoP scheme: the usual error, in a DPoP challenge.
    let mut expired = h.env.claims();
    expired["exp"] = json!(T0);
    expired["cnf"] = json!({ "jkt": key.jkt() });
    let expired = h.env.forge("at+jwt", &expired);
    let response = h
        .get(
            &h.layer(DpopPolicy::Optional),
            "DPoP",
            &expired,
            Some(&proof),
        )
        .await;
    assert_eq!(
        challenge(&response),
        format!(r#"DPoP error="invalid_token", error_description="token expired", {ALGS}"#)
    );
    assert_eq!(h.calls(), 1);
}

#[tokio::test]
async fn no_credentials_get_the_challenges_of_the_schemes_the_layer_takes() {
    let h = Harness::new();
    let anonymous = || Request::get("/items").body(Body::empty()).unwrap();
    let allowed = h.layer(DpopPolicy::Optional).with_realm("api");
    let response = h.send(&allowed, anonymous()).await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        challenges(&response),
        [
            r#"Bearer realm="api""#.to_owned(),
            format!(r#"DPoP realm="api", {ALGS}"#)
        ]
    );
    let required = h.layer(DpopPolicy::Required);
    let response = h.send(&required, anonymous()).await;
    assert_eq!(challenges(&response), [format!("DPoP {ALGS}")]);
    // Without DPoP, as before.
    let response = h.send(&h.plain(), anonymous()).await;
    assert_eq!(challenges(&response), ["Bearer"]);
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn the_token_cache_never_skips_the_proof() {
    let h = Harness::new();
    let layer = h.layer(DpopPolicy::Optional).with_cache_capacity(16);
    let key = Key::eddsa();
    let token = bound_token(&h.env, &key.jkt());
    for _ in 0..3 {
        let proof = key.sign(&proof_claims(&h.env, "GET", "/items", &token));
        assert_eq!(
            h.get(&layer, "DPoP", &token, Some(&proof)).await.status(),
            200
        );
        // The same kept token with another key's proof.
        let thief = Key::eddsa().sign(&proof_claims(&h.env, "GET", "/items", &token));
        let refused = h.get(&layer, "DPoP", &token, Some(&thief)).await;
        assert_eq!(
            challenge(&refused),
            invalid_proof("the DPoP proof's key is not the one the token is bound to")
        );
        h.env.clock.advance(Duration::from_secs(1));
    }
    assert_eq!(h.calls(), 3);
}

#[cfg(feature = "tonic")]
#[tokio::test]
async fn grpc_calls_carry_the_token_and_the_proof_in_metadata() {
    use tonic::{Code, Status};
    use tower_jwt_auth::grpc::GrpcRejection;

    let h = Harness::new();
    let verifier = proofs(&h.env)
        .with_nonces(DpopNonces::new(&[3; 32]).unwrap())
        .build()
        .unwrap();
    let layer = BearerAuthLayer::new(h.env.issuer.verifier().clone())
        .with_claims::<Profile>()
        .with_dpop(verifier, DpopPolicy::Required)
        .on_rejection(GrpcRejection);
    let key = Key::es256();
    let token = bound_token(&h.env, &key.jkt());
    let path = "/example.Items/List";
    let call = |proof: &str| {
        // A gRPC server sees the absolute form; the htu is the public origin and the path.
        Request::post(format!("http://10.0.0.7:50051{path}"))
            .header("content-type", "application/grpc")
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", proof)
            .body(Body::empty())
            .unwrap()
    };
    let service =
        |layer: &BearerAuthLayer<Profile, GrpcRejection>| layer.layer(echo(h.calls.clone()));
    let proof = key.sign(&proof_claims(&h.env, "POST", path, &token));
    let refused = service(&layer).oneshot(call(&proof)).await.unwrap();
    let status = Status::from_header_map(refused.headers()).unwrap();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(
        status
            .metadata()
            .get("www-authenticate")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with(r#"DPoP error="use_dpop_nonce""#)
    );
    let nonce = status
        .metadata()
        .get("dpop-nonce")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();

    let mut claims = proof_claims(&h.env, "POST", path, &token);
    claims["nonce"] = json!(nonce);
    let ok = service(&layer)
        .oneshot(call(&key.sign(&claims)))
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert!(ok.headers().get("grpc-status").is_none());

    // The same proof again: a replay.
    let replay = service(&layer)
        .oneshot(call(&key.sign(&claims)))
        .await
        .unwrap();
    let status = Status::from_header_map(replay.headers()).unwrap();
    assert_eq!(status.code(), Code::Unauthenticated);
    let mut bad = claims.clone();
    bad["htu"] = json!(format!("{ORIGIN}/example.Items/Delete"));
    let refused = service(&layer)
        .oneshot(call(&key.sign(&bad)))
        .await
        .unwrap();
    let status = Status::from_header_map(refused.headers()).unwrap();
    assert_eq!(
        status.message(),
        "the DPoP proof's htu is not the request URI"
    );
    assert_eq!(h.calls(), 1);
}

/// With introspection too: the proof is checked before the issuer is asked, and recorded
/// after its answer, so that a replay is refused once the answer is kept.
#[cfg(feature = "remote-jwks")]
#[tokio::test]
async fn with_introspection_the_proof_is_checked_before_and_recorded_after_the_answer() {
    use axum::Router;
    use tower_jwt_auth::{bearer::Introspector, endpoints::IntrospectionService};

    let h = Harness::new();
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    let service = IntrospectionService::new(h.env.issuer.verifier())
        .with_client("api", "the-api-secret-of-32-bytes")
        .unwrap();
    let counted = tower::ServiceBuilder::new()
        .map_request(move |request: Request<Body>| {
            counter.fetch_add(1, Ordering::SeqCst);
            request
        })
        .service(service);
    let app = Router::new().route_service("/introspect", counted);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/introspect", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let introspector = Introspector::builder(&url, "api", "the-api-secret-of-32-bytes")
        .allow_http_loopback()
        .build()
        .unwrap();
    let layer = h
        .layer(DpopPolicy::Required)
        .with_introspection(introspector);

    let key = Key::eddsa();
    let token = bound_token(&h.env, &key.jkt());
    let thief = Key::eddsa().sign(&proof_claims(&h.env, "GET", "/items", &token));
    let refused = h.get(&layer, "DPoP", &token, Some(&thief)).await;
    assert_eq!(
        challenge(&refused),
        invalid_proof("the DPoP proof's key is not the one the token is bound to")
    );
    assert_eq!(requests.load(Ordering::SeqCst), 0, "a bad proof never asks");

    let proof = key.sign(&proof_claims(&h.env, "GET", "/items", &token));
    assert_eq!(
        h.get(&layer, "DPoP", &token, Some(&proof)).await.status(),
        200
    );
    assert_eq!(requests.load(Ordering::SeqCst), 1);
    let replay = h.get(&layer, "DPoP", &token, Some(&proof)).await;
    assert_eq!(
        challenge(&replay),
        invalid_proof("the DPoP proof was already used")
    );
    assert_eq!(h.calls(), 1);
    server.abort();
}

/// An optional layer: the `Claims` extractor's 401 to an anonymous request names both schemes.
#[tokio::test]
async fn the_claims_extractor_behind_an_optional_dpop_layer_answers_both_challenges() {
    use axum::{Router, routing::get};

    let h = Harness::new();
    let key = Key::eddsa();
    let token = bound_token(&h.env, &key.jkt());
    let app = Router::new()
        .route(
            "/items",
            get(|claims: Claims<Profile>| async move { claims.sub.clone() }),
        )
        .layer(h.layer(DpopPolicy::Optional).with_realm("api").optional());
    let anonymous = app
        .clone()
        .oneshot(Request::get("/items").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let all: Vec<_> = anonymous
        .headers()
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        all,
        [
            r#"Bearer realm="api""#.to_owned(),
            format!(r#"DPoP realm="api", {ALGS}"#)
        ]
    );
    let proof = key.sign(&proof_claims(&h.env, "GET", "/items", &token));
    let ok = app
        .oneshot(
            Request::get("/items")
                .header(header::AUTHORIZATION, format!("DPoP {token}"))
                .header("dpop", proof)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}
