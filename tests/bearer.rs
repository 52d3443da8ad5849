//! The bearer middleware through `tower::ServiceExt::oneshot`: every row of the RFC 6750
//! response table, the token sources, optional mode, scopes, the axum extractor and
//! back-pressure.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::{
    convert::Infallible,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use aws_lc_rs::hmac;
use axum::{Router, body::Body, routing::get};
use common::*;
use http::{Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::json;
use tower::{Layer, ServiceBuilder, ServiceExt, service_fn};
use tower_jwt_auth::{
    BearerAuthLayer, Claims, TokenPair, bearer::EmptyBodyRejection, session::StartError,
};

type Inner = tower::util::BoxCloneService<Request<Body>, Response<Body>, Infallible>;

/// An inner service that counts its calls and echoes the subject it was handed.
fn echo(calls: Arc<AtomicUsize>) -> Inner {
    tower::util::BoxCloneService::new(service_fn(move |req: Request<Body>| {
        calls.fetch_add(1, Ordering::SeqCst);
        let sub = req
            .extensions()
            .get::<Arc<Claims<Profile>>>()
            .map_or("anonymous".to_owned(), |c| c.sub.clone());
        let sensitive = req
            .headers()
            .get(header::AUTHORIZATION)
            .is_none_or(|v| v.is_sensitive());
        async move {
            assert!(
                sensitive,
                "the Authorization header reached the inner service unmarked"
            );
            Ok::<_, Infallible>(Response::new(Body::from(sub)))
        }
    }))
}

struct Harness {
    env: Env,
    calls: Arc<AtomicUsize>,
}

impl Harness {
    fn new() -> Self {
        Self {
            env: env(),
            calls: Arc::default(),
        }
    }

    fn layer(&self) -> BearerAuthLayer<Profile> {
        BearerAuthLayer::new(self.env.issuer.verifier().clone())
            .with_claims::<Profile>()
            .with_realm("example")
    }

    async fn send(&self, layer: BearerAuthLayer<Profile>, req: Request<Body>) -> Response<Body> {
        layer
            .layer(echo(self.calls.clone()))
            .oneshot(req)
            .await
            .unwrap()
            .map(Body::new)
    }

    async fn get(&self, auth: Option<&str>) -> Response<Body> {
        let mut req = Request::get("/");
        if let Some(auth) = auth {
            req = req.header(header::AUTHORIZATION, auth);
        }
        self.send(self.layer(), req.body(Body::empty()).unwrap())
            .await
    }

    async fn pair(&self) -> TokenPair {
        self.env
            .sessions
            .start_with_claims("alice", "read", &profile())
            .await
            .unwrap()
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

fn challenge<B>(response: &Response<B>) -> &str {
    response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map_or("", |v| v.to_str().unwrap())
}

async fn text<B>(response: Response<B>) -> String
where
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap()
}

#[tokio::test]
async fn a_valid_token_reaches_the_handler_with_its_claims() {
    let h = Harness::new();
    let pair = h.pair().await;
    let response = h
        .get(Some(&format!("Bearer {}", pair.access_token())))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(text(response).await, "alice");
    assert_eq!(h.calls(), 1);
    // The scheme is case-insensitive.
    let response = h
        .get(Some(&format!("bEaReR {}", pair.access_token())))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn no_token_is_401_with_a_bare_challenge() {
    let h = Harness::new();
    for auth in [None, Some("Basic dXNlcjpwYXNz"), Some("Digest x")] {
        let response = h.get(auth).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(challenge(&response), r#"Bearer realm="example""#);
    }
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn malformed_requests_are_400_invalid_request() {
    let h = Harness::new();
    let pair = h.pair().await;
    let bearer = format!("Bearer {}", pair.access_token());
    let two_credentials = format!("{bearer}, {bearer}");
    for auth in [
        "Bearer",
        "Bearer ",
        "Bearer a b",
        "Bearer a,b",
        &two_credentials,
        "Bearer tok\u{0}en",
    ] {
        let Ok(value) = http::HeaderValue::from_str(auth) else {
            continue;
        };
        let req = Request::get("/")
            .header(header::AUTHORIZATION, value)
            .body(Body::empty())
            .unwrap();
        let response = h.send(h.layer(), req).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{auth:?}");
        assert!(
            challenge(&response).starts_with(r#"Bearer realm="example", error="invalid_request""#),
            "{}",
            challenge(&response)
        );
    }
    // Two Authorization headers.
    let req = Request::get("/")
        .header(header::AUTHORIZATION, &bearer)
        .header(header::AUTHORIZATION, &bearer)
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        h.send(h.layer(), req).await.status(),
        StatusCode::BAD_REQUEST
    );
    // A token in two transports.
    let layer = h.layer().with_query_parameter();
    let req = Request::get(format!("/?access_token={}", pair.access_token()))
        .header(header::AUTHORIZATION, &bearer)
        .body(Body::empty())
        .unwrap();
    assert_eq!(h.send(layer, req).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn bad_tokens_are_401_invalid_token_with_a_description() {
    let h = Harness::new();
    let env = &h.env;
    let pair = h.pair().await;
    let mut expired = env.claims();
    expired["exp"] = json!(T0);
    let foreign = Forger::random_ed25519().sign(&env.header("at+jwt"), &env.claims());
    let none = format!(
        "{}.{}.",
        b64(json!({ "alg": "none", "kid": env.kid, "typ": "at+jwt" }).to_string()),
        b64(env.claims().to_string())
    );
    let with = |name: &str, value: serde_json::Value| {
        let mut claims = env.claims();
        claims[name] = value;
        env.forge("at+jwt", &claims)
    };
    let mut no_aud = env.claims();
    no_aud.as_object_mut().unwrap().remove("aud");
    let hs256_public_key = Forger::hmac(hmac::HMAC_SHA256, &env.forger.public_key()).sign(
        &json!({ "alg": "HS256", "kid": env.kid, "typ": "at+jwt" }),
        &env.claims(),
    );
    let cases = [
        (pair.refresh_token().to_owned(), "wrong token type"),
        (env.forge("at+jwt", &expired), "token expired"),
        (foreign, "invalid signature"),
        (none, "malformed token"),
        (
            env.forger.sign(
                &json!({ "alg": "EdDSA", "kid": "nope", "typ": "at+jwt" }),
                &env.claims(),
            ),
            "unknown signing key",
        ),
        ("not-a-jwt".to_owned(), "malformed token"),
        (hs256_public_key, "algorithm not allowed"),
        (with("iss", json!("someone-else")), "invalid issuer"),
        (with("aud", json!("another-api")), "invalid audience"),
        (env.forge("at+jwt", &no_aud), "missing required claim"),
        (with("iat", json!(T0 + 60)), "token issued in the future"),
    ];
    for (token, description) in cases {
        let response = h.get(Some(&format!("Bearer {token}"))).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{description}");
        assert_eq!(
            challenge(&response),
            format!(
                r#"Bearer realm="example", error="invalid_token", error_description="{description}""#
            )
        );
        // The description never echoes the token.
        assert!(!challenge(&response).contains(&token));
    }
    assert_eq!(h.calls(), 0);
    // Presenting the refresh token as a bearer token did not harm its session.
    assert!(h.env.sessions.refresh(pair.refresh_token()).await.is_ok());
}

#[tokio::test]
async fn revoked_tokens_are_rejected_at_once() {
    let h = Harness::new();
    let pair = h.pair().await;
    let bearer = format!("Bearer {}", pair.access_token());
    assert_eq!(h.get(Some(&bearer)).await.status(), StatusCode::OK);
    h.env.sessions.logout(pair.session_id()).await.unwrap();
    let response = h.get(Some(&bearer)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(challenge(&response).contains(r#"error_description="token revoked""#));
}

#[tokio::test]
async fn expiry_follows_the_mock_clock() {
    let h = Harness::new();
    let pair = h.pair().await;
    let bearer = format!("Bearer {}", pair.access_token());
    h.env.advance(899);
    assert_eq!(h.get(Some(&bearer)).await.status(), StatusCode::OK);
    h.env.advance(1);
    let response = h.get(Some(&bearer)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(challenge(&response).contains("token expired"));
}

#[tokio::test]
async fn cookie_and_query_sources_work_only_when_enabled() {
    let h = Harness::new();
    let pair = h.pair().await;
    let cookie = format!("theme=dark; at={}", pair.access_token());
    let req = || {
        Request::get("/")
            .header(header::COOKIE, &cookie)
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(
        h.send(h.layer(), req()).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.send(h.layer().with_cookie("at"), req()).await.status(),
        StatusCode::OK
    );

    let uri = format!("/events?access_token={}", pair.access_token());
    let req = || Request::get(&uri).body(Body::empty()).unwrap();
    assert_eq!(
        h.send(h.layer(), req()).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.send(h.layer().with_query_parameter(), req())
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn optional_mode_admits_anonymous_requests_but_not_bad_tokens() {
    let h = Harness::new();
    let layer = h.layer().optional();
    let response = h
        .send(
            layer.clone(),
            Request::get("/").body(Body::empty()).unwrap(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(text(response).await, "anonymous");

    let req = Request::get("/")
        .header(header::AUTHORIZATION, "Bearer not-a-jwt")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        h.send(layer.clone(), req).await.status(),
        StatusCode::UNAUTHORIZED
    );

    let pair = h.pair().await;
    let req = Request::get("/")
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", pair.access_token()),
        )
        .body(Body::empty())
        .unwrap();
    assert_eq!(text(h.send(layer, req).await).await, "alice");
}

#[tokio::test]
async fn rejections_carry_the_rfc6750_headers_and_a_json_body_by_default() {
    let h = Harness::new();
    let layer = h.layer();
    for (auth, status, error) in [
        (
            "Bearer not-a-jwt",
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        ),
        ("Bearer a b", StatusCode::BAD_REQUEST, "invalid_request"),
    ] {
        let response = layer
            .layer(echo(h.calls.clone()))
            .oneshot(
                Request::get("/")
                    .header(header::AUTHORIZATION, auth)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{auth}");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        assert!(challenge(&response).contains(&format!(r#"error="{error}""#)));
        let body: serde_json::Value = serde_json::from_str(&text(response).await).unwrap();
        assert_eq!(body["error"], error);
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );
    }
}

#[tokio::test]
async fn the_empty_body_rejection_keeps_the_headers_and_sends_no_body() {
    let h = Harness::new();
    let layer = h.layer().on_rejection(EmptyBodyRejection);
    let response = layer
        .layer(echo(h.calls.clone()))
        .oneshot(
            Request::get("/")
                .header(header::AUTHORIZATION, "Bearer not-a-jwt")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(challenge(&response).contains(r#"error="invalid_token""#));
    assert!(response.headers().get(header::CONTENT_TYPE).is_none());
    assert_eq!(text(response).await, "");
    assert_eq!(h.calls(), 0);
}

fn app(h: &Harness) -> Router {
    async fn me(claims: Claims<Profile>) -> String {
        format!("{} {}", claims.sub, claims.custom.name)
    }
    async fn maybe(claims: Option<Claims<Profile>>) -> String {
        claims.map_or("anonymous".into(), |c| c.sub)
    }
    let auth = h.layer();
    Router::new()
        .route("/me", get(me))
        .layer(auth.clone())
        .route("/admin", get(me).route_layer(auth.require_scope(["admin"])))
        .route(
            "/both",
            get(me).route_layer(auth.require_scope(["read", "write"])),
        )
        .merge(
            Router::new()
                .route("/maybe", get(maybe))
                .route("/needs-token", get(me))
                .layer(auth.optional()),
        )
        .route("/unprotected", get(me))
}

async fn call(app: &Router, uri: &str, token: Option<&str>) -> Response<Body> {
    let mut req = Request::get(uri);
    if let Some(token) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    app.clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn axum_extractor_and_scope_requirements() {
    let h = Harness::new();
    let app = app(&h);
    let pair = h.pair().await;
    let token = Some(pair.access_token());

    let response = call(&app, "/me", token).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(text(response).await, "alice Alice");

    // The token has "read" only.
    for uri in ["/admin", "/both"] {
        let response = call(&app, uri, token).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{uri}");
        assert!(challenge(&response).contains(r#"error="insufficient_scope""#));
    }
    assert!(challenge(&call(&app, "/admin", token).await).contains(r#"scope="admin""#));
    assert!(challenge(&call(&app, "/both", token).await).contains(r#"scope="read write""#));

    let admin = h
        .env
        .sessions
        .start_with_claims("root", "read write admin", &profile())
        .await
        .unwrap();
    for uri in ["/admin", "/both"] {
        assert_eq!(
            call(&app, uri, Some(admin.access_token())).await.status(),
            StatusCode::OK
        );
    }

    // Optional mode: Option<Claims> sees None; a handler that needs claims answers 401.
    assert_eq!(text(call(&app, "/maybe", None).await).await, "anonymous");
    assert_eq!(text(call(&app, "/maybe", token).await).await, "alice");
    let response = call(&app, "/needs-token", None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // The layer's own challenge, as a required layer would send it.
    assert_eq!(challenge(&response), r#"Bearer realm="example""#);

    // A route without the layer is a programming error, reported as such.
    let response = call(&app, "/unprotected", token).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(text(response).await.contains("BearerAuthLayer"));
}

#[tokio::test]
async fn a_scoped_layer_authenticates_on_its_own() {
    // The scoped layer is the bearer layer with one more rule: alone on a route it still
    // requires a valid token, whatever the claims type, and answers with its realm.
    let h = Harness::new();
    let app = Router::new().route(
        "/admin",
        get(|claims: Claims<Profile>| async move { claims.sub })
            .route_layer(h.layer().optional().require_scope(["admin"])),
    );
    let response = call(&app, "/admin", None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(challenge(&response), r#"Bearer realm="example""#);
    let response = call(&app, "/admin", Some("not-a-jwt")).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let reader = h.pair().await;
    let response = call(&app, "/admin", Some(reader.access_token())).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        challenge(&response),
        r#"Bearer realm="example", error="insufficient_scope", error_description="the token lacks a required scope", scope="admin""#
    );
    let admin = h
        .env
        .sessions
        .start_with_claims("root", "admin", &profile())
        .await
        .unwrap();
    let response = call(&app, "/admin", Some(admin.access_token())).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(text(response).await, "root");
}

#[tokio::test]
async fn scope_requirements_add_up() {
    let h = Harness::new();
    let layer = h
        .layer()
        .require_scope(["read"])
        .require_scope(["write", "read"]);
    let reader = h.pair().await;
    let response = h
        .send(
            layer.clone(),
            Request::get("/")
                .header(
                    header::AUTHORIZATION,
                    format!("Bearer {}", reader.access_token()),
                )
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(challenge(&response).ends_with(r#"scope="read write""#));
    assert_eq!(h.calls(), 0);
}

#[tokio::test]
async fn poll_ready_back_pressure_is_propagated() {
    let h = Harness::new();
    let layer = h.layer();
    let (mut service, mut handle) =
        tower_test::mock::spawn_with::<Request<Body>, Response<Body>, _, _>(|mock| {
            ServiceBuilder::new().layer(layer.clone()).service(mock)
        });
    // The inner service is not ready: neither is the middleware.
    handle.allow(0);
    tokio_test_pending(&mut service);
    handle.allow(1);
    assert!(service.poll_ready().is_ready());

    let pair = h.pair().await;
    let req = Request::get("/")
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", pair.access_token()),
        )
        .body(Body::empty())
        .unwrap();
    let response = service.call(req);
    let (request, send) = handle.next_request().await.unwrap();
    assert_eq!(
        request
            .extensions()
            .get::<Arc<Claims<Profile>>>()
            .unwrap()
            .sub,
        "alice"
    );
    send.send_response(Response::new(Body::from("inner")));
    assert_eq!(text(response.await.unwrap()).await, "inner");

    // Errors of the inner service pass through unchanged.
    handle.allow(1);
    assert!(service.poll_ready().is_ready());
    let req = Request::get("/")
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", pair.access_token()),
        )
        .body(Body::empty())
        .unwrap();
    let response = service.call(req);
    let (_, send) = handle.next_request().await.unwrap();
    send.send_error("inner failure");
    assert_eq!(response.await.unwrap_err().to_string(), "inner failure");
}

fn tokio_test_pending<T, U>(service: &mut tower_test::mock::Spawn<T>)
where
    T: tower::Service<U>,
{
    assert!(service.poll_ready().is_pending());
}

#[tokio::test]
async fn unavailable_revocation_state_is_503_without_a_challenge() {
    let env = env_with(|b| b.with_revocation_backend(Arc::new(Down)));
    assert!(env.issuer.revocation().load().await.is_err());
    // Nothing is issued while the session record cannot be written.
    assert!(matches!(
        env.sessions
            .start_with_claims("alice", "", &profile())
            .await,
        Err(StartError::Store(_))
    ));
    // A token from an instance that could write (same key) is still refused here.
    let pair = common::env()
        .sessions
        .start_with_claims("alice", "", &profile())
        .await
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let response = BearerAuthLayer::new(env.issuer.verifier().clone())
        .with_claims::<Profile>()
        .layer(echo(calls.clone()))
        .oneshot(
            Request::get("/")
                .header(
                    header::AUTHORIZATION,
                    format!("Bearer {}", pair.access_token()),
                )
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().get(header::WWW_AUTHENTICATE).is_none());
    assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_claims_extractors_401_carries_the_optional_layers_challenge() {
    let h = Harness::new();
    let metadata =
        tower_jwt_auth::endpoints::ProtectedResourceMetadata::builder("https://api.example")
            .with_authorization_server("https://auth.example")
            .build()
            .unwrap();
    let auth = h.layer().with_resource_metadata(&metadata);
    async fn me(claims: Claims<Profile>) -> String {
        claims.sub
    }
    let app = Router::new()
        .route("/required", get(me))
        .route_layer(auth.clone())
        .merge(
            Router::new()
                .route("/optional", get(me))
                .route_layer(auth.optional()),
        );
    let required = call(&app, "/required", None).await;
    let optional = call(&app, "/optional", None).await;
    assert_eq!(optional.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(challenge(&optional), challenge(&required));
    assert_eq!(
        challenge(&optional),
        r#"Bearer realm="example", resource_metadata="https://api.example/.well-known/oauth-protected-resource""#
    );
    assert_eq!(text(optional).await, text(required).await);
}
