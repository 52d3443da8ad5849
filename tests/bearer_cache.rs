//! The bearer layer's verified-token cache (on by default) never serves what a full
//! verification would refuse: an expired token, a revoked one (token, session, "log out
//! everywhere", a session revoked for refresh-token reuse), one signed by a key that was
//! retired or replaced, or one without the scopes of the layer.
//!
//! Every case is differential: each request goes to the layer with its cache and to the same
//! layer without one, and both must answer alike. The hits are counted too: a hit hands the
//! service the very claims (the same `Arc`) of an earlier request for the token, a full
//! verification new ones. Each case first has a token accepted twice (the second time a hit),
//! then changes the world, on the mock clock.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::needless_pass_by_value
)]

mod common;

use std::{
    convert::Infallible,
    sync::{Arc, Mutex},
};

use axum::body::Body;
use common::*;
use http::{Request, Response, StatusCode, header};
use tower::{Layer, ServiceExt, service_fn, util::BoxCloneService};
use tower_jwt_auth::{BearerAuthLayer, Claims, KeySet, SigningKey, TokenPair};

type Service = BoxCloneService<Request<Body>, Response<Body>, Infallible>;

/// The service of `layer`: its clones share the layer's cache. The claims the layer handed
/// over come back in the response's extensions.
fn service(layer: BearerAuthLayer<Profile>) -> Service {
    BoxCloneService::new(
        layer
            .layer(service_fn(|req: Request<Body>| async move {
                let claims = req
                    .extensions()
                    .get::<Arc<Claims<Profile>>>()
                    .unwrap()
                    .clone();
                let mut response = Response::new(Body::from(claims.sub.clone()));
                response.extensions_mut().insert(claims);
                Ok::<_, Infallible>(response)
            }))
            .map_response(|r| r.map(Body::new)),
    )
}

fn layer(env: &Env) -> BearerAuthLayer<Profile> {
    BearerAuthLayer::new(env.issuer.verifier().clone()).with_claims::<Profile>()
}

async fn call(service: &Service, token: &str) -> (StatusCode, Option<Arc<Claims<Profile>>>) {
    let request = Request::get("/")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let response = service.clone().oneshot(request).await.unwrap();
    let claims = response.extensions().get::<Arc<Claims<Profile>>>().cloned();
    (response.status(), claims)
}

/// How an accepted request was served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Served {
    /// From the cache: the claims of an earlier request.
    Hit,
    /// Verified in full.
    Miss,
}
use Served::{Hit, Miss};

/// One layer, with its cache and without: every request goes to both.
struct Twins {
    cached: Service,
    plain: Service,
    /// Every claims value the cached layer handed out, by token: held, so that no other
    /// value can take its address.
    seen: Mutex<Vec<(String, Arc<Claims<Profile>>)>>,
    /// Hits and misses so far.
    tally: Mutex<(usize, usize)>,
}

impl Twins {
    fn new(cached: BearerAuthLayer<Profile>) -> Self {
        Self {
            plain: service(cached.clone().without_cache()),
            cached: service(cached),
            seen: Mutex::default(),
            tally: Mutex::default(),
        }
    }

    /// Asks both; they must agree. For an accepted request, also how the cached layer served
    /// it.
    async fn ask(&self, token: &str) -> (StatusCode, Option<Served>) {
        let (plain, plain_claims) = call(&self.plain, token).await;
        let (cached, cached_claims) = call(&self.cached, token).await;
        assert_eq!(cached, plain, "the cache changed the answer");
        let (Some(plain_claims), Some(claims)) = (plain_claims, cached_claims) else {
            return (cached, None);
        };
        assert_eq!(*claims, *plain_claims, "the cache changed the claims");
        let mut seen = self.seen.lock().unwrap();
        assert!(
            !seen.iter().any(|(_, c)| Arc::ptr_eq(c, &plain_claims)),
            "the layer without a cache reused claims"
        );
        let hit = seen
            .iter()
            .any(|(t, c)| t == token && Arc::ptr_eq(c, &claims));
        let mut tally = self.tally.lock().unwrap();
        if hit {
            tally.0 += 1;
        } else {
            tally.1 += 1;
            seen.push((token.to_owned(), claims));
        }
        (cached, Some(if hit { Hit } else { Miss }))
    }

    async fn status(&self, token: &str) -> StatusCode {
        self.ask(token).await.0
    }

    /// Accepted twice: the second time from the cache.
    async fn kept(&self, pair: &TokenPair) {
        let (status, _) = self.ask(pair.access_token()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            self.ask(pair.access_token()).await,
            (StatusCode::OK, Some(Hit))
        );
    }

    /// (hits, misses) so far.
    fn tally(&self) -> (usize, usize) {
        *self.tally.lock().unwrap()
    }
}

