//! Errors that are responses: every error a login, refresh or logout handler meets converts
//! into the RFC 6749 §5.2 answer, so that `?` works in a handler.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use axum::{
    Json, Router,
    body::Body,
    extract::State,
    response::{IntoResponse, Response},
    routing::post,
};
use common::*;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use tower_jwt_auth::{
    Sessions, TokenPair,
    endpoints::ErrorResponse,
    issuer::IssueError,
    keys::KeyError,
    session::{RefreshError, StartError},
    store::RevocationError,
    token::TokenError,
};

/// The response's status, `error`, `Retry-After` and body, after checking that it is JSON that
/// no cache keeps and that the description says nothing of `secret`.
async fn answer(response: Response, secret: &str) -> (u16, String, Option<String>) {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["cache-control"], "no-store");
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(!text.contains(secret), "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert!(body["error_description"].is_string(), "{body}");
    let retry = headers
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, body["error"].as_str().unwrap().to_owned(), retry)
}

fn unavailable() -> (u16, String, Option<String>) {
    (503, "temporarily_unavailable".into(), Some("1".into()))
}

fn server_error() -> (u16, String, Option<String>) {
    (500, "server_error".into(), None)
}

fn invalid_grant() -> (u16, String, Option<String>) {
    (400, "invalid_grant".into(), None)
}

/// Both ways: `ErrorResponse::from(err)` and the error's own `IntoResponse`.
async fn both<E>(err: impl Fn() -> E, secret: &str) -> (u16, String, Option<String>)
where
    E: IntoResponse,
    ErrorResponse: From<E>,
{
    let via_from = answer(
        ErrorResponse::from(err())
            .into_http_response()
            .map(Body::new),
        secret,
    )
    .await;
    let direct = answer(err().into_response(), secret).await;
    assert_eq!(via_from, direct);
    direct
}

fn backend(secret: &str) -> RevocationError {
    RevocationError::Backend(secret.to_owned().into())
}

#[tokio::test]
async fn refresh_errors_of_the_client_are_invalid_grant() {
    for err in [
        || RefreshError::Reused,
        || RefreshError::Refused,
        || RefreshError::UnknownSession,
        || RefreshError::InvalidToken(TokenError::Expired),
        || RefreshError::InvalidToken(TokenError::Revoked),
    ] {
        assert_eq!(both(err, "eyJ").await, invalid_grant());
    }
}

#[tokio::test]
async fn refresh_errors_of_the_server_are_503_or_500() {
    assert_eq!(
        both(
            || RefreshError::InvalidToken(TokenError::RevocationUnavailable),
            "eyJ"
        )
        .await,
        unavailable()
    );
    assert_eq!(
        both(
            || RefreshError::Revocation(backend("db-host-7")),
            "db-host-7"
        )
        .await,
        unavailable()
    );
    assert_eq!(
        both(
            || RefreshError::Hook("users-db-down".into()),
            "users-db-down"
        )
        .await,
        unavailable()
    );
    assert_eq!(
        both(|| RefreshError::Issue(IssueError::NoSigningKey), "signing").await,
        server_error()
    );
}

#[tokio::test]
async fn a_revocation_error_is_503_with_retry_after_and_no_cause() {
    assert_eq!(
        both(|| backend("redis://:hunter2@cache"), "hunter2").await,
        unavailable()
    );
}

#[tokio::test]
async fn issue_and_key_errors_are_500_and_say_nothing_of_the_cause() {
    assert_eq!(
        both(|| IssueError::ReservedClaim("exp".into()), "exp").await,
        server_error()
    );
    assert_eq!(
        both(|| IssueError::InvalidInput("empty subject"), "subject").await,
        server_error()
    );
    assert_eq!(
        both(|| KeyError::DuplicateKid("kid-2026".into()), "kid-2026").await,
        server_error()
    );
    assert_eq!(both(|| KeyError::Rng, "random").await, server_error());
}

#[tokio::test]
async fn start_errors_are_503_when_the_store_is_down_and_500_otherwise() {
    assert_eq!(
        both(|| StartError::Store(backend("10.0.0.7")), "10.0.0.7").await,
        unavailable()
    );
    assert_eq!(
        both(
            || StartError::Issue(IssueError::InvalidInput("empty subject")),
            "subject"
        )
        .await,
        server_error()
    );
}

/// A login handler with no error type of its own.
async fn login(
    State(sessions): State<Sessions>,
    Json(body): Json<Value>,
) -> Result<TokenPair, ErrorResponse> {
    let user = body["user"].as_str().unwrap_or_default();
    Ok(sessions.start(user).await?)
}

/// A refresh handler whose error is the crate's.
async fn refresh(
    State(sessions): State<Sessions>,
    Json(body): Json<Value>,
) -> Result<TokenPair, RefreshError> {
    sessions
        .refresh(body["refresh_token"].as_str().unwrap_or_default())
        .await
}

fn app(sessions: Sessions) -> Router {
    Router::new()
        .route("/login", post(login))
        .route("/refresh", post(refresh))
        .with_state(sessions)
}

async fn call(app: &Router, path: &str, body: Value) -> Response {
    let req = Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    app.clone().oneshot(req).await.unwrap()
}

#[tokio::test]
async fn handlers_answer_with_the_question_mark() {
    let env = env();
    let app = app(env.sessions.clone());

    let ok = call(&app, "/login", json!({ "user": "alice" })).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let bytes = ok.into_body().collect().await.unwrap().to_bytes();
    let pair: Value = serde_json::from_slice(&bytes).unwrap();
    let refresh_token = pair["refresh_token"].as_str().unwrap().to_owned();

    let empty = call(&app, "/login", json!({ "user": "" })).await;
    assert_eq!(answer(empty, "subject").await, server_error());

    let first = call(&app, "/refresh", json!({ "refresh_token": refresh_token })).await;
    assert_eq!(first.status(), StatusCode::OK);
    let reused = call(&app, "/refresh", json!({ "refresh_token": refresh_token })).await;
    assert_eq!(answer(reused, &refresh_token).await, invalid_grant());

    let down = env_with(|b| b.with_revocation_backend(Arc::new(Down)));
    let app = self::app(down.sessions.clone());
    let refused = call(&app, "/login", json!({ "user": "alice" })).await;
    assert_eq!(answer(refused, "connection refused").await, unavailable());
}
