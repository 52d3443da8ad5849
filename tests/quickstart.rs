//! The quickstart server over real HTTP: every endpoint, every error a client can meet, forged
//! and expired tokens, rotation, reuse detection, logout and revocation.
//!
//! Each test starts the example's application on 127.0.0.1:0 in its own runtime and talks to
//! it with an HTTP client. Time is a mock clock handed to the server's configuration: tests
//! move it forward instead of sleeping.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../examples/quickstart.rs"]
#[allow(dead_code, unreachable_pub)]
mod quickstart;

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use aws_lc_rs::{
    hmac,
    rand::SystemRandom,
    signature::{Ed25519KeyPair, KeyPair},
};
use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use quickstart::{Config, app, serve};
use reqwest::{
    Response, StatusCode,
    header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap},
};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tower_jwt_auth::{Issuer, clock::MockClock};

/// The tests' "now": 2027-01-15T08:00:00Z.
const T0: u64 = 1_800_000_000;
const PASSWORD: &str = "correct horse battery";

/// The RFC 8037 appendix A.1 Ed25519 key, PKCS#8 as `openssl genpkey` writes it.
const RFC8037_PRIVATE_PEM: &str = "-----BEGIN PRIVATE KEY-----\n\
    MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n\
    -----END PRIVATE KEY-----\n";
/// Its public half, as PEM text (the classic HMAC-confusion "secret").
const RFC8037_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----\n\
    MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n\
    -----END PUBLIC KEY-----\n";
/// Its RFC 7638 thumbprint (RFC 8037 appendix A.3), the server's `kid`.
const RFC8037_KID: &str = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";
/// Its public key `x`.
const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

// ----- harness -----

/// A running quickstart server.
struct Server {
    base: String,
    http: reqwest::Client,
    clock: MockClock,
    issuer: Issuer,
}

async fn start() -> Server {
    start_with(|_| {}).await
}

async fn start_with(configure: impl FnOnce(&mut Config)) -> Server {
    let clock = MockClock::at_secs(T0);
    let mut config = Config {
        clock: Some(Arc::new(clock.clone())),
        ..Config::default()
    };
    configure(&mut config);
    let app = app(&config).unwrap();
    let issuer = app.issuer.clone();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(listener, app, std::future::pending()));
    Server {
        base,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        clock,
        issuer,
    }
}

/// A key file that is removed when dropped.
struct KeyFile(PathBuf);

impl KeyFile {
    fn new(contents: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "quickstart-test-key-{}-{}.pem",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, contents).unwrap();
        Self(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for KeyFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A server signing with the RFC 8037 key, so that tests can forge with the real key.
async fn start_with_known_key() -> Server {
    let key = KeyFile::new(RFC8037_PRIVATE_PEM);
    start_with(|c| c.signing_key_file = Some(key.path().to_owned())).await
}

fn credentials(username: &str, password: &str) -> Value {
    json!({ "username": username, "password": password })
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }

    async fn get(&self, path: &str) -> Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }

    async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    async fn post_raw(&self, path: &str, content_type: Option<&str>, body: String) -> Response {
        let mut request = self.http.post(self.url(path)).body(body);
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        request.send().await.unwrap()
    }

    async fn get_bearer(&self, path: &str, token: &str) -> Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    async fn post_bearer(&self, path: &str, token: &str) -> Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// Signs up and returns the token response.
    async fn signup(&self, username: &str) -> Value {
        let response = self
            .post_json("/auth/signup", &credentials(username, PASSWORD))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "signup {username}");
        response.json().await.unwrap()
    }

    /// Logs in and returns the token response.
    async fn login(&self, username: &str) -> Value {
        let response = self
            .post_json("/auth/login", &credentials(username, PASSWORD))
            .await;
        assert_eq!(response.status(), StatusCode::OK, "login {username}");
        response.json().await.unwrap()
    }

    async fn refresh(&self, refresh_token: &str) -> Response {
        self.post_json("/auth/refresh", &json!({ "refresh_token": refresh_token }))
            .await
    }

    /// The status of `GET /me` with `access_token`.
    async fn me_status(&self, access_token: &str) -> StatusCode {
        self.get_bearer("/me", access_token).await.status()
    }

    /// The status of a refresh with `refresh_token`, after checking the error shape.
    async fn refresh_status(&self, refresh_token: &str) -> StatusCode {
        let response = self.refresh(refresh_token).await;
        let status = response.status();
        if status != StatusCode::OK {
            let (_, _, body) = json_error(response).await;
            assert_eq!(body["error"], "invalid_grant");
        }
        status
    }
}

fn access(pair: &Value) -> &str {
    pair["access_token"].as_str().unwrap()
}

fn refresh_token(pair: &Value) -> &str {
    pair["refresh_token"].as_str().unwrap()
}

