//! `GET /sessions` and `DELETE /sessions/{id}` of `token_routes`: a user sees and ends its
//! own sessions, never another user's.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::{Router, body::Body};
use common::*;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use tower_jwt_auth::{BearerAuthLayer, TokenPair, session::Login, token::TokenError};

fn router(env: &Env) -> Router {
    let auth = BearerAuthLayer::new(&env.issuer).with_realm("api");
    Router::new().nest(
        "/auth",
        tower_jwt_auth::token_routes(env.sessions.clone(), &auth),
    )
}

async fn send(app: &Router, method: Method, path: &str, token: Option<&str>) -> Response<Body> {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    app.clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap()
}

async fn json_body(response: Response<Body>) -> Value {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

async fn listed(app: &Router, pair: &TokenPair) -> Vec<Value> {
    let response = send(
        app,
        Method::GET,
        "/auth/sessions",
        Some(pair.access_token()),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    json_body(response).await["sessions"]
        .as_array()
        .unwrap()
        .clone()
}

fn ids(sessions: &[Value]) -> Vec<&str> {
    sessions.iter().map(|s| s["id"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn a_user_lists_its_own_sessions_marking_the_current_one() {
    let env = env();
    let app = router(&env);
    let phone = env
        .sessions
        .start_with(Login::new("alice").with_label("phone"))
        .await
        .unwrap();
    env.advance(5);
    let laptop = env.login("alice").await;
    let bob = env.login("bob").await;

    let sessions = listed(&app, &laptop).await;
    assert_eq!(ids(&sessions), [phone.session_id(), laptop.session_id()]);
    assert_eq!(sessions[0]["label"], "phone");
    assert_eq!(sessions[0]["current"], false);
    assert_eq!(sessions[0]["started_ms"], T0 * 1000);
    assert!(sessions[0]["last_refreshed_ms"].is_null());
    assert!(sessions[1]["label"].is_null());
    assert_eq!(sessions[1]["current"], true);
    assert_eq!(ids(&listed(&app, &bob).await), [bob.session_id()]);

    // After a refresh: the same session, its new last-refreshed time.
    env.advance(10);
    let phone = env.sessions.refresh(phone.refresh_token()).await.unwrap();
    let sessions = listed(&app, &phone).await;
    assert_eq!(sessions[0]["id"], phone.session_id());
    assert_eq!(sessions[0]["current"], true);
    assert_eq!(sessions[0]["last_refreshed_ms"], (T0 + 15) * 1000);

    let response = send(&app, Method::GET, "/auth/sessions", None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer realm="api""#
    );
}

#[tokio::test]
async fn a_user_ends_its_own_sessions_and_never_another_users() {
    let env = env();
    let app = router(&env);
    let phone = env.login("alice").await;
    let laptop = env.login("alice").await;
    let bob = env.login("bob").await;
    let verifier = env.issuer.verifier();

    // Another user's session and a session that does not exist: the same 404.
    let theirs = format!("/auth/sessions/{}", bob.session_id());
    let response = send(&app, Method::DELETE, &theirs, Some(laptop.access_token())).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let theirs_body = json_body(response).await;
    let response = send(
        &app,
        Method::DELETE,
        "/auth/sessions/no-such-session",
        Some(laptop.access_token()),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(json_body(response).await, theirs_body);
    assert!(
        verifier
            .verify_access::<Profile>(bob.access_token())
            .is_ok()
    );
    let bob = env.sessions.refresh(bob.refresh_token()).await.unwrap();
    assert_eq!(ids(&listed(&app, &bob).await), [bob.session_id()]);

    // One's own other session: 204, it ends; the caller's goes on.
    let path = format!("/auth/sessions/{}", phone.session_id());
    let response = send(&app, Method::DELETE, &path, Some(laptop.access_token())).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        verifier
            .verify_access::<Profile>(phone.access_token())
            .unwrap_err(),
        TokenError::Revoked
    );
    assert!(env.sessions.refresh(phone.refresh_token()).await.is_err());
    assert_eq!(ids(&listed(&app, &laptop).await), [laptop.session_id()]);
    let response = send(&app, Method::DELETE, &path, Some(laptop.access_token())).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND, "ended already");

    // Without a token: 401, nothing ends.
    let own = format!("/auth/sessions/{}", laptop.session_id());
    let response = send(&app, Method::DELETE, &own, None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // One's own current session: as a logout.
    let response = send(&app, Method::DELETE, &own, Some(laptop.access_token())).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(
        verifier
            .verify_access::<Profile>(laptop.access_token())
            .is_err()
    );
    assert!(
        verifier
            .verify_access::<Profile>(bob.access_token())
            .is_ok()
    );
}
