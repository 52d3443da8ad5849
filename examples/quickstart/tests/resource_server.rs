//! The crate's resource server example (`examples/resource_server.rs`, its own code) in
//! front of a running quickstart: given only the quickstart's URL, it finds the keys through
//! the quickstart's metadata and accepts its access tokens; it refuses a request without a
//! token and the tokens of another issuer.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

// Its `main` is not called here: `routes` is the resource server.
#[allow(dead_code)]
#[path = "../../resource_server.rs"]
mod example;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// Sends `request`; the answer's JSON body.
async fn json_of(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

/// Signs a user up at the quickstart at `url`; the access token.
async fn access_token(http: &reqwest::Client, url: &str) -> String {
    let signup = http
        .post(format!("{url}/auth/signup"))
        .json(&json!({"username": "alice", "password": "correct horse battery"}));
    let pair = json_of(signup).await;
    pair["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_resource_server_example_accepts_the_quickstarts_tokens_by_discovery_alone() {
    let issuer = support::serve_on_loopback().await;
    let resource = example::routes(&issuer).await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let me = format!("http://{}/me", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, resource).await.unwrap() });

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let token = access_token(&http, &issuer).await;
    let answer = http.get(&me).bearer_auth(&token).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let sub = answer.json::<String>().await.unwrap();
    let profile = json_of(http.get(format!("{issuer}/me")).bearer_auth(&token)).await;
    assert_eq!(profile["sub"], sub);

    let without = http.get(&me).send().await.unwrap();
    assert_eq!(without.status(), StatusCode::UNAUTHORIZED);
    // Another quickstart: another URL and another key, so neither its `iss` nor its
    // signature is the one the resource server knows.
    let other = support::serve_on_loopback().await;
    let foreign = access_token(&http, &other).await;
    let refused = http.get(&me).bearer_auth(&foreign).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
}