async fn login(env: &Env, scope: &str) -> TokenPair {
    env.sessions
        .start_with_claims("alice", scope, &profile())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_kept_token_expires_on_the_clock() {
    let env = env();
    let twins = Twins::new(layer(&env));
    let pair = login(&env, "").await;
    twins.kept(&pair).await;
    env.advance(899);
    assert_eq!(
        twins.ask(pair.access_token()).await,
        (StatusCode::OK, Some(Hit))
    );
    env.advance(1);
    assert_eq!(
        twins.status(pair.access_token()).await,
        StatusCode::UNAUTHORIZED
    );
    // Dropped once expired: nothing of it is served again.
    env.clock.set_secs(T0);
    assert_eq!(
        twins.ask(pair.access_token()).await,
        (StatusCode::OK, Some(Miss))
    );
    assert_eq!(twins.tally(), (2, 2));
}

#[tokio::test]
async fn a_kept_token_is_refused_once_revoked_in_any_way() {
    let env = env();
    let twins = Twins::new(layer(&env));

    // Its session logged out.
    let pair = login(&env, "").await;
    twins.kept(&pair).await;
    env.sessions.logout(pair.session_id()).await.unwrap();
    assert_eq!(
        twins.status(pair.access_token()).await,
        StatusCode::UNAUTHORIZED
    );

    // The token itself revoked (RFC 7009).
    let pair = login(&env, "").await;
    twins.kept(&pair).await;
    env.sessions.revoke(pair.access_token()).await.unwrap();
    assert_eq!(
        twins.status(pair.access_token()).await,
        StatusCode::UNAUTHORIZED
    );

    // Its session revoked because its refresh token was presented twice.
    let pair = login(&env, "").await;
    twins.kept(&pair).await;
    let next = env.sessions.refresh(pair.refresh_token()).await.unwrap();
    twins.kept(&next).await;
    env.advance(61);
    assert!(env.sessions.refresh(pair.refresh_token()).await.is_err());
    for token in [pair.access_token(), next.access_token()] {
        assert_eq!(twins.status(token).await, StatusCode::UNAUTHORIZED);
    }

    // Every session of the subject ("log out everywhere").
    env.advance(1);
    let pair = login(&env, "").await;
    twins.kept(&pair).await;
    env.advance(1);
    env.sessions.logout_all("alice").await.unwrap();
    assert_eq!(
        twins.status(pair.access_token()).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(twins.tally(), (5, 5));
}

#[tokio::test]
async fn a_kept_token_is_refused_once_its_key_is_retired_or_replaced() {
    let env = env();
    let keys: &KeySet = env.issuer.keys();
    let twins = Twins::new(layer(&env));
    let old = login(&env, "").await;
    twins.kept(&old).await;

    // Publishing another key changes nothing for the token, but it is verified again.
    let next = SigningKey::generate_ed25519().unwrap();
    keys.publish(next.verifying_key()).unwrap();
    assert_eq!(
        twins.ask(old.access_token()).await,
        (StatusCode::OK, Some(Miss))
    );
    twins.kept(&old).await;

    // Rotation: signed by the next key from now on; the old key still verifies.
    keys.sign_with(next).unwrap();
    twins.kept(&old).await;
    let new = login(&env, "").await;
    twins.kept(&new).await;

    // Retired: its tokens are refused, kept or not.
    keys.retire(&env.kid).unwrap();
    assert_eq!(
        twins.status(old.access_token()).await,
        StatusCode::UNAUTHORIZED
    );
    twins.kept(&new).await;

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
        twins.status(new.access_token()).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn scopes_are_checked_on_every_request_and_per_layer() {
    let env = env();
    let plain = layer(&env);
    let read = Twins::new(plain.require_scope(["read"]));
    let admin = Twins::new(plain.require_scope(["admin"]));
    let plain = Twins::new(plain);

    let reader = login(&env, "read").await;
    let nobody = login(&env, "").await;
    for _ in 0..2 {
        assert_eq!(plain.status(reader.access_token()).await, StatusCode::OK);
        assert_eq!(read.status(reader.access_token()).await, StatusCode::OK);
        assert_eq!(
            admin.status(reader.access_token()).await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(plain.status(nobody.access_token()).await, StatusCode::OK);
        assert_eq!(
            read.status(nobody.access_token()).await,
            StatusCode::FORBIDDEN
        );
    }
    assert_eq!(plain.tally(), (2, 2));
    assert_eq!(read.tally(), (1, 1));
}

#[tokio::test]
async fn failures_are_never_kept() {
    let env = env();
    let twins = Twins::new(layer(&env));

    // Not valid yet: refused, then accepted once valid (nothing of the refusal stayed), and
    // refused again once expired.
    let mut claims = env.claims();
    claims["nbf"] = (env.clock_secs() + 60).into();
    let early = env.forge("at+jwt", &claims);
    assert_eq!(twins.status(&early).await, StatusCode::UNAUTHORIZED);
    env.advance(60);
    assert_eq!(twins.ask(&early).await, (StatusCode::OK, Some(Miss)));

    // Refused tokens stay refused: a refresh token, a bad signature.
    let pair = login(&env, "").await;
    let mut forged = pair.access_token().to_owned();
    forged.truncate(forged.len() - 4);
    forged.push_str("AAAA");
    for _ in 0..2 {
        assert_eq!(
            twins.status(pair.refresh_token()).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(twins.status(&forged).await, StatusCode::UNAUTHORIZED);
    }
    twins.kept(&pair).await;
    assert_eq!(twins.tally(), (1, 2));
}

#[tokio::test]
async fn tiny_caches_answer_the_same_and_a_size_cap_keeps_nothing_longer() {
    let env = env();
    let pair = login(&env, "").await;

    // Tokens longer than the cap are verified every time.
    let capped = Twins::new(layer(&env).with_cache_max_token_len(16));
    for _ in 0..3 {
        assert_eq!(
            capped.ask(pair.access_token()).await,
            (StatusCode::OK, Some(Miss))
        );
    }

    // One token kept at a time: whatever is evicted, the answers are the same.
    let twins = Twins::new(layer(&env).with_cache_capacity(1));
    twins.kept(&pair).await;
    let other = login(&env, "").await;
    for _ in 0..3 {
        for token in [pair.access_token(), other.access_token()] {
            assert_eq!(twins.status(token).await, StatusCode::OK);
        }
    }
    env.sessions.logout(pair.session_id()).await.unwrap();
    assert_eq!(
        twins.status(pair.access_token()).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(twins.status(other.access_token()).await, StatusCode::OK);
    let (hits, misses) = twins.tally();
    assert!(hits >= 1 && misses >= 2, "{hits} hits, {misses} misses");
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
                    format!("{} {:p}", c.sub, Arc::as_ptr(&c.0))
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
