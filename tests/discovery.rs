//! Discovery (`RemoteJwks::discover`, feature `remote-jwks`) against issuers served on
//! 127.0.0.1:0: an issuer of this crate with its RFC 8414 metadata (`MetadataService`), and a
//! steerable server for OpenID Connect documents, documents that name another issuer, an
//! insecure `jwks_uri`, and keys that move.

#![cfg(feature = "remote-jwks")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use axum::{
    Json, Router,
    extract::State,
    http::{StatusCode, Uri},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tower_jwt_auth::{
    BearerAuthLayer, Claims, Issuer, KeySet, Sessions, SigningKey, Verifier,
    endpoints::MetadataService,
    keys::{RemoteJwks, RemoteJwksError},
    token_routes,
};

/// Serves `app` on 127.0.0.1:0 until the test ends; the server's origin.
async fn serve(app: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    origin
}

/// An issuer of this crate named `iss`, and a session's access token.
async fn issuer(iss: &str) -> (Issuer, String) {
    let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519().unwrap()))
        .with_issuer(iss)
        .with_audience("api")
        .build()
        .unwrap();
    let pair = Sessions::new(issuer.clone()).start("alice").await.unwrap();
    (issuer, pair.access_token().to_owned())
}

fn verifier(jwks: &RemoteJwks) -> Verifier {
    Verifier::builder(jwks.keys())
        .with_issuer(jwks.issuer().unwrap())
        .with_audience("api")
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_resource_server_finds_the_issuers_keys_from_its_url_alone() {
    // The issuer's URL is only known once it listens: bind first, then build the issuer.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let (issuer, access) = issuer(&origin).await;
    let metadata = MetadataService::new(&issuer, "/auth").unwrap();
    let auth = BearerAuthLayer::new(&issuer);
    let path = metadata.path().to_owned();
    let app = Router::new()
        .nest("/auth", token_routes(Sessions::new(issuer.clone()), &auth))
        .route_service(&path, metadata);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    // No OpenID Connect document here: discovery falls back to RFC 8414.
    let jwks = RemoteJwks::discover(origin.as_str())
        .allow_http_loopback()
        .build()
        .unwrap();
    assert_eq!(jwks.issuer(), Some(origin.as_str()));
    assert!(jwks.keys().verifying_keys().is_empty());
    jwks.refresh_now().await.unwrap();
    assert_eq!(jwks.keys().verifying_keys().len(), 1);
    let claims: Claims = verifier(&jwks).verify_access(&access).unwrap();
    assert_eq!(claims.sub, "alice");

    // The document itself, as any RFC 8414 client reads it.
    let document: Value = reqwest::get(format!("{origin}/.well-known/oauth-authorization-server"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(document["issuer"], origin.as_str());
    assert_eq!(document["jwks_uri"], format!("{origin}/auth/jwks.json"));
    assert_eq!(document["token_endpoint"], format!("{origin}/auth/refresh"));
    assert_eq!(
        document["revocation_endpoint"],
        format!("{origin}/auth/revoke")
    );
}

/// What the steerable server answers.
#[derive(Default)]
struct Served {
    /// The OpenID Connect document, if any (else 404).
    openid: Option<Value>,
    /// The RFC 8414 document, if any (else 404).
    oauth: Option<Value>,
    /// The path the keys are served at (others: 404).
    jwks_path: String,
    /// The paths asked for, in order.
    hits: Vec<String>,
}

#[derive(Clone)]
struct Steered {
    keys: KeySet,
    served: Arc<Mutex<Served>>,
}

async fn answer(State(server): State<Steered>, uri: Uri) -> Response {
    let mut served = server.served.lock().unwrap();
    let path = uri.path().to_owned();
    served.hits.push(path.clone());
    let document = match path.as_str() {
        "/.well-known/openid-configuration" => served.openid.clone(),
        "/.well-known/oauth-authorization-server" => served.oauth.clone(),
        _ if path == served.jwks_path => return Json(server.keys.jwks()).into_response(),
        _ => None,
    };
    document.map_or_else(
        || StatusCode::NOT_FOUND.into_response(),
        |document| Json(document).into_response(),
    )
}

/// A steerable issuer's server, the issuer's own keys and an access token it signed.
async fn steered() -> (Steered, String, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let (issuer, access) = issuer(&origin).await;
    let server = Steered {
        keys: issuer.keys().clone(),
        served: Arc::new(Mutex::new(Served {
            jwks_path: "/keys-a".to_owned(),
            ..Served::default()
        })),
    };
    let app = Router::new().fallback(answer).with_state(server.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (server, origin, access)
}

fn document(issuer: &str, jwks_uri: &str) -> Value {
    json!({ "issuer": issuer, "jwks_uri": jwks_uri })
}

fn discover(origin: &str) -> RemoteJwks {
    RemoteJwks::discover(origin)
        .allow_http_loopback()
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_openid_connect_document_is_read_first() {
    let (server, origin, access) = steered().await;
    {
        let mut served = server.served.lock().unwrap();
        served.openid = Some(document(&origin, &format!("{origin}/keys-a")));
        served.oauth = Some(document(&origin, &format!("{origin}/elsewhere")));
    }
    let jwks = discover(&origin);
    jwks.refresh_now().await.unwrap();
    let _: Claims = verifier(&jwks).verify_access(&access).unwrap();
    assert_eq!(
        server.served.lock().unwrap().hits,
        ["/.well-known/openid-configuration", "/keys-a"]
    );
}

#[tokio::test]
async fn a_document_naming_another_issuer_gives_no_keys() {
    let (server, origin, access) = steered().await;
    // A server that hands out the keys of an issuer it is not (or a trailing-slash variant):
    // never trusted, wherever it is found.
    for named in [format!("{origin}/"), "https://auth.example".to_owned()] {
        server.served.lock().unwrap().openid = Some(document(&named, &format!("{origin}/keys-a")));
        let jwks = discover(&origin);
        let err = jwks.refresh_now().await.unwrap_err();
        assert!(matches!(err, RemoteJwksError::IssuerMismatch), "{err:?}");
        assert!(jwks.keys().verifying_keys().is_empty());
        assert!(
            verifier(&jwks)
                .verify_access::<tower_jwt_auth::token::NoCustomClaims>(&access)
                .is_err()
        );
    }
    // Only the documents were read, never the keys.
    assert!(
        !server
            .served
            .lock()
            .unwrap()
            .hits
            .iter()
            .any(|hit| hit == "/keys-a"),
        "{:?}",
        server.served.lock().unwrap().hits
    );
}

#[tokio::test]
async fn a_jwks_uri_the_configured_url_would_not_be_allowed_is_refused() {
    let (server, origin, _) = steered().await;
    server.served.lock().unwrap().oauth = Some(document(&origin, "http://keys.example/jwks.json"));
    let err = discover(&origin).refresh_now().await.unwrap_err();
    assert!(matches!(err, RemoteJwksError::InsecureUrl), "{err:?}");

    server.served.lock().unwrap().oauth = Some(json!({ "issuer": origin }));
    let err = discover(&origin).refresh_now().await.unwrap_err();
    assert!(
        matches!(err, RemoteJwksError::InvalidMetadata(_)),
        "{err:?}"
    );

    server.served.lock().unwrap().oauth = None;
    let err = discover(&origin).refresh_now().await.unwrap_err();
    assert!(matches!(err, RemoteJwksError::Status(404)), "{err:?}");
}

#[tokio::test]
async fn keys_that_move_are_found_again_after_a_failed_fetch() {
    let (server, origin, access) = steered().await;
    server.served.lock().unwrap().oauth = Some(document(&origin, &format!("{origin}/keys-a")));
    let jwks = discover(&origin);
    jwks.refresh_now().await.unwrap();

    // The issuer moves its keys: the old location answers 404, the metadata the new one.
    {
        let mut served = server.served.lock().unwrap();
        served.jwks_path = "/keys-b".to_owned();
        served.oauth = Some(document(&origin, &format!("{origin}/keys-b")));
        served.hits.clear();
    }
    // The next fetch uses the known location and fails, keeping the keys; the one after it
    // reads the metadata again and follows.
    assert!(matches!(
        jwks.refresh_now().await,
        Err(RemoteJwksError::Status(404))
    ));
    let _: Claims = verifier(&jwks).verify_access(&access).unwrap();
    jwks.refresh_now().await.unwrap();
    let _: Claims = verifier(&jwks).verify_access(&access).unwrap();
    assert_eq!(
        server.served.lock().unwrap().hits,
        [
            "/keys-a",
            "/.well-known/openid-configuration",
            "/.well-known/oauth-authorization-server",
            "/keys-b"
        ]
    );
}

#[tokio::test]
async fn an_issuer_that_is_not_a_url_has_no_metadata() {
    let (issuer, _) = issuer("quickstart").await;
    assert!(MetadataService::new(&issuer, "/auth").is_err());
    assert!(matches!(
        RemoteJwks::discover("quickstart").build(),
        Err(RemoteJwksError::InvalidUrl(_))
    ));
    // `serve` is used by the other tests through a listener bound first; keep it exercised.
    let origin = serve(Router::new()).await;
    let err = discover(&origin).refresh_now().await.unwrap_err();
    assert!(matches!(err, RemoteJwksError::Status(404)), "{err:?}");
}
