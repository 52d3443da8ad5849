//! The bearer layer inside the tower-http stack an API typically runs: sensitive headers,
//! tracing, compression and CORS. The layer wraps services whose body it cannot build
//! (tower-http's wrappers), and the documented order keeps the token out of every log.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::convert::Infallible;

use axum::{Json, Router, body::Body, routing::get};
use common::*;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use tower::{ServiceBuilder, ServiceExt, service_fn};
use tower_http::{
    compression::CompressionLayer,
    cors::{Any, CorsLayer},
    sensitive_headers::SetSensitiveRequestHeadersLayer,
    trace::{DefaultMakeSpan, DefaultOnRequest, TraceLayer},
};
use tower_jwt_auth::{BearerAuthLayer, Claims};
use tracing::Level;

/// A `TraceLayer` that logs request headers, as an operator debugging a problem would.
fn trace_with_headers()
-> TraceLayer<tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>>
{
    TraceLayer::new_for_http()
        .make_span_with(
            DefaultMakeSpan::new()
                .level(Level::INFO)
                .include_headers(true),
        )
        .on_request(DefaultOnRequest::new().level(Level::INFO))
}

async fn me(claims: Claims<Profile>) -> Json<String> {
    Json(claims.sub)
}

fn get_with(token: &str) -> Request<Body> {
    Request::get("/me")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header("x-trace-marker", "visible")
        .header(header::ACCEPT_ENCODING, "gzip")
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn the_documented_axum_stack_logs_no_token_and_lets_preflights_through() {
    let env = env();
    let pair = env.login("alice").await;
    let auth = BearerAuthLayer::new(&env.issuer).with_claims::<Profile>();
    // From the outside in: sensitive headers, tracing, compression, CORS, authentication.
    let app = Router::new().route("/me", get(me)).route_layer(auth).layer(
        ServiceBuilder::new()
            .layer(SetSensitiveRequestHeadersLayer::new([
                header::AUTHORIZATION,
                header::COOKIE,
            ]))
            .layer(trace_with_headers())
            .layer(CompressionLayer::new())
            .layer(
                CorsLayer::new()
                    .allow_origin(Any)
                    .allow_headers([header::AUTHORIZATION]),
            ),
    );

    let logs = Logs::default();
    let _guard = logs.capture();

    let response = app
        .clone()
        .oneshot(get_with(pair.access_token()))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let response = app.clone().oneshot(get_with("not-a-token")).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // A CORS preflight carries no token and is answered before authentication.
    let preflight = Request::builder()
        .method(Method::OPTIONS)
        .uri("/me")
        .header(header::ORIGIN, "https://app.example")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization")
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(preflight).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");

    let text = logs.text();
    // The headers were logged (so the check below means something) ...
    assert!(text.contains("x-trace-marker"), "{text}");
    assert!(text.contains("authorization"), "{text}");
    // ... but never the token.
    assert!(!text.contains(pair.access_token()), "{text}");
    assert!(!text.contains("not-a-token"), "{text}");
}

#[tokio::test]
async fn a_trace_layer_outside_the_bearer_layer_alone_would_log_the_token() {
    // Why the sensitive-headers layer goes outermost: the bearer layer marks the header only
    // from where it sits inward.
    let env = env();
    let pair = env.login("alice").await;
    let app = Router::new()
        .route("/me", get(me))
        .route_layer(BearerAuthLayer::new(&env.issuer).with_claims::<Profile>())
        .layer(trace_with_headers());
    let logs = Logs::default();
    let _guard = logs.capture();
    let response = app.oneshot(get_with(pair.access_token())).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(logs.text().contains(pair.access_token()));
}

#[tokio::test]
async fn tower_http_wrappers_inside_the_bearer_layer_are_served_and_rejected() {
    // Compression and tracing *inside* the bearer layer: the inner body is tower-http's,
    // which has no `Default` and no `From<String>`; the rejection has a body of its own.
    let env = env();
    let pair = env.login("alice").await;
    let handler = service_fn(|request: Request<Body>| async move {
        let sub = request
            .extensions()
            .get::<std::sync::Arc<Claims<Profile>>>()
            .unwrap()
            .sub
            .clone();
        Ok::<_, Infallible>(Response::new(Body::from(sub.repeat(100))))
    });
    let service = ServiceBuilder::new()
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
        ]))
        .layer(
            BearerAuthLayer::new(&env.issuer)
                .with_claims::<Profile>()
                .with_realm("api"),
        )
        .layer(trace_with_headers())
        .layer(CompressionLayer::new())
        .service(handler);

    let response = service
        .clone()
        .oneshot(get_with(pair.access_token()))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
    let compressed = response.into_body().collect().await.unwrap().to_bytes();
    assert!(!compressed.is_empty() && compressed.len() < 500);

    let response = service.oneshot(get_with("bad")).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        HeaderValue::from_static(
            r#"Bearer realm="api", error="invalid_token", error_description="malformed token""#
        )
    );
    // The layer's own JSON body: the wrappers inside it never saw the request.
    assert!(response.headers().get(header::CONTENT_ENCODING).is_none());
    assert_eq!(
        &response.into_body().collect().await.unwrap().to_bytes()[..],
        br#"{"error":"invalid_token","error_description":"malformed token"}"#
    );
}
