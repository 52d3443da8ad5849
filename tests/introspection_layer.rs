//! A resource server whose bearer layer asks the issuer, by RFC 7662 introspection, whether a
//! token is still active (`BearerAuthLayer::with_introspection`, feature `remote-jwks`),
//! against a real issuer serving `endpoints::IntrospectionService` on 127.0.0.1:0: a logout
//! at the issuer is refused within the cache TTL, kept answers spare the issuer, and any
//! failure to get an answer is 503, never 200.

#![cfg(feature = "remote-jwks")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::{
    convert::Infallible,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{Router, body::Body};
use common::{AUD, ISS, env};
use http::{Request, Response, StatusCode};
use tokio::net::TcpListener;
use tower::{ServiceBuilder, ServiceExt, service_fn};
use tower_jwt_auth::{
    BearerAuthLayer, Verifier, bearer::Introspector, endpoints::IntrospectionService,
    token::NoCustomClaims,
};

const CLIENT: &str = "orders-api";
const SECRET: &str = "the-orders-api-secret";

/// The issuer's introspection endpoint on a loopback port: its URL, its request counter and
/// its task (abort it to take the issuer down).
struct IssuerServer {
    url: String,
    requests: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

async fn start_issuer(env: &common::Env) -> IssuerServer {
    let service = IntrospectionService::new(env.issuer.verifier())
        .with_client(CLIENT, SECRET)
        .unwrap();
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    let counted = ServiceBuilder::new()
        .map_request(move |request: Request<Body>| {
            counter.fetch_add(1, Ordering::SeqCst);
            request
        })
        .service(service);
    let app = Router::new().route_service("/introspect", counted);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/introspect", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    IssuerServer {
        url,
        requests,
        task,
    }
}

fn introspector(url: &str, secret: &str) -> tower_jwt_auth::bearer::IntrospectorBuilder {
    Introspector::builder(url, CLIENT, secret)
        .allow_http_loopback()
        .with_timeout(Duration::from_secs(2))
}

/// The resource server: the issuer's keys and the same mock clock, but not its revocation
/// store; only introspection tells it of a logout.
fn resource_server(
    env: &common::Env,
    introspector: Introspector,
) -> impl tower::Service<
    Request<()>,
    Response = Response<tower_jwt_auth::bearer::ResponseBody<String>>,
    Error = Infallible,
    Future: Send,
> + Clone {
    let verifier = Verifier::builder(env.issuer.keys().clone())
        .with_issuer(ISS)
        .with_audience(AUD)
        .with_clock(env.clock.clone())
        .build()
        .unwrap();
    ServiceBuilder::new()
        .layer(BearerAuthLayer::new(verifier).with_introspection(introspector))
        .service(service_fn(|_: Request<()>| async {
            Ok::<_, Infallible>(Response::new("hello".to_owned()))
        }))
}

async fn status<S>(service: &S, token: &str) -> StatusCode
where
    S: tower::Service<
            Request<()>,
            Response = Response<tower_jwt_auth::bearer::ResponseBody<String>>,
            Error = Infallible,
        > + Clone,
{
    let request = Request::get("/")
        .header("authorization", format!("Bearer {token}"))
        .body(())
        .unwrap();
    service.clone().oneshot(request).await.unwrap().status()
}

fn sid(env: &common::Env, token: &str) -> String {
    env.issuer
        .verifier()
        .verify_access::<NoCustomClaims>(token)
        .unwrap()
        .sid
}

