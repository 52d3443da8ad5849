//! RFC 7662 introspection at the issuer (`endpoints::IntrospectionService`): an authenticated
//! client learns whether an access token is active; revoked, expired, unknown, malformed and
//! refresh tokens are all `{"active":false}`; callers without the client's credentials learn
//! nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::{Engine, engine::general_purpose::STANDARD};
use common::{ISS, env};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::Value;
use tower::ServiceExt;
use tower_jwt_auth::endpoints::IntrospectionService;

const CLIENT: &str = "orders-api";
const SECRET: &str = "the orders API's secret";

fn service(env: &common::Env) -> IntrospectionService {
    IntrospectionService::new(env.issuer.verifier())
        .with_client("billing", "the billing service's secret")
        .unwrap()
        .with_client(CLIENT, SECRET)
        .unwrap()
}

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

/// POSTs `token=…` with `authorization`: the status, the headers and the JSON body (or
/// `Null`).
async fn ask(
    service: &IntrospectionService,
    authorization: Option<&str>,
    body: &str,
) -> (StatusCode, http::HeaderMap, Value) {
    let mut request =
        Request::post("/introspect").header("content-type", "application/x-www-form-urlencoded");
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let request = request
        .body(Full::<bytes::Bytes>::from(body.to_owned()))
        .unwrap();
    let response = service.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (parts.status, parts.headers, json)
}

async fn introspect(service: &IntrospectionService, token: &str) -> Value {
    let (status, headers, body) = ask(
        service,
        Some(&basic(CLIENT, SECRET)),
        &format!("token={token}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["cache-control"], "no-store");
    body
}

fn inactive() -> Value {
    serde_json::json!({ "active": false })
}

#[tokio::test]
async fn an_access_token_is_active_until_it_is_revoked() {
    let env = env();
    let service = service(&env);
    let pair = env
        .sessions
        .start_with_scope("alice", "read write")
        .await
        .unwrap();
    let answer = introspect(&service, pair.access_token()).await;
    assert_eq!(answer["active"], true);
    assert_eq!(answer["token_type"], "Bearer");
    assert!(answer.get("cnf").is_none(), "{answer}");
    assert_eq!(answer["sub"], "alice");
    assert_eq!(answer["iss"], ISS);
    assert_eq!(answer["aud"], serde_json::json!(["api"]));
    assert_eq!(answer["scope"], "read write");
    assert_eq!(answer["sid"], pair.session_id());
    assert!(answer["exp"].as_u64().unwrap() > answer["iat"].as_u64().unwrap());

    env.sessions.logout(pair.session_id()).await.unwrap();
    assert_eq!(introspect(&service, pair.access_token()).await, inactive());
}

#[tokio::test]
async fn expired_refresh_foreign_and_malformed_tokens_are_inactive() {
    let env = env();
    let service = service(&env);
    let pair = env.login("alice").await;
    // A refresh token is for the token endpoint only.
    assert_eq!(introspect(&service, pair.refresh_token()).await, inactive());
    // Another issuer's token (our claims, another key).
    let other = tower_jwt_auth::Issuer::builder(tower_jwt_auth::KeySet::new(
        tower_jwt_auth::SigningKey::generate_ed25519().unwrap(),
    ))
    .with_issuer(ISS)
    .with_audience("api")
    .build()
    .unwrap();
    let foreign = tower_jwt_auth::Sessions::new(other)
        .start("alice")
        .await
        .unwrap();
    assert_eq!(
        introspect(&service, foreign.access_token()).await,
        inactive()
    );
    for garbage in ["x", "a.b.c", "%00"] {
        assert_eq!(introspect(&service, garbage).await, inactive());
    }
    // Expiry, on the mock clock: active one second before, inactive at it.
    let lifetime = env.issuer.access_ttl_secs();
    env.advance(lifetime - 1);
    assert_eq!(
        introspect(&service, pair.access_token()).await["active"],
        true
    );
    env.advance(1);
    assert_eq!(introspect(&service, pair.access_token()).await, inactive());
}

#[tokio::test]
async fn callers_without_a_clients_credentials_learn_nothing() {
    let env = env();
    let service = service(&env);
    let pair = env.login("alice").await;
    let body = format!("token={}", pair.access_token());
    for authorization in [
        None,
        Some(basic(CLIENT, "the orders API's secreT")),
        Some(basic(CLIENT, "the billing service's secret")),
        Some(basic("nobody", SECRET)),
        Some(format!("Bearer {}", pair.access_token())),
        Some("Basic !!!".to_owned()),
        Some(format!("Basic {}", STANDARD.encode(CLIENT))),
    ] {
        let (status, headers, answer) = ask(&service, authorization.as_deref(), &body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{authorization:?}");
        assert_eq!(headers["www-authenticate"], "Basic realm=\"introspection\"");
        assert_eq!(answer["error"], "invalid_client");
        assert!(answer.get("active").is_none());
    }
    // The other client is allowed too.
    let (status, _, answer) = ask(
        &service,
        Some(&basic("billing", "the billing service's secret")),
        &body,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["active"], true);
    // No client configured: nobody is let in.
    let closed = IntrospectionService::new(env.issuer.verifier());
    let (status, _, _) = ask(&closed, Some(&basic(CLIENT, SECRET)), &body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_request_without_a_token_is_invalid_and_secrets_are_never_shown() {
    let env = env();
    let service = service(&env);
    let (status, _, answer) = ask(&service, Some(&basic(CLIENT, SECRET)), "token=").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["error"], "invalid_request");
    let get = Request::get("/introspect")
        .body(Full::<bytes::Bytes>::default())
        .unwrap();
    let response = service.clone().oneshot(get).await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);

    let shown = format!("{service:?}");
    assert!(shown.contains(CLIENT));
    assert!(!shown.contains(SECRET) && !shown.contains("billing service's secret"));
    assert!(
        IntrospectionService::new(env.issuer.verifier())
            .with_client("a:b", SECRET)
            .is_err()
    );
    assert!(service.with_client(CLIENT, "another long secret").is_err());
}