/// Decodes the header (0) or the payload (1) of a compact JWS.
fn jws_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Status, headers and JSON body of an error response, after checking that the body is the
/// `{"error", "error_description"}` object a client parses.
async fn json_error(response: Response) -> (StatusCode, HeaderMap, Value) {
    let status = response.status();
    let headers = response.headers().clone();
    assert!(
        headers[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "{status}: {headers:?}"
    );
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    (status, headers, body)
}

fn challenge(headers: &HeaderMap) -> &str {
    headers["www-authenticate"].to_str().unwrap()
}

/// A 401 `invalid_token` with the RFC 6750 challenge; returns its description.
async fn expect_invalid_token(response: Response) -> String {
    let (status, headers, body) = json_error(response).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "invalid_token");
    let description = body["error_description"].as_str().unwrap().to_owned();
    assert_eq!(
        challenge(&headers),
        format!(
            r#"Bearer realm="quickstart", error="invalid_token", error_description="{description}""#
        )
    );
    description
}

fn assert_not_cached(headers: &HeaderMap) {
    assert_eq!(headers["cache-control"], "no-store");
}

// ----- forging -----

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn signing_input(header: &Value, claims: &Value) -> String {
    format!("{}.{}", b64(header.to_string()), b64(claims.to_string()))
}

fn sign_ed25519(key: &Ed25519KeyPair, header: &Value, claims: &Value) -> String {
    let input = signing_input(header, claims);
    let signature = key.sign(input.as_bytes());
    format!("{input}.{}", b64(signature.as_ref()))
}

fn sign_hs256(secret: &[u8], header: &Value, claims: &Value) -> String {
    let input = signing_input(header, claims);
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), input.as_bytes());
    format!("{input}.{}", b64(tag.as_ref()))
}

fn rfc8037_key() -> Ed25519KeyPair {
    let der: String = RFC8037_PRIVATE_PEM
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    Ed25519KeyPair::from_pkcs8(&STANDARD.decode(der).unwrap()).unwrap()
}

fn random_key() -> Ed25519KeyPair {
    let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    Ed25519KeyPair::from_pkcs8(doc.as_ref()).unwrap()
}

fn access_header(alg: &str, kid: &str) -> Value {
    json!({ "alg": alg, "kid": kid, "typ": "at+jwt" })
}

/// The claims of an access token the server would accept, at mock time `now`.
fn access_claims(now: u64) -> Value {
    json!({
        "iss": "quickstart", "aud": "quickstart-api", "sub": "mallory",
        "exp": now + 600, "iat": now, "jti": "forged-jti", "sid": "forged-sid",
        "scope": "read write admin"
    })
}

