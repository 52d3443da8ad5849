//! RFC 9728 protected resource metadata: the document `ProtectedResourceMetadata` serves and
//! where, the configurations it refuses, the `resource_metadata` parameter of the bearer
//! layer's challenges, and a client that goes from a 401 to the issuer's keys and back with a
//! token (feature `remote-jwks`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use axum::{Router, body::Body, routing::get};
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use tower_jwt_auth::{
    BearerAuthLayer, ConfigError, Issuer, KeySet, Sessions, SigningKey, bearer::EmptyBodyRejection,
    endpoints::ProtectedResourceMetadata,
};

fn issuer() -> Issuer {
    Issuer::builder(KeySet::new(SigningKey::generate_ed25519().unwrap()))
        .with_issuer("https://auth.example")
        .build()
        .unwrap()
}

async fn get_document(metadata: &ProtectedResourceMetadata) -> (http::HeaderMap, Value) {
    let response = metadata
        .clone()
        .oneshot(Request::get(metadata.path()).body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (headers, serde_json::from_slice(&body).unwrap())
}

#[tokio::test]
async fn the_document_names_the_resource_its_issuers_and_how_tokens_are_sent() {
    let auth = BearerAuthLayer::new(&issuer());
    let metadata = ProtectedResourceMetadata::builder("https://api.example/mcp")
        .with_authorization_server("https://auth.example")
        .with_authorization_server("https://login.example/tenant")
        .with_scopes_supported(["files:read", "files:write"])
        .with_bearer_methods_of(&auth)
        .with_resource_name("Example files")
        .with_resource_documentation("https://docs.example/files")
        .with_jwks_uri("https://api.example/jwks.json")
        .with_max_age(Duration::from_secs(600))
        .build()
        .unwrap();
    assert_eq!(metadata.path(), "/.well-known/oauth-protected-resource/mcp");
    assert_eq!(
        metadata.url(),
        "https://api.example/.well-known/oauth-protected-resource/mcp"
    );
    let (headers, document) = get_document(&metadata).await;
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=600");
    assert_eq!(
        document,
        json!({
            "resource": "https://api.example/mcp",
            "authorization_servers": ["https://auth.example", "https://login.example/tenant"],
            "scopes_supported": ["files:read", "files:write"],
            "bearer_methods_supported": ["header"],
            "resource_name": "Example files",
            "resource_documentation": "https://docs.example/files",
            "jwks_uri": "https://api.example/jwks.json",
        })
    );

    // A resource at the root: the bare well-known path; only what was set is listed.
    let root = ProtectedResourceMetadata::builder("https://api.example/")
        .build()
        .unwrap();
    assert_eq!(root.path(), "/.well-known/oauth-protected-resource");
    assert_eq!(
        root.url(),
        "https://api.example/.well-known/oauth-protected-resource"
    );
    let (headers, document) = get_document(&root).await;
    assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=3600");
    assert_eq!(
        document,
        json!({ "resource": "https://api.example/", "bearer_methods_supported": ["header"] })
    );

    // A layer that reads the query parameter says so.
    let with_query = ProtectedResourceMetadata::builder("http://127.0.0.1:8080")
        .with_bearer_methods_of(&auth.clone().with_query_parameter())
        .build()
        .unwrap();
    let (_, document) = get_document(&with_query).await;
    assert_eq!(
        document["bearer_methods_supported"],
        json!(["header", "query"])
    );

    // Read-only.
    let refused = metadata
        .clone()
        .oneshot(Request::post(metadata.path()).body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(refused.headers()[header::ALLOW], "GET, HEAD");
}

#[test]
fn invalid_metadata_is_a_configuration_error() {
    let conflict = |builder: tower_jwt_auth::endpoints::ProtectedResourceMetadataBuilder| {
        matches!(builder.build(), Err(ConfigError::Conflict(_)))
    };
    for resource in [
        "http://api.example",
        "https://api.example/#fragment",
        "https://api.example/?tenant=1",
        "https://user@api.example",
        "api.example",
        "https://api.example/a b",
        "",
    ] {
        assert!(
            conflict(ProtectedResourceMetadata::builder(resource)),
            "{resource}"
        );
    }
    let resource = || ProtectedResourceMetadata::builder("https://api.example");
    assert!(conflict(
        resource().with_authorization_server("http://auth.example")
    ));
    assert!(conflict(resource().with_authorization_server("quickstart")));
    assert!(conflict(
        resource().with_jwks_uri("http://api.example/jwks.json")
    ));
    assert!(conflict(
        resource().with_resource_documentation("ftp://docs.example")
    ));
    assert!(matches!(
        resource().with_scopes_supported(["read", ""]).build(),
        Err(ConfigError::Empty(_))
    ));
    assert!(matches!(
        resource().with_resource_name("").build(),
        Err(ConfigError::Empty(_))
    ));
    // Loopback http is fine, for development.
    assert!(
        ProtectedResourceMetadata::builder("http://localhost:3000/api")
            .with_authorization_server("http://[::1]:4000")
            .build()
            .is_ok()
    );
}

/// The `resource_metadata` parameter of a challenge, if any.
fn resource_metadata(response: &http::Response<Body>) -> Option<String> {
    let challenge = response
        .headers()
        .get(header::WWW_AUTHENTICATE)?
        .to_str()
        .unwrap();
    let (_, rest) = challenge.split_once("resource_metadata=\"")?;
    Some(rest.split_once('"')?.0.to_owned())
}

#[tokio::test]
async fn every_bearer_challenge_names_the_metadata() {
    let issuer = issuer();
    let access = Sessions::new(issuer.clone())
        .start("alice")
        .await
        .unwrap()
        .access_token()
        .to_owned();
    let metadata = ProtectedResourceMetadata::builder("https://api.example/api")
        .with_authorization_server("https://auth.example")
        .build()
        .unwrap();
    let url = "https://api.example/.well-known/oauth-protected-resource/api";
    let auth = BearerAuthLayer::new(&issuer).with_resource_metadata(&metadata);
    let app = |auth: BearerAuthLayer| {
        Router::new()
            .route("/api", get(|| async { "hello" }))
            .route(
                "/api/admin",
                get(|| async { "admin" }).route_layer(auth.require_scope(["admin"])),
            )
            .route_layer(auth)
    };
    let call = |app: Router, path: &str, token: Option<&str>| {
        let mut request = Request::get(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        app.oneshot(request.body(Body::empty()).unwrap())
    };

    // No token: the bare challenge gets the parameter.
    let response = call(app(auth.clone()), "/api", None).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        format!(r#"Bearer resource_metadata="{url}""#)
    );
    // A bad token: after the error.
    let response = call(app(auth.clone()), "/api", Some("not.a.token"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap();
    assert!(
        challenge.starts_with(r#"Bearer error="invalid_token""#),
        "{challenge}"
    );
    assert_eq!(resource_metadata(&response).as_deref(), Some(url));
    // Insufficient scope: 403, the scope and the metadata.
    let response = call(app(auth.clone()), "/api/admin", Some(&access))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let challenge = response.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap();
    assert!(challenge.contains(r#"scope="admin""#), "{challenge}");
    assert_eq!(resource_metadata(&response).as_deref(), Some(url));
    // Accepted: no challenge.
    let response = call(app(auth.clone()), "/api", Some(&access))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // With a realm and another rejection handler, too; the parameter comes last.
    let empty = BearerAuthLayer::new(&issuer)
        .with_realm("api")
        .on_rejection(EmptyBodyRejection)
        .with_resource_metadata(&metadata);
    let response = Router::new()
        .route("/api", get(|| async { "hello" }))
        .route_layer(empty)
        .oneshot(Request::get("/api").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        format!(r#"Bearer realm="api", resource_metadata="{url}""#)
    );
    assert!(response.headers().get(header::CONTENT_TYPE).is_none());

    // Without the option, challenges stay as they were.
    let response = call(app(BearerAuthLayer::new(&issuer)), "/api", None)
        .await
        .unwrap();
    assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
}

#[cfg(feature = "remote-jwks")]
mod client_flow {
    use tokio::net::TcpListener;
    use tower_jwt_auth::{Verifier, endpoints::MetadataService, keys::RemoteJwks, token_routes};

    use super::*;

    async fn listen() -> (TcpListener, String) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        (listener, origin)
    }

    #[tokio::test]
    async fn a_client_finds_the_issuer_from_a_401_and_comes_back_with_its_token() {
        // The issuer, with its RFC 8414 metadata and key set.
        let (listener, issuer_origin) = listen().await;
        let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519().unwrap()))
            .with_issuer(issuer_origin.as_str())
            .with_audience("api")
            .build()
            .unwrap();
        let sessions = Sessions::new(issuer.clone());
        let as_metadata = MetadataService::new(&issuer, "/auth").unwrap();
        let as_path = as_metadata.path().to_owned();
        let issuer_app = Router::new()
            .nest(
                "/auth",
                token_routes(sessions.clone(), &BearerAuthLayer::new(&issuer)),
            )
            .route_service(&as_path, as_metadata);
        tokio::spawn(async move { axum::serve(listener, issuer_app).await.unwrap() });

        // The resource server: verifies with the keys it discovers from the issuer, and names
        // its metadata in its challenges.
        let (listener, resource_origin) = listen().await;
        let jwks = RemoteJwks::discover(issuer_origin.as_str())
            .allow_http_loopback()
            .build()
            .unwrap();
        jwks.refresh_now().await.unwrap();
        let verifier = Verifier::builder(jwks.keys())
            .with_issuer(jwks.issuer().unwrap())
            .with_audience("api")
            .build()
            .unwrap();
        let metadata = ProtectedResourceMetadata::builder(format!("{resource_origin}/api"))
            .with_authorization_server(issuer_origin.as_str())
            .build()
            .unwrap();
        let path = metadata.path().to_owned();
        let resource_app = Router::new()
            .route("/api", get(|| async { "the resource" }))
            .route_layer(BearerAuthLayer::new(verifier).with_resource_metadata(&metadata))
            .route_service(&path, metadata);
        tokio::spawn(async move { axum::serve(listener, resource_app).await.unwrap() });

        // The client knows only the resource's URL.
        let client = reqwest::Client::new();
        let resource = format!("{resource_origin}/api");
        let refused = client.get(&resource).send().await.unwrap();
        assert_eq!(refused.status(), 401);
        let challenge = refused.headers()["www-authenticate"].to_str().unwrap();
        let (_, rest) = challenge.split_once("resource_metadata=\"").unwrap();
        let metadata_url = rest.split_once('"').unwrap().0;
        assert_eq!(
            metadata_url,
            format!("{resource_origin}/.well-known/oauth-protected-resource/api")
        );
        let document: Value = client
            .get(metadata_url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(document["resource"], resource);
        let authorization_server = document["authorization_servers"][0].as_str().unwrap();
        assert_eq!(authorization_server, issuer_origin);

        // The client discovers the issuer's keys as any RFC 8414 client would.
        let found = RemoteJwks::discover(authorization_server)
            .allow_http_loopback()
            .build()
            .unwrap();
        found.refresh_now().await.unwrap();
        assert_eq!(found.issuer(), Some(issuer_origin.as_str()));
        assert_eq!(found.keys().verifying_keys().len(), 1);

        // Signed in at that issuer, the client comes back with its token.
        let access = sessions
            .start("alice")
            .await
            .unwrap()
            .access_token()
            .to_owned();
        let accepted = client
            .get(&resource)
            .bearer_auth(&access)
            .send()
            .await
            .unwrap();
        assert_eq!(accepted.status(), 200);
        assert_eq!(accepted.text().await.unwrap(), "the resource");
    }
}
