//! The DPoP client example (`examples/dpop_client.rs`, its own code, proofs made with
//! jsonwebtoken) against a running quickstart: its tokens are bound at signup, accepted on a
//! protected route with a proof of the key, refreshed with one, and refused without it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

// Its `main` is not called here.
#[allow(dead_code)]
#[path = "../examples/dpop_client.rs"]
mod example;

use example::DpopClient;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_example_signs_up_calls_and_refreshes_with_bound_tokens() {
    let server = support::serve_on_loopback().await;
    let steps = example::run(&server, "dana").await.unwrap();
    assert_eq!(
        steps,
        [
            r#"signup: token_type "DPoP""#,
            "/me: 200 OK",
            r#"refresh: token_type "DPoP""#,
            "/me: 200 OK",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bound_token_is_refused_without_its_key_as_a_bearer_token_and_with_a_replayed_proof() {
    let server = support::serve_on_loopback().await;
    let mut client = DpopClient::new().unwrap();
    let credentials = json!({"username": "erin", "password": "correct horse battery"});
    let signup = format!("{server}/auth/signup");
    let pair: Value = client
        .send(Method::POST, &signup, None, Some(&credentials))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = pair["access_token"].as_str().unwrap();
    let me = format!("{server}/me");
    let http = reqwest::Client::new();

    // As a bearer token: refused, whoever sends it.
    let bearer = http.get(&me).bearer_auth(token).send().await.unwrap();
    assert_eq!(bearer.status(), StatusCode::UNAUTHORIZED);

    // With the DPoP scheme but a proof of another key.
    let thief = DpopClient::new().unwrap();
    let stolen = http
        .get(&me)
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", thief.proof(&Method::GET, &me, Some(token)).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(stolen.status(), StatusCode::UNAUTHORIZED);
    let challenge = stolen.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with("DPoP "), "{challenge}");
    assert!(
        challenge.contains(r#"error="invalid_dpop_proof""#),
        "{challenge}"
    );

    // The client's own proof: accepted once, refused when replayed.
    let proof = client.proof(&Method::GET, &me, Some(token)).unwrap();
    let send = |proof: String| {
        http.get(&me)
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", proof)
            .send()
    };
    assert_eq!(send(proof.clone()).await.unwrap().status(), StatusCode::OK);
    assert_eq!(
        send(proof).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

#[test]
fn the_readme_shows_the_examples_proof_verbatim() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let section = readme
        .split("## Sender-constrained tokens (DPoP)")
        .nth(1)
        .expect("the section");
    let block = section
        .split("```rust,ignore\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a rust block");
    // The example's lines, as the README shows them: without the method's indentation.
    let example: String = include_str!("../examples/dpop_client.rs")
        .lines()
        .map(|line| format!("{}\n", line.strip_prefix("        ").unwrap_or(line)))
        .collect();
    assert!(block.lines().count() >= 15, "{block}");
    assert!(
        example.contains(block),
        "the README's block is not the example's code:\n{block}"
    );
}
