//! The token endpoints as tower services: refresh, RFC 7009 revocation and JWKS.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bytes::Bytes;
use common::*;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};
use tower::ServiceExt;
use tower_jwt_auth::{
    BearerAuthLayer, TokenPair,
    endpoints::{JwksService, RefreshService, RevocationService},
    token::TokenError,
};

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";

fn post(content_type: Option<&str>, body: impl Into<Bytes>) -> Request<Full<Bytes>> {
    let mut req = Request::post("/token");
    if let Some(ct) = content_type {
        req = req.header(header::CONTENT_TYPE, ct);
    }
    req.body(Full::new(body.into())).unwrap()
}

async fn json_body(response: Response<Full<Bytes>>) -> Value {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

async fn refresh(env: &Env, req: Request<Full<Bytes>>) -> Response<Full<Bytes>> {
    RefreshService::new(env.sessions.clone())
        .oneshot(req)
        .await
        .unwrap()
}

fn form(token: &str) -> Request<Full<Bytes>> {
    post(
        Some(FORM),
        format!("grant_type=refresh_token&refresh_token={token}"),
    )
}

#[tokio::test]
async fn refresh_accepts_the_rfc6749_form_and_json() {
    let env = env();
    let pair = env.login("alice").await;
    let response = refresh(&env, form(pair.refresh_token())).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    assert_eq!(response.headers()[header::PRAGMA], "no-cache");
    assert_eq!(response.headers()[header::CONTENT_TYPE], JSON);
    let next: TokenPair = serde_json::from_value(json_body(response).await).unwrap();
    assert_eq!(next.expires_in(), 900);
    assert!(
        env.issuer
            .verifier()
            .verify_access::<Profile>(next.access_token())
            .is_ok()
    );

    let response = refresh(
        &env,
        post(
            Some("application/json; charset=utf-8"),
            json!({ "refresh_token": next.refresh_token() }).to_string(),
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let third: TokenPair = serde_json::from_value(json_body(response).await).unwrap();

    // JSON may name the grant type too; a well-formed request with a bad token is a bad grant.
    let response = refresh(
        &env,
        post(
            Some(JSON),
            json!({ "grant_type": "refresh_token", "refresh_token": third.access_token() })
                .to_string(),
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_body(response).await["error"], "invalid_grant");
}

#[tokio::test]
async fn a_reused_refresh_token_is_invalid_grant_and_kills_the_session() {
    let env = env();
    let pair = env.login("alice").await;
    let response = refresh(&env, form(pair.refresh_token())).await;
    let next: TokenPair = serde_json::from_value(json_body(response).await).unwrap();

    let response = refresh(&env, form(pair.refresh_token())).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    assert_eq!(json_body(response).await["error"], "invalid_grant");
    assert_eq!(
        env.issuer
            .verifier()
            .verify_access::<Profile>(next.access_token())
            .unwrap_err(),
        TokenError::Revoked
    );
    let response = refresh(&env, form(next.refresh_token())).await;
    assert_eq!(json_body(response).await["error"], "invalid_grant");
}

#[tokio::test]
async fn rejected_tokens_are_invalid_grant() {
    let env = env();
    let pair = env.login("alice").await;
    let expired = {
        let e = env_with(|b| b.with_refresh_ttl(std::time::Duration::from_secs(1000)));
        let p = e.login("alice").await;
        e.advance(1000);
        (e, p)
    };
    for (env, token) in [
        (&env, pair.access_token().to_owned()),
        (&env, "garbage".to_owned()),
        (
            &env,
            Forger::random_ed25519().sign(&env.header("refresh+jwt"), &env.claims()),
        ),
        (&expired.0, expired.1.refresh_token().to_owned()),
    ] {
        let response = refresh(env, form(&token)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body = json_body(response).await;
        assert_eq!(body["error"], "invalid_grant");
        assert!(!body.to_string().contains(&token));
    }
    // Presenting the access token where the refresh token belongs did not harm the session.
    assert_eq!(
        refresh(&env, form(pair.refresh_token())).await.status(),
        StatusCode::OK
    );
}

/// A refresh token that verifies but whose session has no record here: another issuer with
/// the same keys and its own state, or a shared backend that lost its state (a new, empty
/// one). Nothing is minted, the answer is `invalid_grant`, and the session where it lives is
/// untouched.
#[tokio::test]
async fn a_verified_refresh_token_of_an_unknown_session_is_invalid_grant() {
    use std::sync::Arc;
    use tower_jwt_auth::{session::RefreshError, store::MemoryBackend};

    let home = env();
    let pair = home.login("alice").await;

    let elsewhere = env();
    let lost = Arc::new(MemoryBackend::new());
    let emptied = env_with(|b| b.with_revocation_backend(lost.clone()));
    emptied.issuer.revocation().load().await.unwrap();
    for other in [&elsewhere, &emptied] {
        // The token itself is fine here: same keys, same `iss` and `aud`.
        assert!(
            other
                .issuer
                .verifier()
                .verify_refresh::<Profile>(pair.refresh_token())
                .is_ok()
        );
        let err = other.sessions.refresh(pair.refresh_token()).await;
        assert!(matches!(err, Err(RefreshError::UnknownSession)), "{err:?}");

        let response = refresh(other, form(pair.refresh_token())).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        let body = json_body(response).await;
        assert_eq!(body["error"], "invalid_grant");
        assert!(body.get("access_token").is_none(), "{body}");
        assert!(body.get("refresh_token").is_none(), "{body}");
        assert!(other.issuer.revocation().is_empty());
    }
    assert_eq!(lost.session_count(), 0, "no record was made for it");

    // At home the token was not used up: it refreshes once, and then it is reuse.
    let response = refresh(&home, form(pair.refresh_token())).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = refresh(&home, form(pair.refresh_token())).await;
    assert_eq!(json_body(response).await["error"], "invalid_grant");
}

#[tokio::test]
async fn malformed_refresh_requests_are_4xx_never_5xx() {
    let env = env();
    let pair = env.login("alice").await;
    let token = pair.refresh_token();
    let cases: Vec<(Request<Full<Bytes>>, StatusCode, &str)> = vec![
        (
            post(Some(FORM), format!("refresh_token={token}")),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            post(
                Some(FORM),
                format!("grant_type=password&refresh_token={token}"),
            ),
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        (
            post(Some(FORM), "grant_type=refresh_token"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            post(Some(FORM), "grant_type=refresh_token&refresh_token="),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            post(
                Some(FORM),
                format!("grant_type=refresh_token&refresh_token={token}&refresh_token={token}"),
            ),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            post(Some(JSON), "{not json"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            post(Some(JSON), "[1,2,3]"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            post(Some(JSON), r#"{"refresh_token": 42}"#),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            post(Some(JSON), "{}"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            post(Some(JSON), vec![0xffu8, 0xfe]),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            post(None, format!("refresh_token={token}")),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request",
        ),
        (
            post(Some("text/plain"), token.to_owned()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request",
        ),
        (
            post(
                Some(JSON),
                format!(r#"{{"refresh_token":"{}"}}"#, "x".repeat(20_000)),
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
        ),
    ];
    for (i, (req, status, error)) in cases.into_iter().enumerate() {
        let response = refresh(&env, req).await;
        assert_eq!(response.status(), status, "case {i}");
        assert_eq!(json_body(response).await["error"], error, "case {i}");
    }
    // None of the malformed requests consumed the token.
    assert_eq!(refresh(&env, form(token)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn concurrent_refresh_requests_have_exactly_one_winner() {
    let env = env();
    let pair = env.login("alice").await;
    let service = RefreshService::new(env.sessions.clone());
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let service = service.clone();
        let req = form(pair.refresh_token());
        tasks.push(tokio::spawn(async move {
            service.oneshot(req).await.unwrap().status()
        }));
    }
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            StatusCode::OK => ok += 1,
            StatusCode::BAD_REQUEST => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(ok, 1);
}

async fn revoke(env: &Env, req: Request<Full<Bytes>>) -> Response<Full<Bytes>> {
    RevocationService::new(env.sessions.clone())
        .oneshot(req)
        .await
        .unwrap()
}

#[tokio::test]
async fn revocation_follows_rfc7009() {
    let env = env();
    let pair = env.login("alice").await;
    let verify = |t: &str| env.issuer.verifier().verify_access::<Profile>(t);

    let response = revoke(
        &env,
        post(
            Some(FORM),
            format!("token={}&token_type_hint=access_token", pair.access_token()),
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    assert_eq!(
        verify(pair.access_token()).unwrap_err(),
        TokenError::Revoked
    );

    // A wrong hint does not matter; a refresh token takes its session with it.
    let other = env.login("alice").await;
    let response = revoke(
        &env,
        post(
            Some(JSON),
            json!({ "token": other.refresh_token(), "token_type_hint": "access_token" })
                .to_string(),
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        verify(other.access_token()).unwrap_err(),
        TokenError::Revoked
    );

    // Unknown and invalid tokens: 200, revealing nothing.
    for token in ["garbage", "a.b.c", pair.access_token()] {
        let response = revoke(&env, post(Some(FORM), format!("token={token}"))).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    // A request without a token is malformed.
    for req in [
        post(Some(FORM), "token_type_hint=access_token"),
        post(Some(JSON), "{}"),
    ] {
        let response = revoke(&env, req).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(json_body(response).await["error"], "invalid_request");
    }
}

#[tokio::test]
async fn jwks_publishes_the_public_keys_only() {
    let env = env();
    let service = JwksService::new(env.issuer.keys());
    let response = service
        .clone()
        .oneshot(Request::get("/.well-known/jwks.json").body(()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CACHE_CONTROL],
        "public, max-age=300"
    );
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/jwk-set+json"
    );
    let jwks = json_body(response).await;
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kid"], env.kid);
    assert_eq!(keys[0]["kty"], "OKP");
    assert_eq!(keys[0]["crv"], "Ed25519");
    assert_eq!(keys[0]["x"], b64(env.forger.public_key()));
    assert_eq!(keys[0]["alg"], "EdDSA");
    assert_eq!(keys[0]["use"], "sig");
    assert!(keys[0].get("d").is_none());

    let response = service
        .oneshot(Request::post("/.well-known/jwks.json").body(()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn token_routes_mount_every_endpoint_under_a_prefix() {
    use axum::{Router, body::Body};

    let env = env();
    let pair = env.login("alice").await;
    let auth = BearerAuthLayer::new(&env.issuer).with_realm("api");
    let app: Router = Router::new().nest(
        "/auth",
        tower_jwt_auth::token_routes(env.sessions.clone(), &auth),
    );
    let send = |req: Request<Body>| {
        let app = app.clone();
        async move { app.oneshot(req).await.unwrap() }
    };

    let response = send(
        Request::post("/auth/refresh")
            .header(header::CONTENT_TYPE, FORM)
            .body(Body::from(format!(
                "grant_type=refresh_token&refresh_token={}",
                pair.refresh_token()
            )))
            .unwrap(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");

    let response = send(
        Request::post("/auth/revoke")
            .header(header::CONTENT_TYPE, FORM)
            .body(Body::from(format!("token={}", pair.access_token())))
            .unwrap(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        env.issuer
            .verifier()
            .verify_access::<Profile>(pair.access_token())
            .unwrap_err(),
        TokenError::Revoked
    );

    let response = send(Request::get("/auth/jwks.json").body(Body::empty()).unwrap()).await;
    assert_eq!(response.status(), StatusCode::OK);
    // Only POST refreshes.
    let response = send(Request::get("/auth/refresh").body(Body::empty()).unwrap()).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);

    // Logout and log out everywhere: authenticated by the application's layer.
    let logout = |path: &'static str, token: Option<&str>| {
        let mut request = Request::post(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        send(request.body(Body::empty()).unwrap())
    };
    let response = logout("/auth/logout", None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer realm="api""#
    );

    let phone = env.login("alice").await;
    let laptop = env.login("alice").await;
    let response = logout("/auth/logout", Some(phone.access_token())).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let verifier = env.issuer.verifier();
    assert_eq!(
        verifier
            .verify_access::<Profile>(phone.access_token())
            .unwrap_err(),
        TokenError::Revoked
    );
    assert!(
        verifier
            .verify_access::<Profile>(laptop.access_token())
            .is_ok()
    );
    // The ended session's token no longer authenticates a logout.
    let response = logout("/auth/logout-all", Some(phone.access_token())).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let response = logout("/auth/logout-all", Some(laptop.access_token())).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        verifier
            .verify_access::<Profile>(laptop.access_token())
            .unwrap_err(),
        TokenError::Revoked
    );
    assert!(matches!(
        env.sessions.refresh(laptop.refresh_token()).await,
        Err(tower_jwt_auth::session::RefreshError::InvalidToken(
            TokenError::Revoked
        ))
    ));
}
