//! Several issuers on one layer (`Verifier::for_issuers`): each token is verified by its own
//! issuer's verifier alone — keys, audience, revocation — so that one issuer's key never
//! verifies a token claiming another, on a first verification as on a cache hit.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::{Router, body::Body, http::Request, routing::get};
use http::StatusCode;
use tower::ServiceExt;
use tower_jwt_auth::{
    BearerAuthLayer, Claims, ConfigError, Issuer, KeySet, Sessions, SigningKey, Verifier,
    token::{NoCustomClaims, TokenError},
};

const STAFF: &str = "https://staff.example";
const CUSTOMERS: &str = "https://customers.example";

fn issuer(keys: &KeySet, iss: &str, aud: &str) -> Issuer {
    Issuer::builder(keys.clone())
        .with_issuer(iss)
        .with_audience(aud)
        .build()
        .unwrap()
}

fn keys() -> KeySet {
    KeySet::new(SigningKey::generate_ed25519().unwrap())
}

struct Two {
    staff: Issuer,
    customers: Issuer,
    both: Verifier,
}

fn two() -> Two {
    let staff = issuer(&keys(), STAFF, "api");
    let customers = issuer(&keys(), CUSTOMERS, "api");
    let both =
        Verifier::for_issuers([staff.verifier().clone(), customers.verifier().clone()]).unwrap();
    Two {
        staff,
        customers,
        both,
    }
}

fn verify(verifier: &Verifier, token: &str) -> Result<Claims, TokenError> {
    verifier.verify_access::<NoCustomClaims>(token)
}

#[tokio::test]
async fn each_issuers_tokens_are_accepted() {
    let two = two();
    for (issuer, iss) in [(&two.staff, STAFF), (&two.customers, CUSTOMERS)] {
        let pair = Sessions::new(issuer.clone()).start("alice").await.unwrap();
        let claims = verify(&two.both, pair.access_token()).unwrap();
        assert_eq!(claims.iss.as_deref(), Some(iss));
    }
}

#[tokio::test]
async fn a_key_of_one_issuer_never_verifies_a_token_claiming_another() {
    let two = two();
    // Signed with the staff issuer's key, claiming to come from the customers' issuer.
    let impostor = issuer(two.staff.keys(), CUSTOMERS, "api");
    let pair = Sessions::new(impostor).start("mallory").await.unwrap();
    assert_eq!(
        verify(&two.both, pair.access_token()).unwrap_err(),
        TokenError::UnknownKey
    );
    // The other way round too.
    let impostor = issuer(two.customers.keys(), STAFF, "api");
    let pair = Sessions::new(impostor).start("mallory").await.unwrap();
    assert_eq!(
        verify(&two.both, pair.access_token()).unwrap_err(),
        TokenError::UnknownKey
    );
}

#[tokio::test]
async fn each_issuer_keeps_its_own_audience_and_unknown_issuers_are_refused() {
    let staff = issuer(&keys(), STAFF, "api");
    let customers = issuer(&keys(), CUSTOMERS, "shop");
    let both =
        Verifier::for_issuers([staff.verifier().clone(), customers.verifier().clone()]).unwrap();
    let pair = Sessions::new(customers.clone())
        .start("carol")
        .await
        .unwrap();
    assert!(verify(&both, pair.access_token()).is_ok());
    // A customers' token minted for the staff audience: the customers' verifier wants "shop".
    let wrong_audience = issuer(customers.keys(), CUSTOMERS, "api");
    let pair = Sessions::new(wrong_audience).start("carol").await.unwrap();
    assert_eq!(
        verify(&both, pair.access_token()).unwrap_err(),
        TokenError::InvalidAudience
    );
    let stranger = issuer(&keys(), "https://other.example", "api");
    let pair = Sessions::new(stranger).start("eve").await.unwrap();
    assert_eq!(
        verify(&both, pair.access_token()).unwrap_err(),
        TokenError::InvalidIssuer
    );
    let anonymous = Issuer::builder(keys())
        .with_audience("api")
        .build()
        .unwrap();
    let pair = Sessions::new(anonymous).start("eve").await.unwrap();
    assert_eq!(
        verify(&both, pair.access_token()).unwrap_err(),
        TokenError::MissingClaim("iss")
    );
    assert!(verify(&both, "not.a.token").is_err());
}

async fn status(app: &Router, token: &str) -> StatusCode {
    let request = Request::get("/me")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    app.clone().oneshot(request).await.unwrap().status()
}

#[tokio::test]
async fn a_logout_at_either_issuer_holds_on_the_layer_cache_hits_included() {
    let two = two();
    let app = Router::new()
        .route("/me", get(|claims: Claims| async move { claims.sub }))
        .route_layer(BearerAuthLayer::new(two.both.clone()));
    for issuer in [&two.staff, &two.customers] {
        let sessions = Sessions::new(issuer.clone());
        let pair = sessions.start("alice").await.unwrap();
        assert_eq!(status(&app, pair.access_token()).await, StatusCode::OK);
        // Verified once: the next request is a cache hit, checked against its own store.
        assert_eq!(status(&app, pair.access_token()).await, StatusCode::OK);
        sessions.logout(pair.session_id()).await.unwrap();
        assert_eq!(
            status(&app, pair.access_token()).await,
            StatusCode::UNAUTHORIZED
        );
    }
}

#[test]
fn several_issuers_need_distinct_named_issuers() {
    let staff = issuer(&keys(), STAFF, "api");
    let unnamed = Verifier::builder(keys()).build().unwrap();
    let conflict = |result: Result<Verifier, ConfigError>| {
        assert!(matches!(result, Err(ConfigError::Conflict(_))));
    };
    conflict(Verifier::for_issuers([staff.verifier().clone(), unnamed]));
    conflict(Verifier::for_issuers([
        staff.verifier().clone(),
        issuer(&keys(), STAFF, "other").verifier().clone(),
    ]));
    conflict(Verifier::for_issuers([]));
    let both = Verifier::for_issuers([
        staff.verifier().clone(),
        issuer(&keys(), CUSTOMERS, "api").verifier().clone(),
    ])
    .unwrap();
    conflict(Verifier::for_issuers([both]));
}
