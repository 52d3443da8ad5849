//! Rules beyond a valid token on one layer: any-of scopes, a predicate on the typed claims,
//! and the application's own check with its own error as the response; all checked on every
//! request, tokens served by the verified-token cache included.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::{
    convert::Infallible,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use axum::body::Body;
use bytes::Bytes;
use common::*;
use http::{Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use tower::{Layer, ServiceExt, service_fn, util::BoxCloneService};
use tower_jwt_auth::{
    BearerAuthLayer, Claims,
    bearer::{AuthError, Denied, EmptyBodyRejection, OnRejection},
};

type Service = BoxCloneService<Request<Body>, Response<Body>, Infallible>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Staff {
    tenant: String,
}

/// The service of `layer`: the claims it handed over come back in the response's
/// extensions, so that a test can tell a cache hit (the same `Arc`) from a full verification.
fn service<T, R>(layer: &BearerAuthLayer<T, R>) -> Service
where
    T: serde::de::DeserializeOwned + Clone + Send + Sync + 'static,
    R: OnRejection,
{
    BoxCloneService::new(
        layer
            .layer(service_fn(|req: Request<Body>| async move {
                let claims = req.extensions().get::<Arc<Claims<T>>>().unwrap().clone();
                let mut response = Response::new(Body::empty());
                response.extensions_mut().insert(claims);
                Ok::<_, Infallible>(response)
            }))
            .map_response(|r| r.map(Body::new)),
    )
}

async fn call(service: &Service, token: &str) -> Response<Body> {
    let request = Request::get("/")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    service.clone().oneshot(request).await.unwrap()
}

async fn status(service: &Service, token: &str) -> StatusCode {
    call(service, token).await.status()
}

fn challenge(response: &Response<Body>) -> Option<&str> {
    response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap())
}

async fn body(response: Response<Body>) -> Bytes {
    response.into_body().collect().await.unwrap().to_bytes()
}

async fn token_with_scope(env: &Env, scope: &str) -> String {
    env.sessions
        .start_with_scope("alice", scope)
        .await
        .unwrap()
        .access_token()
        .to_owned()
}

async fn token_of_tenant(env: &Env, tenant: &str) -> String {
    env.sessions
        .start_with_claims(
            "alice",
            "",
            &Staff {
                tenant: tenant.into(),
            },
        )
        .await
        .unwrap()
        .access_token()
        .to_owned()
}

fn plain(env: &Env) -> BearerAuthLayer {
    BearerAuthLayer::new(env.issuer.verifier().clone())
}

fn staff(env: &Env) -> BearerAuthLayer<Staff> {
    plain(env).with_claims::<Staff>()
}

#[tokio::test]
async fn any_of_the_scopes_is_enough_and_none_is_refused_naming_them() {
    let env = env();
    let svc = service(&plain(&env).require_any_scope(["read", "admin"]));

    for scope in ["read", "admin", "admin other", "other read"] {
        let token = token_with_scope(&env, scope).await;
        assert_eq!(status(&svc, &token).await, StatusCode::OK, "{scope}");
    }
    for scope in ["", "other", "reader write"] {
        let token = token_with_scope(&env, scope).await;
        let response = call(&svc, &token).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{scope}");
        assert_eq!(
            challenge(&response).unwrap(),
            r#"Bearer error="insufficient_scope", error_description="the token lacks a required scope", scope="read admin""#
        );
    }
}

