//! The bearer layer's verified-token cache (on by default) never serves what a full
//! verification would refuse: an expired token, a revoked one (token, session, "log out
//! everywhere", a session revoked for refresh-token reuse), one signed by a key that was
//! retired or replaced, or one without the scopes of the layer. Each case first has the token
//! accepted (and so kept), then changes the world, on the mock clock.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::needless_pass_by_value
)]

mod common;

use std::convert::Infallible;

use axum::body::Body;
use common::*;
use http::{Request, Response, StatusCode, header};
use tower::{Layer, ServiceExt, service_fn, util::BoxCloneService};
use tower_jwt_auth::{BearerAuthLayer, Claims, KeySet, SigningKey, TokenPair};

type Service = BoxCloneService<Request<Body>, Response<Body>, Infallible>;

/// The service of `layer`: its clones share the layer's cache.
fn service(layer: BearerAuthLayer<Profile>) -> Service {
    BoxCloneService::new(
        layer
            .layer(service_fn(|req: Request<Body>| async move {
                let claims = req
                    .extensions()
                    .get::<std::sync::Arc<Claims<Profile>>>()
                    .unwrap();
                Ok::<_, Infallible>(Response::new(Body::from(claims.sub.clone())))
            }))
            .map_response(|r| r.map(Body::new)),
    )
}

fn layer(env: &Env) -> BearerAuthLayer<Profile> {
    BearerAuthLayer::new(env.issuer.verifier().clone()).with_claims::<Profile>()
}

async fn status(service: &Service, token: &str) -> StatusCode {
    let request = Request::get("/")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    service.clone().oneshot(request).await.unwrap().status()
}

async fn login(env: &Env, scope: &str) -> TokenPair {
    env.sessions
        .start_with_claims("alice", scope, &profile())
        .await
        .unwrap()
}

/// Accepted twice: the second time from the cache.
async fn kept(service: &Service, pair: &TokenPair) {
    for _ in 0..2 {
        assert_eq!(status(service, pair.access_token()).await, StatusCode::OK);
    }
}

