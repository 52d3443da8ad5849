//! A key rotation between an issuer and a resource server, under load: the issuer serves its
//! JWKS over HTTP, the resource server follows it with `RemoteJwks` (default intervals), and
//! a token minted every 100 ms is verified at once by the resource server. With
//! `JwksService::rotate_to` no valid token is refused; publishing and signing at once (the
//! old advice) makes the resource server refuse the first tokens of the new key.
//!
//! The schedules run on tokio's paused clock: the test sleeps, the clock jumps from timer to
//! timer; the sockets are real (loopback bytes are ready as soon as they are written).

#![cfg(feature = "remote-jwks")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tower_jwt_auth::{
    Claims, Issuer, KeySet, Sessions, SigningKey, Verifier, endpoints::JwksService,
    keys::RemoteJwks,
};

/// How often the JWKS may be cached, as the issuer serves it.
const MAX_AGE: Duration = Duration::from_secs(60);

struct Services {
    keys: KeySet,
    jwks: JwksService,
    sessions: Sessions,
    resource: Verifier,
}

async fn services() -> Services {
    let keys = KeySet::new(SigningKey::generate_ed25519().unwrap());
    let issuer = Issuer::builder(keys.clone())
        .with_issuer("https://auth.example")
        .with_audience("api")
        .build()
        .unwrap();
    let jwks = JwksService::new(&keys).with_max_age(MAX_AGE);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let app = Router::new().route_service("/jwks.json", jwks.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let remote = RemoteJwks::builder(url)
        .allow_http_loopback()
        .build()
        .unwrap();
    remote.refresh_now().await.unwrap();
    let resource = Verifier::builder(remote.keys())
        .with_issuer("https://auth.example")
        .with_audience("api")
        .build()
        .unwrap();
    tokio::spawn(remote.run());
    Services {
        keys,
        jwks,
        sessions: Sessions::new(issuer),
        resource,
    }
}

/// Mints and verifies a token every 100 ms for `run_for`: the refusals, and how many of the
/// accepted tokens the key `kid` signed.
async fn load(services: &Services, run_for: Duration, kid: &str) -> (usize, usize) {
    let (mut refused, mut by_kid) = (0, 0);
    let steps = run_for.as_millis() / 100;
    for _ in 0..steps {
        let pair = services.sessions.start("alice").await.unwrap();
        match services
            .resource
            .verify_access::<tower_jwt_auth::token::NoCustomClaims>(pair.access_token())
        {
            Ok(Claims { .. }) => {
                if services.keys.signing_kid().as_deref() == Some(kid) {
                    by_kid += 1;
                }
            }
            Err(_) => refused += 1,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (refused, by_kid)
}

#[tokio::test(start_paused = true)]
async fn a_rotation_under_load_refuses_no_valid_token() {
    let services = services().await;
    // Some time into the schedule: the resource server's next fetch is not imminent.
    tokio::time::sleep(Duration::from_secs(17)).await;
    let next = SigningKey::generate_ed25519().unwrap();
    let kid = next.kid().to_owned();
    let rotation = tokio::spawn({
        let jwks = services.jwks.clone();
        async move { jwks.rotate_to(next).await }
    });
    let (refused, by_new_key) = load(&services, 3 * MAX_AGE, &kid).await;
    rotation.await.unwrap().unwrap();
    assert_eq!(refused, 0, "valid tokens refused during the rotation");
    assert!(
        by_new_key > 100,
        "the new key signed {by_new_key} accepted tokens"
    );
}

#[tokio::test(start_paused = true)]
async fn publishing_and_signing_at_once_refuses_valid_tokens() {
    let services = services().await;
    tokio::time::sleep(Duration::from_secs(17)).await;
    let next = SigningKey::generate_ed25519().unwrap();
    let kid = next.kid().to_owned();
    services.keys.publish(next.verifying_key()).unwrap();
    services.keys.sign_with(next).unwrap();
    let (refused, _) = load(&services, 3 * MAX_AGE, &kid).await;
    assert!(
        refused > 0,
        "no refusal: this test cannot tell the two apart"
    );
}