#[tokio::test]
async fn a_logout_is_refused_within_the_ttl_and_kept_answers_spare_the_issuer() {
    let env = env();
    let issuer = start_issuer(&env).await;
    let ttl = Duration::from_secs(5);
    let service = resource_server(
        &env,
        introspector(&issuer.url, SECRET)
            .with_cache_ttl(ttl)
            .build()
            .unwrap(),
    );
    let pair = env.login("alice").await;
    let token = pair.access_token();

    assert_eq!(status(&service, token).await, StatusCode::OK);
    assert_eq!(issuer.requests.load(Ordering::SeqCst), 1);
    // Kept: no second request within the TTL.
    env.clock.advance(Duration::from_secs(1));
    assert_eq!(status(&service, token).await, StatusCode::OK);
    assert_eq!(issuer.requests.load(Ordering::SeqCst), 1);

    env.sessions.logout(&sid(&env, token)).await.unwrap();
    // The kept answer still holds until the TTL runs out: step the clock until the first
    // refusal, and measure the delay from the logout.
    let mut delay = Duration::ZERO;
    let step = Duration::from_millis(100);
    while status(&service, token).await == StatusCode::OK {
        assert!(delay < ttl, "still accepted {delay:?} after the logout");
        env.clock.advance(step);
        delay += step;
    }
    println!("logout to first refusal (ttl {ttl:?}, answer 1 s old at logout): {delay:?}");
    assert!(delay <= ttl - Duration::from_secs(1) + step);
    assert_eq!(status(&service, token).await, StatusCode::UNAUTHORIZED);
    // The refusal is kept too: no new request.
    let asked = issuer.requests.load(Ordering::SeqCst);
    assert_eq!(status(&service, token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(issuer.requests.load(Ordering::SeqCst), asked);
    issuer.task.abort();
}

#[tokio::test]
async fn a_revoked_token_is_refused_with_invalid_token() {
    let env = env();
    let issuer = start_issuer(&env).await;
    let service = resource_server(&env, introspector(&issuer.url, SECRET).build().unwrap());
    let pair = env.login("alice").await;
    env.sessions
        .logout(&sid(&env, pair.access_token()))
        .await
        .unwrap();
    let request = Request::get("/")
        .header("authorization", format!("Bearer {}", pair.access_token()))
        .body(())
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    issuer.task.abort();
}

#[tokio::test]
async fn an_issuer_that_is_down_means_503() {
    let env = env();
    let issuer = start_issuer(&env).await;
    let url = issuer.url.clone();
    issuer.task.abort();
    let _ = issuer.task.await;
    let service = resource_server(&env, introspector(&url, SECRET).build().unwrap());
    let pair = env.login("alice").await;
    assert_eq!(
        status(&service, pair.access_token()).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test]
async fn a_wrong_client_secret_means_503_and_a_warning() {
    let logs = common::Logs::default();
    let _capture = logs.capture();
    let env = env();
    let issuer = start_issuer(&env).await;
    let service = resource_server(
        &env,
        introspector(&issuer.url, "not-the-orders-api-secret")
            .build()
            .unwrap(),
    );
    let pair = env.login("alice").await;
    assert_eq!(
        status(&service, pair.access_token()).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let line = logs.line("token introspection failed");
    assert!(line.contains("WARN") && line.contains("401"), "{line}");
    assert!(!logs.text().contains(pair.access_token()));
    assert!(!logs.text().contains("not-the-orders-api-secret"));
    // Failures are not kept: the next request asks again.
    assert_eq!(
        status(&service, pair.access_token()).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(issuer.requests.load(Ordering::SeqCst), 2);
    issuer.task.abort();
}

#[tokio::test]
async fn the_cache_holds_at_most_its_capacity() {
    let env = env();
    let issuer = start_issuer(&env).await;
    let service = resource_server(
        &env,
        introspector(&issuer.url, SECRET)
            .with_cache_capacity(2)
            .build()
            .unwrap(),
    );
    let mut tokens = Vec::new();
    for i in 0..6 {
        tokens.push(env.login(&format!("user{i}")).await);
    }
    for pair in &tokens {
        assert_eq!(status(&service, pair.access_token()).await, StatusCode::OK);
    }
    assert_eq!(issuer.requests.load(Ordering::SeqCst), 6);
    // Six answers do not fit in two places: asking again for all six asks the issuer again
    // for at least four of them.
    for pair in &tokens {
        assert_eq!(status(&service, pair.access_token()).await, StatusCode::OK);
    }
    assert!(issuer.requests.load(Ordering::SeqCst) >= 10);
    issuer.task.abort();
}