#[tokio::test]
async fn a_kept_token_expires_on_the_clock() {
    let env = env();
    let service = service(layer(&env));
    let pair = login(&env, "").await;
    kept(&service, &pair).await;
    env.advance(899);
    assert_eq!(status(&service, pair.access_token()).await, StatusCode::OK);
    env.advance(1);
    assert_eq!(
        status(&service, pair.access_token()).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_kept_token_is_refused_once_revoked_in_any_way() {
    let env = env();
    let service = service(layer(&env));

    // Its session logged out.
    let pair = login(&env, "").await;
    kept(&service, &pair).await;
    env.sessions.logout(pair.session_id()).await.unwrap();
    assert_eq!(
        status(&service, pair.access_token()).await,
        StatusCode::UNAUTHORIZED
    );

    // The token itself revoked (RFC 7009).
    let pair = login(&env, "").await;
    kept(&service, &pair).await;
    env.sessions.revoke(pair.access_token()).await.unwrap();
    assert_eq!(
        status(&service, pair.access_token()).await,
        StatusCode::UNAUTHORIZED
    );

    // Its session revoked because its refresh token was presented twice.
    let pair = login(&env, "").await;
    kept(&service, &pair).await;
    let next = env.sessions.refresh(pair.refresh_token()).await.unwrap();
    kept(&service, &next).await;
    env.advance(61);
    assert!(env.sessions.refresh(pair.refresh_token()).await.is_err());
    for token in [pair.access_token(), next.access_token()] {
        assert_eq!(status(&service, token).await, StatusCode::UNAUTHORIZED);
    }

    // Every session of the subject ("log out everywhere").
    env.advance(1);
    let pair = login(&env, "").await;
    kept(&service, &pair).await;
    env.advance(1);
    env.sessions.logout_all("alice").await.unwrap();
    assert_eq!(
        status(&service, pair.access_token()).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_kept_token_is_refused_once_its_key_is_retired_or_replaced() {
    let env = env();
    let keys: &KeySet = env.issuer.keys();
    let service = service(layer(&env));
    let old = login(&env, "").await;
    kept(&service, &old).await;

    // Publishing another key changes nothing for the token (verified again, accepted).
    let next = SigningKey::generate_ed25519().unwrap();
    keys.publish(next.verifying_key()).unwrap();
    kept(&service, &old).await;

    // Rotation: signed by the next key from now on; the old key still verifies.
    keys.sign_with(next).unwrap();
    kept(&service, &old).await;
    let new = login(&env, "").await;
    kept(&service, &new).await;

    // Retired: its tokens are refused, kept or not.
    keys.retire(&env.kid).unwrap();
    assert_eq!(
        status(&service, old.access_token()).await,
        StatusCode::UNAUTHORIZED
    );
    kept(&service, &new).await;

    // Replaced: another key under the same `kid` does not verify the kept token.
    let new_kid = keys.signing_kid().unwrap();
    keys.sign_with(SigningKey::generate_ed25519().unwrap())
        .unwrap();
    let impostor = SigningKey::generate_ed25519()
        .unwrap()
        .with_kid(new_kid.clone())
        .unwrap();
    keys.retire(&new_kid).unwrap();
    keys.publish(impostor.verifying_key()).unwrap();
    assert_eq!(
        status(&service, new.access_token()).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn scopes_are_checked_on_every_request_and_per_layer() {
    let env = env();
    let plain = layer(&env);
    let read = service(plain.require_scope(["read"]));
    let admin = service(plain.require_scope(["admin"]));
    let plain = service(plain);

    let reader = login(&env, "read").await;
    let nobody = login(&env, "").await;
    for _ in 0..2 {
        assert_eq!(status(&plain, reader.access_token()).await, StatusCode::OK);
        assert_eq!(status(&read, reader.access_token()).await, StatusCode::OK);
        assert_eq!(
            status(&admin, reader.access_token()).await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(status(&plain, nobody.access_token()).await, StatusCode::OK);
        assert_eq!(
            status(&read, nobody.access_token()).await,
            StatusCode::FORBIDDEN
        );
    }
}

#[tokio::test]
async fn failures_are_never_kept() {
    let env = env();
    let service = service(layer(&env));

    // Not valid yet: refused, then accepted once valid (nothing of the refusal stayed), and
    // refused again once expired.
    let mut claims = env.claims();
    claims["nbf"] = (env.clock_secs() + 60).into();
    let early = env.forge("at+jwt", &claims);
    assert_eq!(status(&service, &early).await, StatusCode::UNAUTHORIZED);
    env.advance(60);
    assert_eq!(status(&service, &early).await, StatusCode::OK);

    // Refused tokens stay refused: a refresh token, a bad signature.
    let pair = login(&env, "").await;
    let mut forged = pair.access_token().to_owned();
    forged.truncate(forged.len() - 4);
    forged.push_str("AAAA");
    for _ in 0..2 {
        assert_eq!(
            status(&service, pair.refresh_token()).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(status(&service, &forged).await, StatusCode::UNAUTHORIZED);
    }
    kept(&service, &pair).await;
}

#[tokio::test]
async fn without_the_cache_and_with_tiny_caches_the_answers_are_the_same() {
    let env = env();
    let pair = login(&env, "").await;
    for layer in [
        layer(&env).without_cache(),
        layer(&env).with_cache_capacity(1),
        layer(&env).with_cache_max_token_len(16),
    ] {
        let service = service(layer);
        kept(&service, &pair).await;
    }
    let service = service(layer(&env).with_cache_capacity(1));
    let other = login(&env, "").await;
    kept(&service, &other).await;
    kept(&service, &pair).await;
    env.sessions.logout(pair.session_id()).await.unwrap();
    assert_eq!(
        status(&service, pair.access_token()).await,
        StatusCode::UNAUTHORIZED
    );
    kept(&service, &other).await;
}

#[tokio::test]
async fn shared_claims_are_the_kept_ones_and_optional_mode_still_works() {
    use axum::{Router, routing::get};
    use http_body_util::BodyExt;
    use tower_jwt_auth::axum::SharedClaims;

    let env = env();
    let app: Router = Router::new()
        .route(
            "/",
            get(|claims: Option<SharedClaims<Profile>>| async move {
                claims.map_or("anonymous".to_owned(), |c| {
                    format!("{} {:p}", c.sub, std::sync::Arc::as_ptr(&c.0))
                })
            }),
        )
        .route_layer(layer(&env).optional());
    let pair = login(&env, "").await;
    let mut bodies = Vec::new();
    for auth in [Some(pair.access_token()), Some(pair.access_token()), None] {
        let mut request = Request::get("/");
        if let Some(token) = auth {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let response = app
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        bodies.push(String::from_utf8(body.to_vec()).unwrap());
    }
    assert!(bodies[0].starts_with("alice "));
    assert_eq!(bodies[0], bodies[1], "both requests share the kept claims");
    assert_eq!(bodies[2], "anonymous");
}
