//! Key rotation while the service runs, over HTTP: one call switches the signing key for the
//! issuer, the bearer layer and the JWKS endpoint at once, and no session or revocation is
//! lost on the way.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use axum::{
    Json, Router,
    body::Body,
    http::{Request, StatusCode, header},
    response::Response,
    routing::{get, get_service},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use tower_jwt_auth::{
    BearerAuthLayer, Claims, Issuer, KeySet, Sessions, SigningKey, TokenPair, clock::MockClock,
    endpoints::JwksService, token_routes,
};

const T0: u64 = 1_800_000_000;
const ACCESS_TTL: u64 = 300;
const REFRESH_TTL: u64 = 3600;

struct Service {
    app: Router,
    issuer: Issuer,
    keys: KeySet,
    clock: MockClock,
}

fn service() -> Service {
    let clock = MockClock::at_secs(T0);
    let keys = KeySet::new(SigningKey::generate_ed25519().unwrap());
    let issuer = Issuer::builder(keys.clone())
        .with_clock(clock.clone())
        .with_access_ttl(Duration::from_secs(ACCESS_TTL))
        .with_refresh_ttl(Duration::from_secs(REFRESH_TTL))
        .build()
        .unwrap();
    let auth = BearerAuthLayer::new(&issuer);
    let app = Router::new()
        .route("/me", get(|claims: Claims| async move { Json(claims.sub) }))
        .route_layer(auth.clone())
        .nest("/auth", token_routes(Sessions::new(issuer.clone()), &auth))
        .route(
            "/.well-known/jwks.json",
            get_service(JwksService::new(issuer.keys())),
        );
    Service {
        app,
        issuer,
        keys,
        clock,
    }
}

impl Service {
    async fn send(&self, request: Request<Body>) -> Response {
        self.app.clone().oneshot(request).await.unwrap()
    }

    async fn me(&self, pair: &TokenPair) -> StatusCode {
        let request = Request::get("/me")
            .header(
                header::AUTHORIZATION,
                format!("Bearer {}", pair.access_token()),
            )
            .body(Body::empty())
            .unwrap();
        self.send(request).await.status()
    }

    async fn refresh(&self, pair: &TokenPair) -> Result<TokenPair, StatusCode> {
        let request = Request::post("/auth/refresh")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!(
                "grant_type=refresh_token&refresh_token={}",
                pair.refresh_token()
            )))
            .unwrap();
        let response = self.send(request).await;
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        if status == StatusCode::OK {
            Ok(serde_json::from_slice(&body).unwrap())
        } else {
            Err(status)
        }
    }

    async fn logout(&self, pair: &TokenPair) -> StatusCode {
        let request = Request::post("/auth/logout")
            .header(
                header::AUTHORIZATION,
                format!("Bearer {}", pair.access_token()),
            )
            .body(Body::empty())
            .unwrap();
        self.send(request).await.status()
    }

    async fn published_kids(&self) -> Vec<String> {
        let response = self
            .send(
                Request::get("/.well-known/jwks.json")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let jwks: Value = serde_json::from_slice(&body).unwrap();
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// The `kid` a token's header names.
fn kid(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_rotation_at_run_time_keeps_every_token_session_and_revocation() {
    let s = service();
    let old_kid = s.keys.signing_kid().unwrap();
    let refreshed = Sessions::new(s.issuer.clone())
        .start("alice")
        .await
        .unwrap();
    let logged_out = Sessions::new(s.issuer.clone()).start("bob").await.unwrap();
    let waiting = Sessions::new(s.issuer.clone())
        .start("carol")
        .await
        .unwrap();
    assert_eq!(s.logout(&logged_out).await, StatusCode::NO_CONTENT);
    let rotated_before = s.refresh(&refreshed).await.unwrap();

    // 1. Publish the next key: in the JWKS at once, not signing yet.
    let next = SigningKey::generate_ed25519().unwrap();
    let next_kid = next.kid().to_owned();
    s.keys.publish(next.verifying_key()).unwrap();
    assert_eq!(
        s.published_kids().await,
        [old_kid.clone(), next_kid.clone()]
    );
    assert_eq!(
        kid(Sessions::new(s.issuer.clone())
            .start("dave")
            .await
            .unwrap()
            .access_token()),
        old_kid
    );

    // 2. Switch: one call; the issuer signs with the new key from now on.
    s.keys.sign_with(next).unwrap();
    let fresh = Sessions::new(s.issuer.clone()).start("erin").await.unwrap();
    assert_eq!(kid(fresh.access_token()), next_kid);
    assert_eq!(kid(fresh.refresh_token()), next_kid);
    assert_eq!(s.me(&fresh).await, StatusCode::OK);

    // Tokens signed with the old key still work until they expire ...
    assert_eq!(s.me(&rotated_before).await, StatusCode::OK);
    assert_eq!(s.me(&waiting).await, StatusCode::OK);
    // ... a logged-out one stays refused ...
    assert_eq!(s.me(&logged_out).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        s.refresh(&logged_out).await.unwrap_err(),
        StatusCode::BAD_REQUEST
    );
    // ... a consumed refresh token stays consumed (reuse ends the session) ...
    assert_eq!(
        s.refresh(&refreshed).await.unwrap_err(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(s.me(&rotated_before).await, StatusCode::UNAUTHORIZED);
    // ... and an old refresh token refreshes into a pair signed with the new key.
    let moved_on = s.refresh(&waiting).await.unwrap();
    assert_eq!(kid(moved_on.access_token()), next_kid);
    assert_eq!(s.me(&moved_on).await, StatusCode::OK);

    // Old access tokens expire on their own time.
    s.clock.advance(Duration::from_secs(ACCESS_TTL));
    assert_eq!(s.me(&waiting).await, StatusCode::UNAUTHORIZED);

    // 3. Retire the old key once every token it signed has expired.
    s.clock.advance(Duration::from_secs(REFRESH_TTL));
    s.keys.retire(&old_kid).unwrap();
    assert_eq!(s.published_kids().await, [next_kid]);
    let later = Sessions::new(s.issuer.clone())
        .start("frank")
        .await
        .unwrap();
    assert_eq!(s.me(&later).await, StatusCode::OK);
}

#[tokio::test]
async fn a_resource_server_verifies_with_a_verify_only_set_from_the_issuers_jwks() {
    let s = service();
    let pair = Sessions::new(s.issuer.clone())
        .start("alice")
        .await
        .unwrap();
    let response = s
        .send(
            Request::get("/.well-known/jwks.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let keys = KeySet::from_jwks(&serde_json::from_slice(&body).unwrap()).unwrap();
    assert_eq!(keys.signing_kid(), None);
    let verifier = tower_jwt_auth::Verifier::builder(keys)
        .with_clock(s.clock.clone())
        .build()
        .unwrap();
    let claims: Claims = verifier.verify_access(pair.access_token()).unwrap();
    assert_eq!(claims.sub, "alice");
    // A verify-only set cannot mint.
    let err = Issuer::builder(verifier.keys().clone())
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("signing key"), "{err}");
}