#[tokio::test]
async fn every_rule_of_a_layer_must_pass() {
    let env = env();
    // (read and write) and (admin or owner)
    let svc = service(
        &plain(&env)
            .require_scope(["read"])
            .require_scope(["write"])
            .require_any_scope(["admin", "owner"]),
    );
    for (scope, expected) in [
        ("read write admin", StatusCode::OK),
        ("read write owner", StatusCode::OK),
        ("read write", StatusCode::FORBIDDEN),
        ("read admin", StatusCode::FORBIDDEN),
        ("write owner", StatusCode::FORBIDDEN),
    ] {
        let token = token_with_scope(&env, scope).await;
        assert_eq!(status(&svc, &token).await, expected, "{scope}");
    }
    // The missing all-of scopes are named first.
    let token = token_with_scope(&env, "admin").await;
    let response = call(&svc, &token).await;
    assert!(
        challenge(&response)
            .unwrap()
            .ends_with(r#"scope="read write""#)
    );

    // An any-of rule without any scope is passed by no token.
    let svc = service(&plain(&env).require_any_scope(Vec::<String>::new()));
    let token = token_with_scope(&env, "read").await;
    assert_eq!(status(&svc, &token).await, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_predicate_on_a_custom_claim_sees_the_typed_claims() {
    let env = env();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let layer = {
        let seen = seen.clone();
        staff(&env).require(move |claims: &Claims<Staff>| {
            seen.lock().unwrap().push(claims.custom.clone());
            claims.custom.tenant == "acme"
        })
    };
    let svc = service(&layer);

    let acme = token_of_tenant(&env, "acme").await;
    let response = call(&svc, &acme).await;
    assert_eq!(response.status(), StatusCode::OK);
    let claims = response.extensions().get::<Arc<Claims<Staff>>>().unwrap();
    assert_eq!(claims.custom.tenant, "acme");

    let globex = token_of_tenant(&env, "globex").await;
    let response = call(&svc, &globex).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // insufficient_scope, and no scope to name.
    assert_eq!(
        challenge(&response).unwrap(),
        r#"Bearer error="insufficient_scope", error_description="the token lacks a required scope""#
    );
    assert_eq!(
        *seen.lock().unwrap(),
        [
            Staff {
                tenant: "acme".into()
            },
            Staff {
                tenant: "globex".into()
            }
        ]
    );

    // A token that is not valid never reaches the predicate.
    assert_eq!(status(&svc, "a.b.c").await, StatusCode::UNAUTHORIZED);
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[derive(Debug, thiserror::Error)]
#[error("this account belongs to another tenant")]
struct WrongTenant;

fn acme_only(claims: &Claims<Staff>) -> Result<(), Denied> {
    if claims.custom.tenant == "acme" {
        Ok(())
    } else {
        Err(Denied::new(WrongTenant).with_status(StatusCode::NOT_FOUND))
    }
}

#[tokio::test]
async fn the_applications_own_error_is_the_response() {
    let env = env();
    let acme = token_of_tenant(&env, "acme").await;
    let globex = token_of_tenant(&env, "globex").await;

    // Rendered by the application's rejection handler.
    let layer = staff(&env)
        .on_rejection(|err: &AuthError, realm: Option<&str>| match err {
            AuthError::Denied(denied) if denied.downcast_ref::<WrongTenant>().is_some() => {
                let mut response = Response::new(Bytes::from_static(b"<h1>wrong tenant</h1>"));
                *response.status_mut() = denied.status();
                response
            }
            _ => err.to_response(realm, Bytes::new()),
        })
        .check(acme_only);
    let svc = service(&layer);
    assert_eq!(status(&svc, &acme).await, StatusCode::OK);
    let response = call(&svc, &globex).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let refused = response.extensions().get::<AuthError>().unwrap().clone();
    assert_eq!(refused.reason(), "access_denied");
    assert_eq!(body(response).await, "<h1>wrong tenant</h1>");
    // The crate's own refusals still go through the same handler.
    assert_eq!(status(&svc, "a.b.c").await, StatusCode::UNAUTHORIZED);

    // The empty-body handler: the application's status, no challenge, no body.
    let svc = service(
        &staff(&env)
            .on_rejection(EmptyBodyRejection)
            .check(acme_only),
    );
    let response = call(&svc, &globex).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(challenge(&response), None);
    assert!(body(response).await.is_empty());

    // The default handler: the application's message as JSON; any error type converts (403).
    let svc = service(&staff(&env).check(|claims: &Claims<Staff>| {
        if claims.custom.tenant == "acme" {
            Ok(())
        } else {
            Err(WrongTenant)
        }
    }));
    let response = call(&svc, &globex).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        body(response).await,
        r#"{"error":"access_denied","error_description":"this account belongs to another tenant"}"#
    );
}

#[tokio::test]
async fn rules_are_checked_on_every_cache_hit() {
    let env = env();
    let allowed = Arc::new(AtomicBool::new(true));
    let layer = {
        let allowed = allowed.clone();
        staff(&env).require(move |_: &Claims<Staff>| allowed.load(Ordering::SeqCst))
    };
    let svc = service(&layer);
    let token = token_of_tenant(&env, "acme").await;

    let first = call(&svc, &token).await;
    assert_eq!(first.status(), StatusCode::OK);
    let second = call(&svc, &token).await;
    assert_eq!(second.status(), StatusCode::OK);
    let claims = |r: &Response<Body>| r.extensions().get::<Arc<Claims<Staff>>>().unwrap().clone();
    assert!(
        Arc::ptr_eq(&claims(&first), &claims(&second)),
        "the second request is a cache hit"
    );

    // The token is kept; the rule now refuses it.
    allowed.store(false, Ordering::SeqCst);
    assert_eq!(status(&svc, &token).await, StatusCode::FORBIDDEN);

    // The same for scopes: a kept token without the scope of a rule is refused.
    let scoped = token_with_scope(&env, "read").await;
    let plain_svc = service(&plain(&env).require_scope(["read"]));
    assert_eq!(status(&plain_svc, &scoped).await, StatusCode::OK);
    assert_eq!(status(&plain_svc, &scoped).await, StatusCode::OK);
    let stricter = service(
        &plain(&env)
            .require_scope(["read"])
            .require_any_scope(["admin"]),
    );
    assert_eq!(status(&stricter, &scoped).await, StatusCode::FORBIDDEN);
    assert_eq!(status(&stricter, &scoped).await, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_rule_layer_requires_a_token_even_from_an_optional_layer() {
    let env = env();
    let layer = staff(&env).optional().require(|_: &Claims<Staff>| true);
    let svc = service(&layer);
    let request = Request::get("/").body(Body::empty()).unwrap();
    let response = svc.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn checks_added_before_the_claims_type_changed_refuse_every_token() {
    let env = env();
    let layer = plain(&env)
        .require(|_: &Claims| true)
        .with_claims::<Staff>();
    let svc = service(&layer);
    let token = token_of_tenant(&env, "acme").await;
    assert_eq!(status(&svc, &token).await, StatusCode::FORBIDDEN);

    // Scope rules carry over.
    let layer = plain(&env).require_scope(["read"]).with_claims::<Staff>();
    let svc = service(&layer);
    assert_eq!(status(&svc, &token).await, StatusCode::FORBIDDEN);
    let scoped = env
        .sessions
        .start_with_claims(
            "alice",
            "read",
            &Staff {
                tenant: "acme".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(status(&svc, scoped.access_token()).await, StatusCode::OK);
}
