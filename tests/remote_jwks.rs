//! A resource server fed by another issuer's JWKS (`keys::RemoteJwks`, feature
//! `remote-jwks`), against a JWKS server each test starts on 127.0.0.1:0: the first fetch,
//! rotation at the issuer, outages, a storm of forged `kid`s, documents with keys this crate
//! cannot use, and the `Cache-Control` schedule.
//!
//! Token time is a mock clock. The refresh schedule runs on tokio's paused clock
//! (`start_paused`), with the default intervals (60 s floor, 1 h ceiling, 5 s between
//! unknown-`kid` refetches): the test sleeps, the clock jumps from timer to timer, and the
//! server records the exact instant of each fetch. The sockets are real; on loopback the
//! bytes of a request are ready as soon as they are written, so the runtime never idles (and
//! the paused clock never jumps) while one is in flight.

#![cfg(feature = "remote-jwks")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::Duration,
};

use aws_lc_rs::{
    rand::{SecureRandom, SystemRandom},
    signature::Ed25519KeyPair,
};
use axum::{
    Json, Router,
    body::Body,
    extract::State,
    http::{Request, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use common::{AUD, Env, Forger, ISS, Logs, b64, env};
use hyper_util::{rt::TokioIo, service::TowerToHyperService};
use serde_json::json;
use tokio::{
    net::TcpListener,
    task::{JoinHandle, JoinSet},
    time::Instant,
};
use tower::ServiceExt;
use tower_jwt_auth::{
    BearerAuthLayer, Claims, KeySet, SigningKey, Verifier,
    keys::{Algorithm, RemoteJwks, RemoteJwksBuilder, RemoteJwksError},
    token::NoCustomClaims,
};

// ----- the issuer's JWKS server -----

/// What the JWKS server answers.
#[derive(Clone)]
enum Answer {
    /// The issuer's current keys.
    Keys,
    /// This exact body.
    Body(String),
    /// This status, no body.
    Status(StatusCode),
    /// Nothing, ever.
    Hang,
}

struct Served {
    answer: Answer,
    /// The `Cache-Control` and `Age` headers of the next answers, one entry each; none once
    /// used up.
    headers: VecDeque<Vec<(header::HeaderName, &'static str)>>,
}

/// A JWKS server on 127.0.0.1:0 that the test steers and counts.
#[derive(Clone)]
struct JwksServer {
    keys: KeySet,
    served: Arc<Mutex<Served>>,
    hits: Arc<Mutex<Vec<Instant>>>,
}

impl JwksServer {
    fn answer(&self, answer: Answer) {
        self.served.lock().unwrap().answer = answer;
    }

    /// The `Cache-Control` (and optionally `Age`) of the next answers, in order.
    fn cache_control(&self, answers: &[&[(header::HeaderName, &'static str)]]) {
        self.served.lock().unwrap().headers = answers.iter().map(|h| h.to_vec()).collect();
    }

    fn hits(&self) -> usize {
        self.hits.lock().unwrap().len()
    }

    fn hit_times(&self) -> Vec<Instant> {
        self.hits.lock().unwrap().clone()
    }
}

async fn serve_jwks(State(server): State<JwksServer>) -> Response {
    // The answer is settled before the hit is counted: a test that sees the hit and then
    // changes the answer changes the next one.
    let (answer, headers) = {
        let mut served = server.served.lock().unwrap();
        let headers = served.headers.pop_front().unwrap_or_default();
        (served.answer.clone(), headers)
    };
    server.hits.lock().unwrap().push(Instant::now());
    let mut response = match answer {
        Answer::Keys => Json(server.keys.jwks()).into_response(),
        Answer::Body(body) => body.into_response(),
        Answer::Status(status) => status.into_response(),
        Answer::Hang => std::future::pending().await,
    };
    for (name, value) in headers {
        response
            .headers_mut()
            .insert(name, header::HeaderValue::from_static(value));
    }
    response
}

/// A running JWKS server serving `keys`. Aborting `task` closes the listener and every
/// connection.
struct Running {
    server: JwksServer,
    url: String,
    task: JoinHandle<()>,
}

async fn start_jwks(keys: KeySet) -> Running {
    let server = JwksServer {
        keys,
        served: Arc::new(Mutex::new(Served {
            answer: Answer::Keys,
            headers: VecDeque::new(),
        })),
        hits: Arc::default(),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/.well-known/jwks.json",
        listener.local_addr().unwrap()
    );
    let task = tokio::spawn(serve(listener, server.clone()));
    Running { server, url, task }
}

/// Serves until aborted; the connections are tasks of this one, closed with it.
async fn serve(listener: TcpListener, server: JwksServer) {
    let app = Router::new()
        .route("/.well-known/jwks.json", get(serve_jwks))
        .with_state(server);
    let mut connections = JoinSet::new();
    loop {
        let (stream, _) = listener.accept().await.unwrap();
        let service = TowerToHyperService::new(app.clone());
        connections.spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

// ----- the resource server -----

/// A remote JWKS on the test server: loopback HTTP, default intervals.
fn remote(url: &str) -> RemoteJwksBuilder {
    RemoteJwks::builder(url).allow_http_loopback()
}

const FLOOR: Duration = Duration::from_secs(60);
const CEILING: Duration = Duration::from_secs(3600);
const INTERVAL: Duration = Duration::from_secs(5);
const TIMEOUT: Duration = Duration::from_secs(10);

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Lets the other tasks run for `d` of paused time.
async fn sleep(d: Duration) {
    tokio::time::sleep(d).await;
}

/// The gaps between successive fetches, each checked against `expected` to the timer's
/// millisecond.
fn assert_gaps(hits: &[Instant], expected: &[Duration]) {
    let gaps: Vec<Duration> = hits.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(gaps.len(), expected.len(), "{gaps:?}");
    for (gap, expected) in gaps.iter().zip(expected) {
        assert!(
            *gap >= *expected && *gap <= *expected + Duration::from_millis(5),
            "{gaps:?}, expected {expected:?}"
        );
    }
}

fn verifier(jwks: &RemoteJwks, env: &Env) -> Verifier {
    Verifier::builder(jwks.keys())
        .with_issuer(ISS)
        .with_audience(AUD)
        .with_clock(env.clock.clone())
        .build()
        .unwrap()
}

/// The resource server's routes: `/me` behind the bearer layer.
fn resource_server(verifier: Verifier) -> Router {
    Router::new()
        .route("/me", get(|claims: Claims| async move { Json(claims.sub) }))
        .route_layer(BearerAuthLayer::new(verifier))
}

async fn me(app: &Router, token: &str) -> StatusCode {
    let request = Request::get("/me")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    app.clone().oneshot(request).await.unwrap().status()
}

async fn access_token(env: &Env) -> String {
    env.sessions
        .start("alice")
        .await
        .unwrap()
        .access_token()
        .to_owned()
}

/// Polls `condition` every millisecond (of paused time) for at most a second.
async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if condition() {
            return;
        }
        sleep(Duration::from_millis(1)).await;
    }
    panic!("timed out waiting for {what}");
}

/// A token of the right shape naming a random `kid`, signed by a key nobody published.
fn forged(env: &Env, forger: &Forger) -> String {
    let mut kid = [0u8; 16];
    SystemRandom::new().fill(&mut kid).unwrap();
    forger.sign(
        &json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": b64(kid) }),
        &env.claims(),
    )
}

// ----- first fetch -----

#[tokio::test(start_paused = true)]
async fn the_first_fetch_brings_the_keys_a_token_of_the_issuer_needs() {
    let env = env();
    let jwks_server = start_jwks(env.issuer.keys().clone()).await;
    let jwks = remote(&jwks_server.url).build().unwrap();
    let app = resource_server(verifier(&jwks, &env));
    let token = access_token(&env).await;

    // Nothing fetched yet: the set is empty and every token is refused.
    assert!(jwks.keys().verifying_keys().is_empty());
    assert_eq!(me(&app, &token).await, StatusCode::UNAUTHORIZED);

    jwks.refresh_now().await.unwrap();
    assert_eq!(jwks_server.server.hits(), 1);
    assert_eq!(jwks.keys().signing_kid(), None);
    assert!(jwks.keys().contains(&env.kid));
    assert_eq!(me(&app, &token).await, StatusCode::OK);

    // The resource server checks the token like the issuer would: expiry on the mock clock.
    env.advance(901);
    assert_eq!(me(&app, &token).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test(start_paused = true)]
async fn the_background_task_fetches_at_once_when_nothing_was_fetched() {
    let env = env();
    let jwks_server = start_jwks(env.issuer.keys().clone()).await;
    let jwks = remote(&jwks_server.url).build().unwrap();
    let keys = jwks.keys();
    let task = tokio::spawn(jwks.run());
    eventually("the first fetch", || keys.contains(&env.kid)).await;
    assert_eq!(jwks_server.server.hits(), 1);
    task.abort();
}

// ----- rotation at the issuer -----

#[tokio::test(start_paused = true)]
async fn a_key_rotated_at_the_issuer_verifies_after_the_unknown_kid_refetch() {
    let env = env();
    let jwks_server = start_jwks(env.issuer.keys().clone()).await;
    let server = jwks_server.server.clone();
    let jwks = remote(&jwks_server.url).build().unwrap();
    jwks.refresh_now().await.unwrap();
    let app = resource_server(verifier(&jwks, &env));
    let task = tokio::spawn(jwks.clone().run());
    let old_token = access_token(&env).await;

    // The issuer switches keys without publishing in advance: the JWKS cached by the
    // resource server (fresh for an hour) does not have the new one.
    let next = SigningKey::generate_ed25519().unwrap();
    let next_kid = next.kid().to_owned();
    env.issuer.keys().sign_with(next).unwrap();
    let new_token = access_token(&env).await;

    // The first request with it is refused, and wakes the task: it refetches as soon as
    // the interval since the last fetch has passed.
    assert_eq!(me(&app, &new_token).await, StatusCode::UNAUTHORIZED);
    sleep(INTERVAL - secs(1)).await;
    assert_eq!(server.hits(), 1);
    sleep(secs(2)).await;
    assert_eq!(server.hits(), 2);
    assert!(jwks.keys().contains(&next_kid));
    assert_eq!(me(&app, &new_token).await, StatusCode::OK);
    // The previous key is still published, and still verifies its tokens.
    assert_eq!(me(&app, &old_token).await, StatusCode::OK);

    // Once the issuer retires the previous key, the next fetch drops it.
    env.issuer.keys().retire(&env.kid).unwrap();
    jwks.refresh_now().await.unwrap();
    assert_eq!(me(&app, &old_token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&app, &new_token).await, StatusCode::OK);
    task.abort();
}

#[tokio::test(start_paused = true)]
async fn a_key_published_at_the_issuer_arrives_with_the_scheduled_refresh() {
    let env = env();
    let jwks_server = start_jwks(env.issuer.keys().clone()).await;
    jwks_server
        .server
        .cache_control(&[&[(header::CACHE_CONTROL, "public, max-age=300")]]);
    let jwks = remote(&jwks_server.url).build().unwrap();
    jwks.refresh_now().await.unwrap();
    let task = tokio::spawn(jwks.clone().run());

    // Published before it signs: the resource server learns it with no token asking.
    let next = SigningKey::generate_ed25519().unwrap();
    env.issuer.keys().publish(next.verifying_key()).unwrap();
    sleep(secs(299)).await;
    assert!(!jwks.keys().contains(next.kid()));
    sleep(secs(2)).await;
    assert!(jwks.keys().contains(next.kid()));
    assert_eq!(jwks_server.server.hits(), 2);

    env.issuer.keys().sign_with(next).unwrap();
    let token = access_token(&env).await;
    verifier(&jwks, &env)
        .verify_access::<NoCustomClaims>(&token)
        .unwrap();
    task.abort();
}

// ----- outage -----

#[tokio::test(start_paused = true)]
async fn an_outage_keeps_the_last_good_keys() {
    let env = env();
    let mut jwks_server = start_jwks(env.issuer.keys().clone()).await;
    let server = jwks_server.server.clone();
    let jwks = remote(&jwks_server.url).build().unwrap();
    jwks.refresh_now().await.unwrap();
    let app = resource_server(verifier(&jwks, &env));
    let token = access_token(&env).await;

    // An HTTP error.
    server.answer(Answer::Status(StatusCode::INTERNAL_SERVER_ERROR));
    assert!(matches!(
        jwks.refresh_now().await,
        Err(RemoteJwksError::Status(500))
    ));
    assert_eq!(me(&app, &token).await, StatusCode::OK);

    // A document that is not a JWK set, or no JSON at all.
    for body in [r#"{"keys": "none"}"#, "{}", "<html>maintenance</html>"] {
        server.answer(Answer::Body(body.to_owned()));
        assert!(matches!(
            jwks.refresh_now().await,
            Err(RemoteJwksError::InvalidDocument(_))
        ));
        assert_eq!(me(&app, &token).await, StatusCode::OK);
    }

    // An endpoint that accepts and never answers: the timeout.
    server.answer(Answer::Hang);
    let started = Instant::now();
    let err = jwks.refresh_now().await.unwrap_err();
    assert!(matches!(err, RemoteJwksError::Request(_)), "{err}");
    assert!(started.elapsed() >= TIMEOUT && started.elapsed() < TIMEOUT + secs(1));
    assert_eq!(me(&app, &token).await, StatusCode::OK);

    // The server goes away: connections refused.
    jwks_server.task.abort();
    let _ = (&mut jwks_server.task).await;
    let err = jwks.refresh_now().await.unwrap_err();
    assert!(matches!(err, RemoteJwksError::Request(_)), "{err}");
    assert!(!err.to_string().contains("jwks.json"), "no URL in {err}");
    assert_eq!(me(&app, &token).await, StatusCode::OK);
    assert!(jwks.keys().contains(&env.kid));
}

#[tokio::test(start_paused = true)]
async fn the_task_retries_an_outage_with_backoff_and_recovers() {
    let env = env();
    let jwks_server = start_jwks(env.issuer.keys().clone()).await;
    let server = jwks_server.server.clone();
    server.cache_control(&[&[(header::CACHE_CONTROL, "max-age=60")]]);
    let jwks = remote(&jwks_server.url).build().unwrap();
    jwks.refresh_now().await.unwrap();
    let app = resource_server(verifier(&jwks, &env));
    let token = access_token(&env).await;
    let task = tokio::spawn(jwks.clone().run());

    // Down from the first refresh on: retries after 1 s, doubling, at most the floor apart.
    server.answer(Answer::Status(StatusCode::SERVICE_UNAVAILABLE));
    sleep(secs(60 + 1 + 2 + 4 + 8 + 16 + 32 + 60 + 60 + 1)).await;
    let backoff = [60, 1, 2, 4, 8, 16, 32, 60, 60].map(secs);
    assert_gaps(&server.hit_times(), &backoff);
    assert_eq!(me(&app, &token).await, StatusCode::OK);

    // Back, with a key the resource server has not seen: the next retry gets it.
    let next = SigningKey::generate_ed25519().unwrap();
    env.issuer.keys().publish(next.verifying_key()).unwrap();
    server.answer(Answer::Keys);
    sleep(FLOOR).await;
    assert!(jwks.keys().contains(next.kid()));
    assert_eq!(me(&app, &token).await, StatusCode::OK);
    // And the schedule is the normal one again: no `max-age`, the ceiling.
    let hits = server.hits();
    sleep(CEILING - FLOOR).await;
    assert_eq!(server.hits(), hits);
    sleep(FLOOR).await;
    assert_eq!(server.hits(), hits + 1);
    task.abort();
}

// ----- unknown-kid storm -----

#[tokio::test(start_paused = true)]
async fn a_storm_of_forged_kids_causes_one_fetch_per_interval() {
    let env = env();
    let jwks_server = start_jwks(env.issuer.keys().clone()).await;
    let server = jwks_server.server.clone();
    let jwks = remote(&jwks_server.url).build().unwrap();
    jwks.refresh_now().await.unwrap();
    let app = resource_server(verifier(&jwks, &env));
    let task = tokio::spawn(jwks.clone().run());
    let forger = Forger::random_ed25519();
    let genuine = access_token(&env).await;
    let storm = |tokens: usize| {
        let (app, env, forger) = (&app, &env, &forger);
        async move {
            for _ in 0..tokens {
                let status = me(app, &forged(env, forger)).await;
                assert_eq!(status, StatusCode::UNAUTHORIZED);
            }
        }
    };

    // 1000 tokens naming random kids right after a fetch: no fetch until the interval since
    // it has passed, then exactly one.
    storm(1000).await;
    sleep(INTERVAL - secs(1)).await;
    assert_eq!(server.hits(), 1);
    sleep(secs(2)).await;
    assert_eq!(server.hits(), 2);
    sleep(CEILING / 2).await;
    assert_eq!(server.hits(), 2);

    // Long after the last fetch: one fetch at once, and however long the storm goes on, the
    // next one only an interval later.
    storm(500).await;
    sleep(secs(1)).await;
    assert_eq!(server.hits(), 3);
    storm(500).await;
    sleep(INTERVAL - secs(2)).await;
    assert_eq!(server.hits(), 3);
    sleep(secs(2)).await;
    assert_eq!(server.hits(), 4);

    // The genuine token kept verifying all along.
    assert_eq!(me(&app, &genuine).await, StatusCode::OK);
    task.abort();
}

#[tokio::test(start_paused = true)]
async fn a_steady_stream_of_forged_kids_is_one_fetch_per_interval() {
    let env = env();
    let jwks_server = start_jwks(env.issuer.keys().clone()).await;
    let server = jwks_server.server.clone();
    let jwks = remote(&jwks_server.url).build().unwrap();
    jwks.refresh_now().await.unwrap();
    let verifier = verifier(&jwks, &env);
    let task = tokio::spawn(jwks.clone().run());
    let forger = Forger::random_ed25519();

    // Ten forged tokens every second for five minutes.
    for _ in 0..300 {
        for _ in 0..10 {
            let token = forged(&env, &forger);
            assert!(verifier.verify_access::<NoCustomClaims>(&token).is_err());
        }
        sleep(secs(1)).await;
    }
    sleep(secs(1)).await;
    let gaps = usize::try_from(300 / INTERVAL.as_secs()).unwrap();
    assert_gaps(&server.hit_times(), &vec![INTERVAL; gaps]);
    task.abort();
}

#[tokio::test(start_paused = true)]
async fn key_material_and_urls_in_a_token_are_never_used() {
    let env = env();
    let jwks_server = start_jwks(env.issuer.keys().clone()).await;
    // The attacker's own JWKS, holding the attacker's key.
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    let attacker = Forger::ed25519(pkcs8.as_ref());
    let attacker_keys =
        KeySet::new(SigningKey::from_der(Algorithm::EdDSA, pkcs8.as_ref()).unwrap());
    let attacker_kid = attacker_keys.signing_kid().unwrap();
    let attacker_server = start_jwks(attacker_keys.clone()).await;
    let jwks = remote(&jwks_server.url).build().unwrap();
    jwks.refresh_now().await.unwrap();
    let app = resource_server(verifier(&jwks, &env));
    let task = tokio::spawn(jwks.clone().run());

    let jwk = serde_json::to_value(&attacker_keys.jwks().keys[0]).unwrap();
    let header = json!({
        "alg": "EdDSA", "typ": "at+jwt", "kid": attacker_kid,
        "jku": attacker_server.url, "x5u": attacker_server.url, "jwk": jwk,
    });
    let token = attacker.sign(&header, &env.claims());
    assert_eq!(me(&app, &token).await, StatusCode::UNAUTHORIZED);
    // The unknown kid made the task refetch the configured JWKS, not the token's.
    sleep(INTERVAL + secs(1)).await;
    assert_eq!(jwks_server.server.hits(), 2);
    assert_eq!(me(&app, &token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(attacker_server.server.hits(), 0);
    assert!(!jwks.keys().contains(&attacker_kid));
    task.abort();
}

// ----- keys this crate cannot use -----

#[tokio::test(start_paused = true)]
async fn unsupported_and_malformed_keys_are_skipped_and_the_good_one_is_used() {
    let env = env();
    let jwks_server = start_jwks(env.issuer.keys().clone()).await;
    let good = serde_json::to_value(&env.issuer.keys().jwks().keys[0]).unwrap();
    let x = good["x"].as_str().unwrap().to_owned();
    let other = serde_json::to_value(
        &KeySet::new(SigningKey::generate_ed25519().unwrap())
            .jwks()
            .keys[0],
    )
    .unwrap();
    let other_x = other["x"].as_str().unwrap();
    let document = json!({ "keys": [
        // ML-DSA: a key type this crate does not know.
        { "kty": "AKP", "kid": "akp", "alg": "ML-DSA-44", "pub": "AAAA" },
        // `alg: none`, and an unknown algorithm.
        { "kty": "OKP", "crv": "Ed25519", "kid": "none", "alg": "none", "x": x },
        { "kty": "EC", "crv": "P-384", "kid": "es384", "alg": "ES384", "x": "AAAA", "y": "AAAA" },
        // RSA without `alg`: RS256 or PS256, ambiguous.
        { "kty": "RSA", "kid": "rsa-no-alg", "n": "AQAB", "e": "AQAB" },
        // Bad base64url, and a member of the wrong type.
        { "kty": "OKP", "crv": "Ed25519", "kid": "bad-b64", "alg": "EdDSA", "x": "not base64!" },
        { "kty": "OKP", "crv": "Ed25519", "kid": "bad-type", "x": 42 },
        "not even an object",
        // A secret in a public document.
        { "kty": "oct", "kid": "hmac", "alg": "HS256", "k": b64([7u8; 32]) },
        // An encryption key, skipped quietly.
        { "kty": "RSA", "kid": "enc", "use": "enc", "alg": "RSA-OAEP", "n": "AQAB", "e": "AQAB" },
        // Two different keys under one kid: neither is trusted.
        { "kty": "OKP", "crv": "Ed25519", "kid": "twice", "x": x },
        { "kty": "OKP", "crv": "Ed25519", "kid": "twice", "x": other_x },
        // The good key, twice (the same key repeated is one key).
        good, good,
    ]});
    jwks_server
        .server
        .answer(Answer::Body(document.to_string()));
    let jwks = remote(&jwks_server.url).build().unwrap();

    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    {
        let _guard = tracing::subscriber::set_default(subscriber);
        jwks.refresh_now().await.unwrap();
    }

    let kids: Vec<String> = jwks
        .keys()
        .verifying_keys()
        .iter()
        .map(|k| k.kid().to_owned())
        .collect();
    assert_eq!(kids, [env.kid.as_str()]);
    let app = resource_server(verifier(&jwks, &env));
    assert_eq!(me(&app, &access_token(&env).await).await, StatusCode::OK);

    // Each skipped key is named with its reason; no key material is logged.
    let logs = logs.text();
    for kid in [
        "akp",
        "none",
        "es384",
        "rsa-no-alg",
        "bad-b64",
        "bad-type",
        "hmac",
        "twice",
    ] {
        assert!(logs.contains(&format!("\"{kid}\"")), "{kid} in {logs}");
    }
    assert!(logs.contains("unsupported key type"), "{logs}");
    assert!(logs.contains("unsupported algorithm"), "{logs}");
    assert!(logs.contains("names no `alg`"), "{logs}");
    assert!(logs.contains("not canonical base64url"), "{logs}");
    assert!(logs.contains("symmetric"), "{logs}");
    assert!(!logs.contains("\"enc\""), "{logs}");
    for secret in [x.as_str(), other_x, &b64([7u8; 32]), "not base64!"] {
        assert!(!logs.contains(secret), "key material in {logs}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_document_with_no_usable_key_is_the_issuers_word() {
    let env = env();
    let jwks_server = start_jwks(env.issuer.keys().clone()).await;
    let jwks = remote(&jwks_server.url).build().unwrap();
    jwks.refresh_now().await.unwrap();
    assert!(jwks.keys().contains(&env.kid));
    // A well-formed set without the key: it was withdrawn, and stops verifying.
    jwks_server
        .server
        .answer(Answer::Body(r#"{"keys":[]}"#.to_owned()));
    jwks.refresh_now().await.unwrap();
    assert!(jwks.keys().verifying_keys().is_empty());
    let app = resource_server(verifier(&jwks, &env));
    assert_eq!(
        me(&app, &access_token(&env).await).await,
        StatusCode::UNAUTHORIZED
    );
}

// ----- Cache-Control -----

#[tokio::test(start_paused = true)]
async fn cache_control_max_age_sets_the_schedule_within_the_floor_and_the_ceiling() {
    let env = env();
    let jwks_server = start_jwks(env.issuer.keys().clone()).await;
    let server = jwks_server.server.clone();
    server.cache_control(&[
        // Fresh for ten minutes: within the bounds.
        &[(header::CACHE_CONTROL, "public, max-age=600")],
        // Fresh for a day: the ceiling, an hour.
        &[(header::CACHE_CONTROL, "max-age=86400")],
        // Stale at once: the floor, a minute.
        &[(header::CACHE_CONTROL, "max-age=0, must-revalidate")],
        &[(header::CACHE_CONTROL, "no-store")],
        // Fifteen minutes, five of them spent in a cache on the way.
        &[(header::CACHE_CONTROL, "max-age=900"), (header::AGE, "300")],
        // No `Cache-Control`: the ceiling.
        &[],
    ]);
    let jwks = remote(&jwks_server.url).build().unwrap();
    jwks.refresh_now().await.unwrap();
    let task = tokio::spawn(jwks.clone().run());
    sleep(secs(600 + 3600 + 60 + 60 + 600 + 3600 + 1)).await;
    task.abort();
    assert_gaps(
        &server.hit_times(),
        &[secs(600), CEILING, FLOOR, FLOOR, secs(600), CEILING],
    );
}

// ----- the example -----

#[test]
fn the_readme_shows_the_resource_server_example_verbatim_in_under_30_lines() {
    let example = include_str!("../examples/resource_server.rs");
    let code: String = example
        .lines()
        .skip_while(|line| line.starts_with("//!") || line.is_empty())
        .flat_map(|line| [line, "\n"])
        .collect();
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("## A resource server fed by a remote JWKS")
        .nth(1)
        .expect("the section");
    let block = section
        .split("```rust,ignore\n")
        .nth(1)
        .expect("a rust block");
    assert_eq!(block.split("```").next().unwrap(), code);
    let lines = code.lines().filter(|line| !line.trim().is_empty()).count();
    assert!(lines < 30, "{lines} lines");
    assert!(code.contains("RemoteJwks::discover") && code.contains("BearerAuthLayer::new"));
}
