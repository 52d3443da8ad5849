//! Application claims survive every refresh, whatever the type parameters: the README's
//! `token_routes(Sessions::new(issuer), &auth.with_claims::<Tenant>())` keeps `tenant` in
//! every refreshed pair, and a refresh hook typed with other claims keeps or updates them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::{Json, Router, body::Body, routing::get};
use common::*;
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tower::ServiceExt;
use tower_jwt_auth::{
    BearerAuthLayer, Claims, Sessions, TokenPair,
    session::{RefreshDecision, RefreshError},
    token::NoCustomClaims,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Tenant {
    tenant: String,
}

fn acme() -> Tenant {
    Tenant {
        tenant: "acme".into(),
    }
}

async fn me(claims: Claims<Tenant>) -> Json<Value> {
    Json(serde_json::json!({ "sub": claims.sub, "tenant": claims.custom.tenant }))
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn refreshed(app: &Router, pair: &TokenPair) -> TokenPair {
    let (status, body) = send(
        app,
        Request::post("/auth/refresh")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                serde_json::json!({ "refresh_token": pair.refresh_token() }).to_string(),
            ))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_value(body).unwrap()
}

async fn get_me(app: &Router, pair: &TokenPair) -> (StatusCode, Value) {
    send(
        app,
        Request::get("/me")
            .header(
                header::AUTHORIZATION,
                format!("Bearer {}", pair.access_token()),
            )
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

/// The README's pattern, as a new user writes it: `Sessions::new` (no claims type named) and
/// a layer that reads `Tenant`.
#[tokio::test]
async fn login_then_three_refreshes_keep_the_custom_claims_through_token_routes() {
    let env = env();
    let auth = BearerAuthLayer::new(&env.issuer).with_claims::<Tenant>();
    let sessions = Sessions::new(env.issuer.clone());
    let app = Router::new()
        .route("/me", get(me))
        .route_layer(auth.clone())
        .nest(
            "/auth",
            tower_jwt_auth::token_routes(sessions.clone(), &auth),
        );

    let mut pair = sessions
        .start_with_claims("alice", "read", &acme())
        .await
        .unwrap();
    for round in 0..3 {
        let (status, body) = get_me(&app, &pair).await;
        assert_eq!(status, StatusCode::OK, "round {round}: {body}");
        assert_eq!(body["tenant"], "acme", "round {round}");
        // Fifteen minutes later the access token has expired: refresh.
        env.advance(901);
        assert_eq!(get_me(&app, &pair).await.0, StatusCode::UNAUTHORIZED);
        pair = refreshed(&app, &pair).await;
        assert_eq!(pair.scope(), "read");
    }
    let (status, body) = get_me(&app, &pair).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        serde_json::json!({ "sub": "alice", "tenant": "acme" })
    );
}

/// A hook typed with no claims of its own keeps the session's claims as they are.
#[tokio::test]
async fn a_hook_that_reads_other_claims_keeps_the_sessions_claims() {
    let env = env();
    let sessions = Sessions::builder(env.issuer.clone())
        .with_refresh_hook(|_: &Claims<NoCustomClaims>| async { Ok(RefreshDecision::Keep) })
        .build()
        .unwrap();
    let mut pair = sessions
        .start_with_claims("alice", "", &acme())
        .await
        .unwrap();
    for _ in 0..3 {
        pair = sessions.refresh(pair.refresh_token()).await.unwrap();
    }
    let claims: Claims<Tenant> = env
        .issuer
        .verifier()
        .verify_access(pair.access_token())
        .unwrap();
    assert_eq!(claims.custom, acme());
}

/// A hook reads the session's claims as its own type, and an update replaces them.
#[tokio::test]
async fn a_hook_reads_and_updates_the_claims_as_its_type() {
    let env = env();
    let sessions = Sessions::builder(env.issuer.clone())
        .with_refresh_hook(|claims: &Claims<Tenant>| {
            let moved = claims.custom.tenant == "acme";
            async move {
                Ok(if moved {
                    RefreshDecision::Update {
                        scope: "read".into(),
                        custom: Tenant {
                            tenant: "globex".into(),
                        },
                    }
                } else {
                    RefreshDecision::Keep
                })
            }
        })
        .build()
        .unwrap();
    let pair = sessions
        .start_with_claims("alice", "", &acme())
        .await
        .unwrap();
    let next = sessions.refresh(pair.refresh_token()).await.unwrap();
    let claims: Claims<Tenant> = env
        .issuer
        .verifier()
        .verify_access(next.access_token())
        .unwrap();
    assert_eq!(claims.custom.tenant, "globex");
    assert!(claims.has_scope("read"));
    let last = sessions.refresh(next.refresh_token()).await.unwrap();
    let claims: Claims<Tenant> = env
        .issuer
        .verifier()
        .verify_access(last.access_token())
        .unwrap();
    assert_eq!(claims.custom.tenant, "globex");
}

/// A session whose claims do not fit the hook's type fails as a server error, and its
/// refresh token is not used up: a fixed deployment can still refresh it.
#[tokio::test]
async fn claims_that_do_not_fit_the_hook_fail_without_using_up_the_token() {
    let env = env();
    let strict = Sessions::builder(env.issuer.clone())
        .with_refresh_hook(|_: &Claims<Tenant>| async { Ok(RefreshDecision::Keep) })
        .build()
        .unwrap();
    let pair = env.sessions.start("alice").await.unwrap();
    let err = strict.refresh(pair.refresh_token()).await.unwrap_err();
    assert!(matches!(err, RefreshError::ClaimsType(_)), "{err:?}");
    assert!(!err.is_invalid_grant());
    env.advance(1);
    env.sessions.refresh(pair.refresh_token()).await.unwrap();
}
