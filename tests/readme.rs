//! The README's axum program is the one that runs: the README block is `examples/axum`'s
//! code, verbatim, at most 20 lines, and it answers what the README says.

#![allow(clippy::unwrap_used, clippy::expect_used)]

include!("../examples/axum/readme.rs");

use axum::{body::Body, http::Request};
use http::{StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

const CODE: &str = include_str!("../examples/axum/readme.rs");

fn readme_block() -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("## axum in 20 lines")
        .nth(1)
        .expect("the section");
    let block = section.split("```rust\n").nth(1).expect("a rust block");
    block.split("```").next().unwrap().to_owned()
}

#[test]
fn the_readme_shows_the_example_verbatim_in_at_most_20_lines() {
    assert_eq!(readme_block(), CODE);
    assert!(CODE.lines().count() <= 20, "{} lines", CODE.lines().count());
    assert!(CODE.contains(".route_layer(auth"));
}

async fn send(
    app: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
) -> axum::response::Response {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    app.clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn the_readme_program_answers_as_documented() {
    let app = app().unwrap();

    // Unknown paths are not authentication errors.
    assert_eq!(
        send(&app, "GET", "/nope", None).await.status(),
        StatusCode::NOT_FOUND
    );
    let response = send(&app, "GET", "/me", None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");

    let login = send(&app, "POST", "/login", None).await;
    assert_eq!(login.status(), StatusCode::OK);
    let body = login.into_body().collect().await.unwrap().to_bytes();
    let pair: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let access = pair["access_token"].as_str().unwrap();

    let me = send(&app, "GET", "/me", Some(access)).await;
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(
        &me.into_body().collect().await.unwrap().to_bytes()[..],
        b"\"alice\""
    );
    let admin = send(&app, "GET", "/admin", Some(access)).await;
    assert_eq!(admin.status(), StatusCode::FORBIDDEN);
    assert!(
        admin.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );

    assert_eq!(
        send(&app, "POST", "/auth/logout", Some(access))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        send(&app, "GET", "/me", Some(access)).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

/// The README's "Testing your handlers" block.
fn testing_block() -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("## Testing your handlers")
        .nth(1)
        .expect("the section");
    let block = section.split("```rust\n").nth(1).expect("a rust block");
    block.split("```").next().unwrap().to_owned()
}

#[test]
fn the_readme_testing_section_is_tests_readme_testing_verbatim_in_at_most_40_lines() {
    let file = include_str!("readme_testing.rs");
    let code = file.split_once("\n\n").unwrap().1;
    assert_eq!(testing_block(), code);
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme.split("## Testing your handlers").nth(1).unwrap();
    let lines = section.split("\n## ").next().unwrap().lines().count();
    assert!(lines <= 40, "{lines} lines");
}
