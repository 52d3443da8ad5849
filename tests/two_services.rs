//! Two services over real HTTP and one Redis (127.0.0.1:6379, or `REDIS_ADDR`): an issuer
//! (token routes and its RFC 8414 metadata) and a resource server that knows only the
//! issuer's URL. The resource server discovers the keys, and follows the issuer's
//! revocations through the issuer's store: a logout at the issuer is refused by the resource
//! server within a second.

#![cfg(all(feature = "redis", feature = "remote-jwks"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{Json, Router, routing::get};
use reqwest::StatusCode;
use tokio::net::TcpListener;
use tower_jwt_auth::{
    BearerAuthLayer, Claims, Issuer, KeySet, Sessions, SigningKey, Verifier,
    endpoints::MetadataService,
    keys::RemoteJwks,
    store::{RedisBackend, RevocationStore},
    token_routes,
};

fn redis_url() -> String {
    let addr = std::env::var("REDIS_ADDR").unwrap_or_else(|_| "127.0.0.1:6379".into());
    format!("redis://{addr}/")
}

/// A key prefix of the test's own; on drop, every key under it is deleted.
struct Prefix(String);

impl Prefix {
    fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        Self(format!("two-services-{nanos:x}-{}", std::process::id()))
    }
}

impl Drop for Prefix {
    fn drop(&mut self) {
        let Ok(client) = redis::Client::open(redis_url()) else {
            return;
        };
        let Ok(mut con) = client.get_connection() else {
            return;
        };
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}:*", self.0))
            .query(&mut con)
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<u64, _> = redis::cmd("DEL").arg(keys).query(&mut con);
        }
    }
}

/// A store over the shared Redis, following it in the background until the test ends.
async fn store(prefix: &Prefix) -> RevocationStore {
    let backend = RedisBackend::builder(redis_url())
        .with_prefix(&prefix.0)
        .build()
        .await
        .unwrap_or_else(|err| panic!("Redis ({err}): is it running?"));
    let store = RevocationStore::builder()
        .with_backend(Arc::new(backend))
        .build()
        .unwrap();
    tokio::spawn(store.clone().run());
    let loaded = Instant::now();
    while !store.is_ready() {
        assert!(loaded.elapsed() < Duration::from_secs(20), "never loaded");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    store
}

async fn me(claims: Claims) -> Json<String> {
    Json(claims.sub)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_at_the_issuer_is_refused_by_the_resource_server_within_a_second() {
    let prefix = Prefix::new();

    // The issuer: its URL is its `iss`.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer_url = format!("http://{}", listener.local_addr().unwrap());
    let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519().unwrap()))
        .with_issuer(&issuer_url)
        .with_audience("api")
        .with_revocation_store(store(&prefix).await)
        .build()
        .unwrap();
    let sessions = Sessions::new(issuer.clone());
    let metadata = MetadataService::new(&issuer, "/auth").unwrap();
    let path = metadata.path().to_owned();
    let issuer_app = Router::new()
        .nest(
            "/auth",
            token_routes(sessions.clone(), &BearerAuthLayer::new(&issuer)),
        )
        .route_service(&path, metadata);
    tokio::spawn(async move { axum::serve(listener, issuer_app).await.unwrap() });

    // The resource server: the issuer's URL, and the issuer's store (no key, no secret).
    let jwks = RemoteJwks::discover(issuer_url.as_str())
        .allow_http_loopback()
        .build()
        .unwrap();
    jwks.refresh_now().await.unwrap();
    let verifier = Verifier::builder(jwks.keys())
        .with_issuer(&issuer_url)
        .with_audience("api")
        .with_revocation(store(&prefix).await)
        .build()
        .unwrap();
    tokio::spawn(jwks.run());
    let api = Router::new()
        .route("/me", get(me))
        .route_layer(BearerAuthLayer::new(verifier));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_url = format!("http://{}/me", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, api).await.unwrap() });

    let http = reqwest::Client::new();
    let pair = sessions.start("alice").await.unwrap();
    let at_api = || http.get(&api_url).bearer_auth(pair.access_token()).send();
    let answer = at_api().await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.json::<String>().await.unwrap(), "alice");

    let logout = http
        .post(format!("{issuer_url}/auth/logout"))
        .bearer_auth(pair.access_token())
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let answered = Instant::now();
    loop {
        let status = at_api().await.unwrap().status();
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert_eq!(status, StatusCode::OK);
        assert!(
            answered.elapsed() < Duration::from_secs(1),
            "the resource server still accepts a token logged out {:?} ago",
            answered.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    eprintln!(
        "refused by the resource server {:?} after the logout answered",
        answered.elapsed()
    );

    // Another session of the same user still works there.
    let other = sessions.start("alice").await.unwrap();
    let answer = http
        .get(&api_url)
        .bearer_auth(other.access_token())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
}