// ----- tests -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_public() {
    let server = start().await;
    let response = server.get("/health").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_and_methods_are_not_auth_errors() {
    let server = start().await;
    assert_eq!(server.get("/nope").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        server.get("/auth/signup").await.status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signup_starts_a_session_with_read_write() {
    let server = start().await;
    let response = server
        .post_json("/auth/signup", &credentials("alice", PASSWORD))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_not_cached(response.headers());
    assert_eq!(response.headers()["pragma"], "no-cache");
    assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
    let pair: Value = response.json().await.unwrap();
    assert_eq!(pair["token_type"], "Bearer");
    assert_eq!(pair["expires_in"], 900);
    assert_eq!(pair["refresh_expires_in"], 1_209_600);
    assert_eq!(pair["scope"], "read write");

    // What a resource server relies on: EdDSA, at+jwt, iss and aud.
    let header = jws_part(access(&pair), 0);
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["typ"], "at+jwt");
    assert!(header["kid"].is_string());
    let claims = jws_part(access(&pair), 1);
    assert_eq!(claims["iss"], "quickstart");
    assert_eq!(claims["aud"], "quickstart-api");
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["exp"], T0 + 900);
    assert_eq!(jws_part(refresh_token(&pair), 0)["typ"], "refresh+jwt");

    let response = server.get_bearer("/me", access(&pair)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let me: Value = response.json().await.unwrap();
    assert_eq!(me["sub"], "alice");
    assert_eq!(me["scope"], "read write");
    assert_eq!(me["sid"], claims["sid"]);
    assert_eq!(me["exp"], T0 + 900);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signup_refuses_a_taken_username() {
    let server = start().await;
    server.signup("alice").await;
    let response = server
        .post_json("/auth/signup", &credentials("alice", "another password"))
        .await;
    let (status, _, body) = json_error(response).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"], "username_taken");
    // The first account is untouched.
    server.login("alice").await;
    let response = server
        .post_json("/auth/login", &credentials("alice", "another password"))
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_signups_of_one_name_create_one_account() {
    let server = Arc::new(start().await);
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let server = server.clone();
            tokio::spawn(async move {
                let password = format!("password number {i}");
                let response = server
                    .post_json("/auth/signup", &credentials("bob", &password))
                    .await;
                (response.status(), password)
            })
        })
        .collect();
    let mut created = Vec::new();
    for task in tasks {
        let (status, password) = task.await.unwrap();
        match status {
            StatusCode::CREATED => created.push(password),
            StatusCode::CONFLICT => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(created.len(), 1, "exactly one signup wins");
    let response = server
        .post_json("/auth/login", &credentials("bob", &created[0]))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signup_refuses_bad_requests_with_json_errors() {
    let server = start().await;
    let json = Some("application/json");
    let long_name = "n".repeat(65);
    let cases: Vec<(&str, Option<&str>, String, StatusCode)> = vec![
        (
            "missing password",
            json,
            r#"{"username":"carol"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "missing username",
            json,
            format!(r#"{{"password":"{PASSWORD}"}}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "empty object",
            json,
            "{}".into(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "password not a string",
            json,
            r#"{"username":"carol","password":12345678}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("array", json, "[]".into(), StatusCode::UNPROCESSABLE_ENTITY),
        (
            "password of 7 characters",
            json,
            credentials("carol", "1234567").to_string(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "password of 1025 characters",
            json,
            credentials("carol", &"p".repeat(1025)).to_string(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "empty username",
            json,
            credentials("", PASSWORD).to_string(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "username of 65 characters",
            json,
            credentials(&long_name, PASSWORD).to_string(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "username with a control character",
            json,
            credentials("car\u{7}ol", PASSWORD).to_string(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "broken JSON",
            json,
            r#"{"username": "carol", "password""#.into(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "wrong content type",
            Some("text/plain"),
            credentials("carol", PASSWORD).to_string(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "form content type",
            Some("application/x-www-form-urlencoded"),
            "username=carol&password=correct+horse+battery".into(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "no content type",
            None,
            credentials("carol", PASSWORD).to_string(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "body over 64 KiB",
            json,
            credentials("carol", &"p".repeat(70 * 1024)).to_string(),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    for (case, content_type, body, expected) in cases {
        let response = server.post_raw("/auth/signup", content_type, body).await;
        assert_eq!(response.status(), expected, "{case}");
        let (_, _, body) = json_error(response).await;
        assert_eq!(body["error"], "invalid_request", "{case}");
    }
    // None of them created an account; the limits themselves are allowed.
    let response = server
        .post_json("/auth/login", &credentials("carol", PASSWORD))
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    for (name, password) in [
        ("n".repeat(64), PASSWORD.to_owned()),
        ("carol".to_owned(), "12345678".to_owned()),
        ("ünïcödé ✓".to_owned(), "p".repeat(1024)),
    ] {
        let response = server
            .post_json("/auth/signup", &credentials(&name, &password))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_starts_another_session() {
    let server = start().await;
    let first = server.signup("alice").await;
    let response = server
        .post_json("/auth/login", &credentials("alice", PASSWORD))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_not_cached(response.headers());
    let second: Value = response.json().await.unwrap();
    assert_eq!(second["token_type"], "Bearer");
    assert_eq!(second["scope"], "read write");
    assert_ne!(
        jws_part(access(&first), 1)["sid"],
        jws_part(access(&second), 1)["sid"]
    );
    assert_eq!(server.me_status(access(&first)).await, StatusCode::OK);
    assert_eq!(server.me_status(access(&second)).await, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_failures_are_indistinguishable() {
    let server = start().await;
    server.signup("alice").await;
    let wrong_password = server
        .post_json("/auth/login", &credentials("alice", "wrong password"))
        .await;
    let unknown_user = server
        .post_json("/auth/login", &credentials("nobody", PASSWORD))
        .await;
    let (status_a, _, body_a) = json_error(wrong_password).await;
    let (status_b, _, body_b) = json_error(unknown_user).await;
    assert_eq!(status_a, StatusCode::UNAUTHORIZED);
    assert_eq!(status_b, StatusCode::UNAUTHORIZED);
    assert_eq!(body_a, body_b);
    assert_eq!(body_a["error"], "invalid_credentials");

    for (content_type, body, expected) in [
        (
            Some("application/json"),
            "{\"username\":".to_owned(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Some("application/json"),
            r#"{"username":"alice"}"#.to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Some("text/plain"),
            credentials("alice", PASSWORD).to_string(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            Some("application/json"),
            credentials("alice", &"p".repeat(70 * 1024)).to_string(),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ] {
        let response = server.post_raw("/auth/login", content_type, body).await;
        assert_eq!(response.status(), expected);
        let (_, _, body) = json_error(response).await;
        assert_eq!(body["error"], "invalid_request");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_token_gets_a_bare_challenge() {
    let server = start().await;
    for (method, path) in [
        ("GET", "/me"),
        ("GET", "/admin"),
        ("POST", "/auth/logout"),
        ("POST", "/auth/logout-all"),
    ] {
        let request = match method {
            "GET" => server.http.get(server.url(path)),
            _ => server.http.post(server.url(path)),
        };
        let (status, headers, _) = json_error(request.send().await.unwrap()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(
            challenge(&headers),
            r#"Bearer realm="quickstart""#,
            "{path}"
        );
    }
    // Credentials of another scheme count as no bearer token.
    let response = server
        .http
        .get(server.url("/me"))
        .header(AUTHORIZATION, "Basic YWxpY2U6c2VjcmV0")
        .send()
        .await
        .unwrap();
    let (status, headers, _) = json_error(response).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(challenge(&headers), r#"Bearer realm="quickstart""#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_invalid_request() {
    let server = start().await;
    let pair = server.signup("alice").await;
    let token = access(&pair);

    // Two Authorization headers, even with the same valid token.
    let response = server
        .http
        .get(server.url("/me"))
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    let (status, headers, body) = json_error(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request");
    assert!(
        challenge(&headers).starts_with(r#"Bearer realm="quickstart", error="invalid_request""#),
        "{headers:?}"
    );

    for value in [
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        "Bearer a b".to_owned(),
        "Bearer a,b".to_owned(),
        format!("Bearer {token}, Bearer {token}"),
    ] {
        let response = server
            .http
            .get(server.url("/me"))
            .header(AUTHORIZATION, &value)
            .send()
            .await
            .unwrap();
        let (status, headers, body) = json_error(response).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{value}");
        assert_eq!(body["error"], "invalid_request", "{value}");
        assert!(challenge(&headers).contains(r#"error="invalid_request""#));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_route_requires_the_admin_scope() {
    let server = start().await;
    let pair = server.signup("alice").await;
    let response = server.get_bearer("/admin", access(&pair)).await;
    let (status, headers, body) = json_error(response).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "insufficient_scope");
    assert_eq!(body["scope"], "admin");
    let challenge = challenge(&headers);
    assert!(
        challenge.starts_with("Bearer ") && challenge.contains(r#"error="insufficient_scope""#),
        "{challenge}"
    );
    assert!(challenge.contains(r#"scope="admin""#), "{challenge}");

    // A token that does carry the scope (minted by the operator, not by signup).
    let root = server
        .issuer
        .issue_with_scope("root", "read write admin")
        .await
        .unwrap();
    let response = server.get_bearer("/admin", root.access_token()).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_tokens_are_invalid_token() {
    let server = start().await;
    for token in ["abc", "abc.def.ghi", "a.b.c.d.e", &"x".repeat(9000)] {
        let description = expect_invalid_token(server.get_bearer("/me", token).await).await;
        assert!(!description.contains(token));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_tokens_are_rejected() {
    let server = start_with_known_key().await;
    let now = T0;
    let ours = rfc8037_key();
    let claims = access_claims(now);

    // Control: the forging machinery makes a token the server accepts when it is honest.
    let honest = sign_ed25519(&ours, &access_header("EdDSA", RFC8037_KID), &claims);
    let response = server.get_bearer("/me", &honest).await;
    assert_eq!(response.status(), StatusCode::OK);
    let me: Value = response.json().await.unwrap();
    assert_eq!(me["sub"], "mallory");

    let ours_signed = |header: &Value, claims: &Value| sign_ed25519(&ours, header, claims);
    let our_header = access_header("EdDSA", RFC8037_KID);
    let with = |name: &str, value: Value| {
        let mut changed = claims.clone();
        changed[name] = value;
        changed
    };
    let none = signing_input(&access_header("none", RFC8037_KID), &claims);
    let x = URL_SAFE_NO_PAD.decode(RFC8037_X).unwrap();
    let foreign = random_key();
    let mut embedded_jwk = our_header.clone();
    embedded_jwk["jwk"] =
        json!({ "kty": "OKP", "crv": "Ed25519", "x": b64(foreign.public_key().as_ref()) });
    let mut no_aud = claims.clone();
    no_aud.as_object_mut().unwrap().remove("aud");
    // A real token whose payload was edited to add a scope.
    let real = server.signup("alice").await;
    let mut parts: Vec<String> = access(&real).split('.').map(str::to_owned).collect();
    let mut payload = jws_part(access(&real), 1);
    payload["scope"] = json!("read write admin");
    parts[1] = b64(payload.to_string());

    let cases: Vec<(&str, String, &str)> = vec![
        ("alg none", format!("{none}."), "malformed token"),
        ("alg none, two segments", none.clone(), "malformed token"),
        (
            "alg none, real signature",
            format!("{none}.{}", b64(ours.sign(none.as_bytes()).as_ref())),
            "algorithm not allowed",
        ),
        (
            "HS256 keyed with the public key",
            sign_hs256(&x, &access_header("HS256", RFC8037_KID), &claims),
            "algorithm not allowed",
        ),
        (
            "HS256 keyed with the public key PEM",
            sign_hs256(
                RFC8037_PUBLIC_PEM.as_bytes(),
                &access_header("HS256", RFC8037_KID),
                &claims,
            ),
            "algorithm not allowed",
        ),
        (
            "foreign key, our kid",
            sign_ed25519(&foreign, &our_header, &claims),
            "invalid signature",
        ),
        (
            "foreign key, its own kid",
            sign_ed25519(&foreign, &access_header("EdDSA", "attacker-key"), &claims),
            "unknown signing key",
        ),
        (
            "foreign key embedded as jwk",
            sign_ed25519(&foreign, &embedded_jwk, &claims),
            "invalid signature",
        ),
        (
            "our key, unknown kid",
            ours_signed(&access_header("EdDSA", "no-such-key"), &claims),
            "unknown signing key",
        ),
        (
            "our key, no kid",
            ours_signed(&json!({ "alg": "EdDSA", "typ": "at+jwt" }), &claims),
            "unknown signing key",
        ),
        (
            "wrong iss",
            ours_signed(&our_header, &with("iss", json!("someone-else"))),
            "invalid issuer",
        ),
        (
            "wrong aud",
            ours_signed(&our_header, &with("aud", json!("another-api"))),
            "invalid audience",
        ),
        (
            "no aud",
            ours_signed(&our_header, &no_aud),
            "missing required claim",
        ),
        (
            "expired",
            ours_signed(&our_header, &with("exp", json!(now - 1))),
            "token expired",
        ),
        (
            "issued in the future",
            ours_signed(&our_header, &with("iat", json!(now + 60))),
            "token issued in the future",
        ),
        (
            "typ JWT",
            ours_signed(
                &json!({ "alg": "EdDSA", "kid": RFC8037_KID, "typ": "JWT" }),
                &claims,
            ),
            "wrong token type",
        ),
        ("edited payload", parts.join("."), "invalid signature"),
    ];
    for (case, token, expected) in &cases {
        let response = server.get_bearer("/me", token).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{case}");
        assert_eq!(expect_invalid_token(response).await, *expected, "{case}");
        let response = server.get_bearer("/admin", token).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{case}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_token_kind_is_accepted_only_where_it_belongs() {
    let server = start().await;
    let pair = server.signup("alice").await;
    let description =
        expect_invalid_token(server.get_bearer("/me", refresh_token(&pair)).await).await;
    assert_eq!(description, "wrong token type");
    let response = server.refresh(access(&pair)).await;
    let (status, _, body) = json_error(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    // Neither misuse harmed the session.
    assert_eq!(server.me_status(access(&pair)).await, StatusCode::OK);
    assert_eq!(
        server.refresh_status(refresh_token(&pair)).await,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_tokens_expire_on_the_clock() {
    let server = start_with(|c| c.access_ttl = Duration::from_secs(60)).await;
    let pair = server.signup("alice").await;
    assert_eq!(pair["expires_in"], 60);
    server.advance(59);
    assert_eq!(server.me_status(access(&pair)).await, StatusCode::OK);
    // `exp` is the first second at which the token is no longer accepted (RFC 7519).
    server.advance(1);
    let description = expect_invalid_token(server.get_bearer("/me", access(&pair)).await).await;
    assert_eq!(description, "token expired");
    // The refresh token outlives it and brings a fresh access token.
    let response = server.refresh(refresh_token(&pair)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let next: Value = response.json().await.unwrap();
    assert_eq!(server.me_status(access(&next)).await, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leeway_tolerates_small_clock_skew() {
    let server = start_with(|c| {
        c.access_ttl = Duration::from_secs(60);
        c.leeway = Duration::from_secs(30);
    })
    .await;
    let pair = server.signup("alice").await;
    server.advance(89);
    assert_eq!(server.me_status(access(&pair)).await, StatusCode::OK);
    server.advance(1);
    assert_eq!(
        server.me_status(access(&pair)).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_have_idle_and_absolute_lifetimes() {
    let server = start_with(|c| {
        c.access_ttl = Duration::from_secs(60);
        c.refresh_ttl = Duration::from_secs(120);
        c.session_ttl = Duration::from_secs(300);
    })
    .await;
    let mut pair = server.signup("alice").await;
    assert_eq!(pair["refresh_expires_in"], 120);
    // Each refresh renews the idle lifetime, never past the session's end at T0 + 300.
    for (step, refresh_left) in [(100, 120), (100, 100), (90, 10)] {
        server.advance(step);
        let response = server.refresh(refresh_token(&pair)).await;
        assert_eq!(response.status(), StatusCode::OK);
        pair = response.json().await.unwrap();
        assert_eq!(pair["refresh_expires_in"], refresh_left);
    }
    assert_eq!(pair["expires_in"], 10, "access capped by the session too");
    server.advance(11);
    assert_eq!(
        server.refresh_status(refresh_token(&pair)).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        server.me_status(access(&pair)).await,
        StatusCode::UNAUTHORIZED
    );

    // Idle: a session not refreshed within 120 s ends.
    let pair = server.login("alice").await;
    server.advance(121);
    assert_eq!(
        server.refresh_status(refresh_token(&pair)).await,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_rotates_and_reuse_revokes_the_session() {
    let server = start().await;
    let first = server.signup("alice").await;
    let other = server.login("alice").await;

    let response = server.refresh(refresh_token(&first)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_not_cached(response.headers());
    let second: Value = response.json().await.unwrap();
    assert_ne!(access(&second), access(&first));
    assert_ne!(refresh_token(&second), refresh_token(&first));
    assert_eq!(second["scope"], "read write");
    assert_eq!(second["token_type"], "Bearer");
    assert_eq!(
        jws_part(access(&second), 1)["sid"],
        jws_part(access(&first), 1)["sid"],
        "the same session"
    );
    assert_eq!(server.me_status(access(&second)).await, StatusCode::OK);

    // Replaying the consumed refresh token: invalid_grant, and the whole session ends,
    // including the newest tokens.
    let response = server.refresh(refresh_token(&first)).await;
    let (status, headers, body) = json_error(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert_not_cached(&headers);
    let description = expect_invalid_token(server.get_bearer("/me", access(&second)).await).await;
    assert_eq!(description, "token revoked");
    assert_eq!(
        server.me_status(access(&first)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server.refresh_status(refresh_token(&second)).await,
        StatusCode::BAD_REQUEST
    );
    // The user's other session is unaffected.
    assert_eq!(server.me_status(access(&other)).await, StatusCode::OK);
    assert_eq!(
        server.refresh_status(refresh_token(&other)).await,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_endpoint_speaks_oauth() {
    let server = start().await;
    let pair = server.signup("alice").await;
    let form = |body: String| {
        server.post_raw(
            "/auth/refresh",
            Some("application/x-www-form-urlencoded"),
            body,
        )
    };

    let response = form(format!(
        "grant_type=refresh_token&refresh_token={}",
        refresh_token(&pair)
    ))
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_not_cached(response.headers());
    let next: Value = response.json().await.unwrap();
    assert_eq!(server.me_status(access(&next)).await, StatusCode::OK);

    let cases = [
        (
            form(format!("refresh_token={}", refresh_token(&next))).await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            form("grant_type=refresh_token".to_owned()).await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            form(format!(
                "grant_type=password&refresh_token={}",
                refresh_token(&next)
            ))
            .await,
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        (
            server.post_json("/auth/refresh", &json!({})).await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            server.refresh("not-a-token").await,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        ),
        (
            server
                .post_raw("/auth/refresh", Some("text/plain"), "x".to_owned())
                .await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request",
        ),
        (
            server
                .post_raw(
                    "/auth/refresh",
                    Some("application/json"),
                    "{\"refresh_token\":".to_owned(),
                )
                .await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ];
    for (response, status, error) in cases {
        let (got, _, body) = json_error(response).await;
        assert_eq!((got, body["error"].as_str().unwrap()), (status, error));
    }
    // None of the malformed requests consumed the token.
    assert_eq!(
        server.refresh_status(refresh_token(&next)).await,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_of_one_token_have_one_winner() {
    let server = Arc::new(start().await);
    let pair = server.signup("alice").await;
    let token = refresh_token(&pair).to_owned();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let server = server.clone();
            let token = token.clone();
            tokio::spawn(async move {
                let response = server.refresh(&token).await;
                let status = response.status();
                let body: Value = response.json().await.unwrap();
                (status, body)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status {
            StatusCode::OK => winners.push(body),
            StatusCode::BAD_REQUEST => assert_eq!(body["error"], "invalid_grant"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one exchange succeeds");
    // The others were reuse: the session, the winner's new tokens included, is over.
    assert_eq!(
        server.me_status(access(&winners[0])).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server.refresh_status(refresh_token(&winners[0])).await,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reuse_grace_lets_a_client_retry_a_lost_refresh() {
    let server = start_with(|c| c.reuse_grace = Duration::from_secs(5)).await;
    let first = server.signup("alice").await;
    assert_eq!(
        server.refresh_status(refresh_token(&first)).await,
        StatusCode::OK
    );
    server.advance(3);
    // The response was lost; the client retries within the window.
    let response = server.refresh(refresh_token(&first)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let retried: Value = response.json().await.unwrap();
    assert_eq!(server.me_status(access(&retried)).await, StatusCode::OK);
    // After the window it is reuse again.
    server.advance(3);
    assert_eq!(
        server.refresh_status(refresh_token(&first)).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        server.me_status(access(&retried)).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_ends_this_session_only() {
    let server = start().await;
    let phone = server.signup("alice").await;
    let laptop = server.login("alice").await;

    let response = server.post_bearer("/auth/logout", access(&phone)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.bytes().await.unwrap().is_empty());

    let description = expect_invalid_token(server.get_bearer("/me", access(&phone)).await).await;
    assert_eq!(description, "token revoked");
    assert_eq!(
        server.refresh_status(refresh_token(&phone)).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        server
            .post_bearer("/auth/logout", access(&phone))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    assert_eq!(server.me_status(access(&laptop)).await, StatusCode::OK);
    assert_eq!(
        server.refresh_status(refresh_token(&laptop)).await,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_all_ends_every_session_and_a_login_right_after_works() {
    let server = start().await;
    let phone = server.signup("alice").await;
    let laptop = server.login("alice").await;
    let response = server.refresh(refresh_token(&laptop)).await;
    let laptop = response.json::<Value>().await.unwrap();
    let bob = server.signup("bob").await;

    let response = server.post_bearer("/auth/logout-all", access(&phone)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    for pair in [&phone, &laptop] {
        assert_eq!(
            server.me_status(access(pair)).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            server.refresh_status(refresh_token(pair)).await,
            StatusCode::BAD_REQUEST
        );
    }
    // The mock clock has not moved: the new login is in the same millisecond as the cut-off.
    let fresh = server.login("alice").await;
    assert_eq!(server.me_status(access(&fresh)).await, StatusCode::OK);
    let response = server.refresh(refresh_token(&fresh)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let fresh: Value = response.json().await.unwrap();
    assert_eq!(server.me_status(access(&fresh)).await, StatusCode::OK);
    // Other users are untouched.
    assert_eq!(server.me_status(access(&bob)).await, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_endpoint_follows_rfc7009() {
    let server = start().await;
    let pair = server.signup("alice").await;

    // An access token: that token stops working, its session goes on.
    let response = server
        .post_json("/auth/revoke", &json!({ "token": access(&pair) }))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_not_cached(response.headers());
    let description = expect_invalid_token(server.get_bearer("/me", access(&pair)).await).await;
    assert_eq!(description, "token revoked");
    let response = server.refresh(refresh_token(&pair)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let next: Value = response.json().await.unwrap();
    assert_eq!(server.me_status(access(&next)).await, StatusCode::OK);

    // Unknown, garbage or already revoked tokens: 200 all the same.
    for token in ["not-a-token", "a.b.c", access(&pair)] {
        let response = server
            .post_json("/auth/revoke", &json!({ "token": token }))
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{token}");
    }

    // A refresh token, as a form with a hint: its whole session ends.
    let response = server
        .post_raw(
            "/auth/revoke",
            Some("application/x-www-form-urlencoded"),
            format!(
                "token={}&token_type_hint=refresh_token",
                refresh_token(&next)
            ),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        server.refresh_status(refresh_token(&next)).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        server.me_status(access(&next)).await,
        StatusCode::UNAUTHORIZED
    );

    // A request without a token is malformed.
    let (status, _, body) = json_error(server.post_json("/auth/revoke", &json!({})).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_lists_the_key_of_every_token() {
    let server = start().await;
    let signup = server.signup("alice").await;
    let login = server.login("alice").await;
    let refreshed: Value = server
        .refresh(refresh_token(&login))
        .await
        .json()
        .await
        .unwrap();

    let response = server.get("/.well-known/jwks.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/jwk-set+json");
    let jwks: Value = response.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert!(!keys.is_empty());
    for key in keys {
        assert_eq!(key["kty"], "OKP");
        assert_eq!(key["crv"], "Ed25519");
        assert_eq!(key["alg"], "EdDSA");
        assert_eq!(key["use"], "sig");
        assert!(key.get("d").is_none(), "no private key material");
    }
    let kids: Vec<&str> = keys.iter().map(|k| k["kid"].as_str().unwrap()).collect();
    for token in [
        access(&signup),
        access(&login),
        access(&refreshed),
        refresh_token(&refreshed),
    ] {
        let kid = jws_part(token, 0)["kid"].as_str().unwrap().to_owned();
        assert!(kids.contains(&kid.as_str()), "{kid} not in {kids:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_key_file_is_used() {
    let server = start_with_known_key().await;
    let pair = server.signup("alice").await;
    assert_eq!(jws_part(access(&pair), 0)["kid"], RFC8037_KID);
    let jwks: Value = server
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["kid"], RFC8037_KID);
    assert_eq!(jwks["keys"][0]["x"], RFC8037_X);
}

#[test]
fn app_reports_bad_key_files_and_configuration() {
    let generated = app(&Config::default()).unwrap();
    assert!(generated.key_generated);

    let key = KeyFile::new(RFC8037_PRIVATE_PEM);
    let loaded = app(&Config {
        signing_key_file: Some(key.path().to_owned()),
        ..Config::default()
    })
    .unwrap();
    assert!(!loaded.key_generated);
    assert_eq!(loaded.issuer.keys().signing_key().kid(), RFC8037_KID);

    let missing = std::env::temp_dir().join("quickstart-test-no-such-key.pem");
    let garbage = KeyFile::new("not a key");
    let public = KeyFile::new(RFC8037_PUBLIC_PEM);
    for path in [missing.as_path(), garbage.path(), public.path()] {
        let err = app(&Config {
            signing_key_file: Some(path.to_owned()),
            ..Config::default()
        })
        .unwrap_err();
        assert!(err.contains("SIGNING_KEY_FILE"), "{err}");
    }

    let err = app(&Config {
        access_ttl: Duration::ZERO,
        ..Config::default()
    })
    .unwrap_err();
    assert!(err.contains("ACCESS_TTL_SECS"), "{err}");
}

#[test]
fn config_reads_the_environment_and_names_bad_variables() {
    let from = |vars: &[(&str, &str)]| {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(move |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    };

    let defaults = from(&[]).unwrap();
    assert_eq!(defaults.addr, "127.0.0.1:3000");
    assert_eq!(defaults.access_ttl, Duration::from_secs(900));
    assert_eq!(defaults.refresh_ttl, Duration::from_secs(1_209_600));
    assert_eq!(defaults.session_ttl, Duration::from_secs(2_592_000));
    assert_eq!(defaults.leeway, Duration::ZERO);
    assert_eq!(defaults.reuse_grace, Duration::ZERO);
    assert!(defaults.signing_key_file.is_none());

    let set = from(&[
        ("ADDR", "0.0.0.0:8080"),
        ("ACCESS_TTL_SECS", "60"),
        ("REFRESH_TTL_SECS", "3600"),
        ("SESSION_TTL_SECS", "86400"),
        ("LEEWAY_SECS", "5"),
        ("REUSE_GRACE_SECS", " 2 "),
        ("SIGNING_KEY_FILE", "key.pem"),
    ])
    .unwrap();
    assert_eq!(set.addr, "0.0.0.0:8080");
    assert_eq!(set.access_ttl, Duration::from_secs(60));
    assert_eq!(set.refresh_ttl, Duration::from_secs(3600));
    assert_eq!(set.session_ttl, Duration::from_secs(86_400));
    assert_eq!(set.leeway, Duration::from_secs(5));
    assert_eq!(set.reuse_grace, Duration::from_secs(2));
    assert_eq!(set.signing_key_file.as_deref(), Some(Path::new("key.pem")));

    let empty = from(&[("ACCESS_TTL_SECS", ""), ("SIGNING_KEY_FILE", "")]).unwrap();
    assert_eq!(empty.access_ttl, Duration::from_secs(900));
    assert!(empty.signing_key_file.is_none());

    for (vars, named) in [
        (vec![("ACCESS_TTL_SECS", "abc")], "ACCESS_TTL_SECS"),
        (vec![("ACCESS_TTL_SECS", "-1")], "ACCESS_TTL_SECS"),
        (vec![("REFRESH_TTL_SECS", "1.5")], "REFRESH_TTL_SECS"),
        (vec![("SESSION_TTL_SECS", "10s")], "SESSION_TTL_SECS"),
        (
            vec![("LEEWAY_SECS", "99999999999999999999999")],
            "LEEWAY_SECS",
        ),
        (vec![("REUSE_GRACE_SECS", "x")], "REUSE_GRACE_SECS"),
        (vec![("ACCESS_TTL_SECS", "0")], "ACCESS_TTL_SECS"),
        (vec![("SESSION_TTL_SECS", "0")], "SESSION_TTL_SECS"),
        (
            vec![("ACCESS_TTL_SECS", "7200"), ("REFRESH_TTL_SECS", "3600")],
            "ACCESS_TTL_SECS",
        ),
        (vec![("SESSION_TTL_SECS", "3600")], "REFRESH_TTL_SECS"),
        (vec![("LEEWAY_SECS", "301")], "LEEWAY_SECS"),
        (vec![("REUSE_GRACE_SECS", "61")], "REUSE_GRACE_SECS"),
    ] {
        let err = from(&vars).unwrap_err();
        assert!(err.contains(named), "{vars:?}: {err}");
    }
}

// ----- refresh sessions as an attacker tries them -----

fn token<'a>(response: &'a Value, name: &str) -> &'a str {
    response[name].as_str().unwrap()
}

#[tokio::test]
async fn a_superseded_refresh_token_stays_reuse_past_its_expiry_and_a_purge() {
    let server = start_with(|c| {
        c.leeway = Duration::from_secs(120);
        c.access_ttl = Duration::from_secs(2);
        c.refresh_ttl = Duration::from_secs(3);
    })
    .await;
    let first = server.signup("mallory-target").await;
    let r1 = token(&first, "refresh_token").to_owned();
    let mut latest: Value = server.refresh(&r1).await.json().await.unwrap();
    for _ in 0..30 {
        server.clock.advance(Duration::from_secs(2));
        latest = server
            .refresh(token(&latest, "refresh_token"))
            .await
            .json()
            .await
            .unwrap();
    }
    server.issuer.revocation().purge_expired();
    // 60 s after R1's expiry, within its leeway: replaying it is reuse, not a second chain.
    assert_eq!(server.refresh_status(&r1).await, StatusCode::BAD_REQUEST);
    assert_eq!(
        server.me_status(token(&latest, "access_token")).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server.refresh_status(token(&latest, "refresh_token")).await,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn grace_retries_over_http_leave_exactly_one_live_branch() {
    let server = start_with(|c| c.reuse_grace = Duration::from_secs(10)).await;
    let first = server.signup("retrier").await;
    let r1 = token(&first, "refresh_token").to_owned();
    let mut successors = Vec::new();
    for _ in 0..6 {
        let response = server.refresh(&r1).await;
        assert_eq!(response.status(), StatusCode::OK);
        successors.push(response.json::<Value>().await.unwrap());
    }
    // The last successor refreshes; the first lost branch, used next, revokes the session.
    let next: Value = server
        .refresh(token(&successors[5], "refresh_token"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        server
            .refresh_status(token(&successors[0], "refresh_token"))
            .await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        server.me_status(token(&next, "access_token")).await,
        StatusCode::UNAUTHORIZED
    );
    for successor in &successors {
        assert_eq!(
            server
                .refresh_status(token(successor, "refresh_token"))
                .await,
            StatusCode::BAD_REQUEST
        );
    }
}
