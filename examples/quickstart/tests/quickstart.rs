//! The quickstart package: its configuration, its signup and login,
//! that every documented route is mounted with the documented authentication and answer, and
//! one user journey end to end.
//!
//! The library behaviour behind the routes is tested where it lives: RFC 6750 rejections in
//! `bearer.rs`, the refresh, revocation and JWKS endpoints in `endpoints.rs`, rotation, reuse,
//! lifetimes and logout in `sessions.rs`, token checks in `verifier.rs`.
//!
//! Each HTTP test starts the example's application on 127.0.0.1:0 and talks to it with an
//! HTTP client. Time is a mock clock handed to the server's configuration: tests move it
//! forward instead of sleeping. The tests of the bound on password hashing hold the server's
//! hashing permits themselves instead of racing real hashes against a timer, and watch the
//! server's hash queue instead of waiting for a while.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version,
    password_hash::{SaltString, rand_core::OsRng},
};
use quickstart::{Config, Hasher, MAX_LABEL_BYTES, app, serve};
use reqwest::{
    Response, StatusCode,
    header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER},
};
use serde_json::{Value, json};
use support::{T0, b64, ed25519_spki, jws_part, pem, rfc8037_pkcs8, rfc8037_public};
use tokio::{
    net::TcpListener,
    sync::{Semaphore, watch},
};
use tower_jwt_auth::{Issuer, clock::MockClock};

const PASSWORD: &str = "correct horse battery";
/// How long a test waits for an event before it gives up: a guard against a hang, never a
/// measure of speed.
const HANG_GUARD: Duration = Duration::from_secs(60);

// ----- harness -----

/// A running quickstart server.
struct Server {
    base: String,
    http: reqwest::Client,
    clock: MockClock,
    issuer: Issuer,
    /// The permits of the server's password hashing: a test holds them to saturate it.
    hash_permits: Arc<Semaphore>,
    /// The length of the server's hash queue.
    hash_queue: watch::Receiver<usize>,
}

async fn start() -> Server {
    start_with(|_| {}).await
}

async fn start_with(configure: impl FnOnce(&mut Config)) -> Server {
    let clock = MockClock::at_secs(T0);
    let mut config = Config {
        clock: Some(Arc::new(clock.clone())),
        // A machine busy with other builds can be slow to hash: no test but those of the bound
        // should see a 503 because its concurrent requests queued for a while.
        hash_queue: Duration::from_secs(10),
        ..Config::default()
    };
    // As the binary does: bound first, so that the server is named by the port it got.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    config.addr = listener.local_addr().unwrap().to_string();
    configure(&mut config);
    let app = app(&config).unwrap();
    let issuer = app.issuer.clone();
    let hash_permits = app.hash_permits.clone();
    let hash_queue = app.hash_queue.clone();
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
        hash_permits,
        hash_queue,
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
}

fn access(pair: &Value) -> &str {
    pair["access_token"].as_str().unwrap()
}

fn refresh_token(pair: &Value) -> &str {
    pair["refresh_token"].as_str().unwrap()
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

/// Reads the configuration from the given variables instead of the process environment.
fn config_from(vars: &[(&str, &str)]) -> Result<Config, String> {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::from_lookup(move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
}

// ----- configuration -----

#[test]
fn config_defaults_are_the_documented_ones() {
    let config = config_from(&[]).unwrap();
    assert_eq!(config.addr, "127.0.0.1:3000");
    assert_eq!(config.public_url, None);
    assert_eq!(config.issuer_url(), "http://127.0.0.1:3000");
    assert_eq!(config.access_ttl, Duration::from_secs(900));
    assert_eq!(config.refresh_ttl, Duration::from_secs(1_209_600));
    assert_eq!(config.session_ttl, Duration::from_secs(2_592_000));
    assert_eq!(config.leeway, Duration::ZERO);
    assert_eq!(config.reuse_grace, Duration::ZERO);
    assert!(config.signing_key_file.is_none());
    let cores = std::thread::available_parallelism().unwrap().get();
    assert_eq!(config.hash_concurrency, cores);
    assert_eq!(config.hash_queue, Duration::from_millis(250));
}

#[test]
fn config_reads_every_variable() {
    let config = config_from(&[
        ("ADDR", "0.0.0.0:8080"),
        ("PUBLIC_URL", " https://auth.example "),
        ("ACCESS_TTL_SECS", "60"),
        ("REFRESH_TTL_SECS", "3600"),
        ("SESSION_TTL_SECS", "86400"),
        ("LEEWAY_SECS", "5"),
        ("REUSE_GRACE_SECS", " 2 "),
        ("SIGNING_KEY_FILE", "key.pem"),
        ("HASH_CONCURRENCY", "3"),
        ("HASH_QUEUE_MS", "40"),
    ])
    .unwrap();
    assert_eq!(config.addr, "0.0.0.0:8080");
    assert_eq!(config.issuer_url(), "https://auth.example");
    assert_eq!(config.access_ttl, Duration::from_secs(60));
    assert_eq!(config.refresh_ttl, Duration::from_secs(3600));
    assert_eq!(config.session_ttl, Duration::from_secs(86_400));
    assert_eq!(config.leeway, Duration::from_secs(5));
    assert_eq!(config.reuse_grace, Duration::from_secs(2));
    assert_eq!(
        config.signing_key_file.as_deref(),
        Some(Path::new("key.pem"))
    );
    assert_eq!(config.hash_concurrency, 3);
    assert_eq!(config.hash_queue, Duration::from_millis(40));
}

#[test]
fn config_accepts_a_zero_hash_queue() {
    // No waiting at all: a request that finds every hasher busy is answered 503 at once.
    let config = config_from(&[("HASH_QUEUE_MS", "0")]).unwrap();
    assert_eq!(config.hash_queue, Duration::ZERO);
}

#[test]
fn config_treats_empty_variables_as_unset() {
    let config = config_from(&[("ACCESS_TTL_SECS", ""), ("SIGNING_KEY_FILE", "")]).unwrap();
    assert_eq!(config.access_ttl, Duration::from_secs(900));
    assert!(config.signing_key_file.is_none());
}

#[test]
fn config_refuses_bad_values_naming_the_variable() {
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
        (vec![("HASH_CONCURRENCY", "0")], "HASH_CONCURRENCY"),
        (vec![("HASH_CONCURRENCY", "x")], "HASH_CONCURRENCY"),
        (vec![("HASH_CONCURRENCY", "-2")], "HASH_CONCURRENCY"),
        (vec![("HASH_CONCURRENCY", "513")], "HASH_CONCURRENCY"),
        (vec![("HASH_QUEUE_MS", "x")], "HASH_QUEUE_MS"),
        (vec![("HASH_QUEUE_MS", "0.5")], "HASH_QUEUE_MS"),
        (vec![("HASH_QUEUE_MS", "10001")], "HASH_QUEUE_MS"),
        (vec![("PUBLIC_URL", "auth.example")], "PUBLIC_URL"),
        (vec![("PUBLIC_URL", "ftp://auth.example")], "PUBLIC_URL"),
        (vec![("PUBLIC_URL", "https://")], "PUBLIC_URL"),
        (vec![("PUBLIC_URL", "https://auth.example/")], "PUBLIC_URL"),
        (
            vec![("PUBLIC_URL", "https://auth.example/tenant")],
            "PUBLIC_URL",
        ),
        (
            vec![("PUBLIC_URL", "https://auth.example?x=1")],
            "PUBLIC_URL",
        ),
        (
            vec![("PUBLIC_URL", "https://user@auth.example")],
            "PUBLIC_URL",
        ),
    ] {
        let err = config_from(&vars).unwrap_err();
        assert!(err.contains(named), "{vars:?}: {err}");
    }
}

#[test]
fn config_reads_the_shared_store_and_refuses_it_without_its_feature() {
    assert!(config_from(&[]).unwrap().store.is_none());
    assert_eq!(config_from(&[]).unwrap().store_prefix, "quickstart");
    for (vars, named) in [
        (
            vec![("REDIS_URL", "redis://r/"), ("DATABASE_URL", "sqlite://x")],
            "REDIS_URL or DATABASE_URL",
        ),
        (vec![("DATABASE_URL", "mysql://db/app")], "DATABASE_URL"),
        (vec![("DATABASE_URL", "sqlite://")], "DATABASE_URL"),
        (vec![("STORE_PREFIX", "Upper")], "STORE_PREFIX"),
        (vec![("STORE_PREFIX", "1st")], "STORE_PREFIX"),
        (vec![("STORE_PREFIX", "a-b")], "STORE_PREFIX"),
    ] {
        let err = config_from(&vars).unwrap_err();
        assert!(err.contains(named), "{vars:?}: {err}");
    }
    for (var, url, feature, built) in [
        (
            "REDIS_URL",
            "redis://127.0.0.1/",
            "redis",
            cfg!(feature = "redis"),
        ),
        (
            "DATABASE_URL",
            "postgres://db/app",
            "postgres",
            cfg!(feature = "postgres"),
        ),
        (
            "DATABASE_URL",
            "sqlite://app.db",
            "sqlite",
            cfg!(feature = "sqlite"),
        ),
    ] {
        match config_from(&[(var, url), ("STORE_PREFIX", "app_1")]) {
            Ok(config) => {
                assert!(built, "{var}={url} accepted without {feature}");
                let store = format!("{:?}", config.store.unwrap());
                assert!(!store.contains(url), "the URL stays out of Debug: {store}");
                assert_eq!(config.store_prefix, "app_1");
            }
            Err(err) => {
                assert!(!built, "{var}={url}: {err}");
                assert!(err.contains(var) && err.contains(&format!("--features {feature}")));
            }
        }
    }
    // `app` keeps everything in memory: a shared store is opened with `open_stores`.
    let shared = config_from(&[("DATABASE_URL", "sqlite://app.db")]);
    if let Ok(config) = shared {
        assert!(app(&config).is_err());
    }
}

#[test]
fn the_app_refuses_an_invalid_configuration_naming_the_variable() {
    let err = app(&Config {
        access_ttl: Duration::ZERO,
        ..Config::default()
    })
    .unwrap_err();
    assert!(err.contains("ACCESS_TTL_SECS"), "{err}");
    let err = app(&Config {
        hash_concurrency: 0,
        ..Config::default()
    })
    .unwrap_err();
    assert!(err.contains("HASH_CONCURRENCY"), "{err}");
}

#[test]
fn the_app_generates_a_key_only_without_a_key_file() {
    assert!(app(&Config::default()).unwrap().key_generated);
    let key = KeyFile::new(&pem("PRIVATE KEY", &rfc8037_pkcs8()));
    let loaded = app(&Config {
        signing_key_file: Some(key.path().to_owned()),
        ..Config::default()
    })
    .unwrap();
    assert!(!loaded.key_generated);
}

#[test]
fn unusable_key_files_are_refused_naming_signing_key_file() {
    let missing = std::env::temp_dir().join("quickstart-test-no-such-key.pem");
    let garbage = KeyFile::new("not a key");
    let public = rfc8037_public();
    let public = KeyFile::new(&pem("PUBLIC KEY", &ed25519_spki(&public)));
    for path in [missing.as_path(), garbage.path(), public.path()] {
        let err = app(&Config {
            signing_key_file: Some(path.to_owned()),
            ..Config::default()
        })
        .unwrap_err();
        assert!(err.contains("SIGNING_KEY_FILE"), "{err}");
    }
}

#[tokio::test]
async fn the_key_file_signs_the_tokens_and_is_published() {
    let key = KeyFile::new(&pem("PRIVATE KEY", &rfc8037_pkcs8()));
    let server = start_with(|c| c.signing_key_file = Some(key.path().to_owned())).await;
    let expected_kid = tower_jwt_auth::KeySet::new(
        tower_jwt_auth::SigningKey::from_pem(
            tower_jwt_auth::keys::Algorithm::EdDSA,
            pem("PRIVATE KEY", &rfc8037_pkcs8()).as_bytes(),
        )
        .unwrap(),
    )
    .signing_kid()
    .unwrap();
    let expected_x = b64(rfc8037_public());

    let pair = server.signup("alice").await;
    assert_eq!(jws_part(access(&pair), 0)["kid"], expected_kid);
    let jwks: Value = server
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["kid"], expected_kid);
    assert_eq!(jwks["keys"][0]["x"], expected_x);
}

#[tokio::test]
async fn lifetime_settings_reach_the_issued_tokens() {
    let server = start_with(|c| {
        c.access_ttl = Duration::from_secs(60);
        c.refresh_ttl = Duration::from_secs(120);
        c.session_ttl = Duration::from_secs(150);
    })
    .await;
    let pair = server.signup("alice").await;
    assert_eq!(pair["expires_in"], 60);
    assert_eq!(pair["refresh_expires_in"], 120);
    // 50 s of session are left: the next pair is capped by the session lifetime.
    server.advance(100);
    let next: Value = server
        .refresh(refresh_token(&pair))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(next["refresh_expires_in"], 50);
}

#[tokio::test]
async fn the_leeway_setting_reaches_the_verifier() {
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

#[tokio::test]
async fn the_reuse_grace_setting_lets_a_client_retry_its_last_refresh() {
    let server = start_with(|c| c.reuse_grace = Duration::from_secs(5)).await;
    let first = server.signup("alice").await;
    assert_eq!(
        server.refresh(refresh_token(&first)).await.status(),
        StatusCode::OK
    );
    // The response was lost; the client retries within the window.
    server.advance(3);
    assert_eq!(
        server.refresh(refresh_token(&first)).await.status(),
        StatusCode::OK
    );
}

// ----- signup and login -----

#[tokio::test]
async fn signup_answers_201_with_a_read_write_token_pair() {
    let server = start().await;
    let response = server
        .post_json("/auth/signup", &credentials("alice", PASSWORD))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let pair: Value = response.json().await.unwrap();
    assert_eq!(pair["token_type"], "Bearer");
    assert_eq!(pair["expires_in"], 900);
    assert_eq!(pair["refresh_expires_in"], 1_209_600);
    assert_eq!(pair["scope"], "read write");
    assert!(pair["refresh_token"].is_string());
}

#[tokio::test]
async fn access_tokens_are_eddsa_named_by_the_servers_url_for_the_quickstart_audience() {
    let server = start().await;
    let pair = server.signup("alice").await;
    let header = jws_part(access(&pair), 0);
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["typ"], "at+jwt");
    let claims = jws_part(access(&pair), 1);
    assert_eq!(claims["iss"], server.base);
    assert_eq!(claims["aud"], "quickstart-api");
    assert_eq!(claims["preferred_username"], "alice");
}

// ----- user ids -----

/// A user id as signup draws it: 128 random bits in URL-safe base64 without padding.
fn assert_user_id(sub: &Value) {
    let sub = sub.as_str().unwrap();
    assert_eq!(sub.len(), 22, "{sub}");
    assert!(
        sub.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{sub}"
    );
}

#[tokio::test]
async fn the_sub_is_a_random_user_id_not_the_username() {
    let server = start().await;
    let alice = server.signup("alice").await;
    let bob = server.signup("bob").await;
    assert_ne!(subject(&alice), "alice");
    assert_user_id(&subject(&alice));
    assert_user_id(&subject(&bob));
    assert_ne!(subject(&alice), subject(&bob));
    // The account keeps its id: every login and refresh carries the same `sub`.
    let again = server.login("ALICE").await;
    assert_eq!(subject(&again), subject(&alice));
    let refreshed: Value = server
        .refresh(refresh_token(&again))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(subject(&refreshed), subject(&alice));
    assert_eq!(name(&refreshed), "alice");
}

#[tokio::test]
async fn a_name_signed_up_again_in_a_new_store_is_a_new_account() {
    // Two servers with one key file, one URL and a store each: a restart over memory.
    let key = KeyFile::new(&pem("PRIVATE KEY", &rfc8037_pkcs8()));
    let restarted = |c: &mut Config| {
        c.signing_key_file = Some(key.path().to_owned());
        c.public_url = Some("http://127.0.0.1:3000".to_owned());
    };
    let before = start_with(restarted).await;
    let after = start_with(restarted).await;
    let old = before.signup("alice").await;
    let new = after.signup("alice").await;
    assert_ne!(subject(&old), subject(&new));

    // The old token still verifies (same key), but it is not the new account's.
    let me: Value = after
        .get_bearer("/me", access(&old))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["sub"], subject(&old));
    let listed: Value = after
        .get_bearer("/auth/sessions", access(&old))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["sessions"], json!([]), "{listed}");
    let new_sid = jws_part(access(&new), 1)["sid"].clone();
    let response = after
        .http
        .delete(after.url(&format!("/auth/sessions/{}", new_sid.as_str().unwrap())))
        .bearer_auth(access(&old))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = after.post_bearer("/auth/logout-all", access(&old)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(after.me_status(access(&new)).await, StatusCode::OK);
}

#[tokio::test]
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

#[tokio::test]
async fn signup_refuses_usernames_and_passwords_outside_the_rules() {
    let server = start().await;
    for (case, username, password) in [
        (
            "password of 7 characters",
            "carol".to_owned(),
            "1234567".to_owned(),
        ),
        (
            "password of 1025 characters",
            "carol".to_owned(),
            "p".repeat(1025),
        ),
        ("empty username", String::new(), PASSWORD.to_owned()),
        (
            "username of 65 characters",
            "n".repeat(65),
            PASSWORD.to_owned(),
        ),
        (
            "username with a control character",
            "car\u{7}ol".to_owned(),
            PASSWORD.to_owned(),
        ),
        (
            "username of 65 characters once width-mapped",
            "\u{ff2e}".repeat(65),
            PASSWORD.to_owned(),
        ),
        (
            "username of 65 characters once composed",
            "e\u{301}".repeat(65),
            PASSWORD.to_owned(),
        ),
        (
            // RFC 8265: a username is letters, digits and printable ASCII; no space, no
            // symbol such as a check mark.
            "username with a space and a symbol",
            "ünïcödé ✓".to_owned(),
            PASSWORD.to_owned(),
        ),
    ] {
        let response = server
            .post_json("/auth/signup", &credentials(&username, &password))
            .await;
        let (status, _, body) = json_error(response).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{case}");
        assert_eq!(body["error"], "invalid_request", "{case}");
    }
    // None of them created an account.
    let response = server
        .post_json("/auth/login", &credentials("carol", "1234567"))
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn signup_accepts_usernames_and_passwords_at_the_limits() {
    let server = start().await;
    for (name, password) in [
        ("n".repeat(64), PASSWORD.to_owned()),
        ("carol".to_owned(), "12345678".to_owned()),
        ("erin".to_owned(), "p".repeat(1024)),
        (
            "dave.o'brien+test@example.com".to_owned(),
            PASSWORD.to_owned(),
        ),
        // Every printable ASCII character but the space.
        (
            (b'!'..=b'~').map(char::from).take(64).collect(),
            PASSWORD.to_owned(),
        ),
    ] {
        let response = server
            .post_json("/auth/signup", &credentials(&name, &password))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "{name}");
    }
}

/// Names in other scripts: accounts with the feature `unicode-usernames` (RFC 8265's whole
/// profile), refused without it (its ASCII part).
fn unicode_names() -> [String; 4] {
    [
        "ünïcödé".to_owned(),
        // 64 characters once the full-width letters are mapped to their ASCII forms.
        "\u{ff4d}".repeat(64),
        // 128 characters as sent, 64 once each e and its accent are composed.
        "o\u{301}".repeat(64),
        "أحمد".to_owned(),
    ]
}

#[tokio::test]
async fn names_in_other_scripts_follow_the_username_profile() {
    let server = start().await;
    for name in unicode_names() {
        let response = server
            .post_json("/auth/signup", &credentials(&name, PASSWORD))
            .await;
        if cfg!(feature = "unicode-usernames") {
            assert_eq!(response.status(), StatusCode::CREATED, "{name}");
        } else {
            let (status, _, body) = json_error(response).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{name}");
            assert_eq!(body["error"], "invalid_request", "{name}");
            assert!(
                body["error_description"]
                    .as_str()
                    .is_some_and(|text| text.contains("printable ASCII")),
                "{name}: {body}"
            );
        }
    }
}

#[tokio::test]
async fn bad_bodies_to_signup_and_login_are_json_errors() {
    let server = start().await;
    let json = Some("application/json");
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
            "password not a string",
            json,
            r#"{"username":"carol","password":12345678}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "empty object",
            json,
            "{}".into(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("array", json, "[]".into(), StatusCode::UNPROCESSABLE_ENTITY),
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
    for path in ["/auth/signup", "/auth/login"] {
        for (case, content_type, body, expected) in &cases {
            let response = server.post_raw(path, *content_type, body.clone()).await;
            let (status, _, body) = json_error(response).await;
            assert_eq!(status, *expected, "{path}: {case}");
            assert_eq!(body["error"], "invalid_request", "{path}: {case}");
        }
    }
}

#[tokio::test]
async fn login_starts_another_session() {
    let server = start().await;
    let first = server.signup("alice").await;
    let response = server
        .post_json("/auth/login", &credentials("alice", PASSWORD))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let second: Value = response.json().await.unwrap();
    assert_eq!(second["scope"], "read write");
    assert_ne!(
        jws_part(access(&first), 1)["sid"],
        jws_part(access(&second), 1)["sid"]
    );
    assert_eq!(server.me_status(access(&first)).await, StatusCode::OK);
    assert_eq!(server.me_status(access(&second)).await, StatusCode::OK);
}

#[tokio::test]
async fn login_answers_unknown_user_and_wrong_password_alike() {
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
}

// ----- usernames (RFC 8265, UsernameCaseMapped) -----

/// Forms of `alice` that RFC 8265 maps to `alice`: the same account.
fn same_as_alice() -> Vec<(&'static str, &'static str)> {
    let mut forms = vec![("capitalised", "Alice"), ("upper case", "ALICE")];
    if cfg!(feature = "unicode-usernames") {
        forms.push(("full-width first letter", "\u{ff41}lice"));
        forms.push((
            "full-width throughout",
            "\u{ff21}\u{ff4c}\u{ff49}\u{ff43}\u{ff45}",
        ));
    }
    forms
}

/// Look-alikes of `alice` that RFC 8265 refuses: invisible, direction-changing or space
/// characters are not allowed in a username.
fn refused_look_alikes() -> Vec<(&'static str, &'static str)> {
    let mut names = REFUSED_LOOK_ALIKES.to_vec();
    if !cfg!(feature = "unicode-usernames") {
        // Only the whole profile lets other scripts in (a distinct account then).
        names.push(("Cyrillic a", "\u{430}lice"));
        names.push(("full-width first letter", "\u{ff41}lice"));
    }
    names
}

const REFUSED_LOOK_ALIKES: [(&str, &str); 7] = [
    ("zero-width space", "alice\u{200b}"),
    ("right-to-left override", "\u{202e}alice"),
    ("soft hyphen", "al\u{ad}ice"),
    ("byte order mark", "\u{feff}alice"),
    ("word joiner", "ali\u{2060}ce"),
    ("trailing space", "alice "),
    ("leading ideographic space", "\u{3000}alice"),
];

fn subject(pair: &Value) -> Value {
    jws_part(access(pair), 1)["sub"].clone()
}

/// The username an access token carries.
fn name(pair: &Value) -> Value {
    jws_part(access(pair), 1)["preferred_username"].clone()
}

#[tokio::test]
async fn look_alikes_of_a_username_are_the_same_account_or_refused() {
    let server = start().await;
    let alice = server.signup("alice").await;
    assert_eq!(name(&alice), "alice");

    for (case, name) in same_as_alice() {
        let response = server
            .post_json("/auth/signup", &credentials(name, "another password"))
            .await;
        let (status, _, body) = json_error(response).await;
        assert_eq!(status, StatusCode::CONFLICT, "{case}");
        assert_eq!(body["error"], "username_taken", "{case}");
        let pair = server.login(name).await;
        assert_eq!(self::name(&pair), "alice", "{case}");
        assert_eq!(subject(&pair), subject(&alice), "{case}");
    }

    for (case, name) in refused_look_alikes() {
        let response = server
            .post_json("/auth/signup", &credentials(name, PASSWORD))
            .await;
        let (status, _, body) = json_error(response).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{case}");
        assert_eq!(body["error"], "invalid_request", "{case}");
        // Such a name cannot be an account: a login with it is an unknown user.
        let response = server
            .post_json("/auth/login", &credentials(name, PASSWORD))
            .await;
        let (status, _, body) = json_error(response).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}");
        assert_eq!(body["error"], "invalid_credentials", "{case}");
    }
}

#[cfg(feature = "unicode-usernames")]
#[tokio::test]
async fn composed_and_decomposed_accents_are_one_account() {
    let server = start().await;
    let decomposed = server.signup("rene\u{301}").await;
    assert_eq!(name(&decomposed), "ren\u{e9}");
    let response = server
        .post_json("/auth/signup", &credentials("ren\u{e9}", PASSWORD))
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let composed = server.login("REN\u{c9}").await;
    assert_eq!(name(&composed), "ren\u{e9}");
    assert_eq!(subject(&composed), subject(&decomposed));
}

#[tokio::test]
async fn the_normalised_username_is_the_identity_of_every_session() {
    let server = start().await;
    let phone = server.signup("Alice").await;
    let me: Value = server
        .get_bearer("/me", access(&phone))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["preferred_username"], "alice");
    assert_eq!(me["sub"], subject(&phone));
    let laptop = server.login("ALICE").await;
    // Logging out everywhere from one spelling ends the sessions of every other.
    let response = server.post_bearer("/auth/logout-all", access(&phone)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        server.me_status(access(&laptop)).await,
        StatusCode::UNAUTHORIZED
    );
}

// ----- the bound on password hashing -----

#[test]
fn the_hasher_reusing_its_memory_is_interchangeable_with_argon2() {
    let hasher = Hasher::default();
    let ours = hasher.hash(PASSWORD.as_bytes()).unwrap();
    assert!(
        ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{ours}"
    );
    let parsed = PasswordHash::new(&ours).unwrap();
    assert!(
        Argon2::default()
            .verify_password(PASSWORD.as_bytes(), &parsed)
            .is_ok()
    );
    assert!(
        Argon2::default()
            .verify_password(b"wrong password", &parsed)
            .is_err()
    );

    // Hashes made by argon2 itself, with other costs, algorithms and versions: the same
    // hasher checks them one after the other, its memory resized each time.
    let salt = SaltString::generate(&mut OsRng);
    let others = [
        Argon2::default(),
        Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(64, 1, 1, Some(16)).unwrap(),
        ),
        Argon2::new(
            Algorithm::Argon2i,
            Version::V0x10,
            Params::new(256, 3, 2, None).unwrap(),
        ),
        Argon2::new(
            Algorithm::Argon2d,
            Version::V0x13,
            Params::new(128, 1, 1, None).unwrap(),
        ),
    ];
    for (i, argon2) in others.iter().enumerate() {
        let theirs = argon2
            .hash_password(PASSWORD.as_bytes(), &salt)
            .unwrap()
            .to_string();
        assert!(hasher.verify(PASSWORD.as_bytes(), &theirs), "{i}: {theirs}");
        assert!(!hasher.verify(b"wrong password", &theirs), "{i}: {theirs}");
    }
    assert!(hasher.verify(PASSWORD.as_bytes(), &ours));
    assert!(!hasher.verify(PASSWORD.as_bytes(), "not a hash"));
    assert!(!hasher.verify(PASSWORD.as_bytes(), "$argon2id$v=19$m=19456,t=2,p=1$"));
}

/// Checks the 503 a saturated server answers, and that it came without waiting long.
async fn assert_busy(response: Response, started: Instant, case: &str) {
    let (status, headers, body) = json_error(response).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{case}");
    assert_eq!(body["error"], "temporarily_unavailable", "{case}");
    let retry_after: u64 = headers[RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!(retry_after >= 1, "{case}: Retry-After {retry_after}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{case}: answered after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn logins_and_signups_wait_briefly_for_a_hasher_then_answer_503() {
    let server = start_with(|c| {
        c.hash_concurrency = 1;
        c.hash_queue = Duration::from_millis(20);
    })
    .await;
    server.signup("alice").await;

    // Every hasher is busy (the test holds the only permit).
    let held = server.hash_permits.clone().acquire_owned().await.unwrap();
    for (case, path, username) in [
        ("login", "/auth/login", "alice"),
        ("login of an unknown user", "/auth/login", "nobody"),
        (
            "login with a name that cannot exist",
            "/auth/login",
            "no body",
        ),
        ("signup", "/auth/signup", "bob"),
    ] {
        let started = Instant::now();
        let response = server
            .post_json(path, &credentials(username, PASSWORD))
            .await;
        assert_busy(response, started, case).await;
    }
    // Requests that hash nothing are not held up.
    assert_eq!(server.get("/health").await.status(), StatusCode::OK);

    // A request that finds the hasher free within the wait is served.
    let waiting = {
        let http = server.http.clone();
        let url = server.url("/auth/login");
        tokio::spawn(async move {
            http.post(url)
                .json(&credentials("alice", PASSWORD))
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    drop(held);
    assert_eq!(waiting.await.unwrap(), StatusCode::OK);
    server.login("alice").await;
    server.signup("bob").await;
    // The refused signup created nothing, the permits are all back.
    assert_eq!(server.hash_permits.available_permits(), 1);
}

#[tokio::test]
async fn a_login_waits_for_a_hasher_within_the_queue_time() {
    let server = start_with(|c| {
        c.hash_concurrency = 1;
        c.hash_queue = Duration::from_secs(10);
    })
    .await;
    server.signup("alice").await;
    let held = server.hash_permits.clone().acquire_owned().await.unwrap();
    let mut waiting = {
        let http = server.http.clone();
        let url = server.url("/auth/login");
        tokio::spawn(async move {
            let response = http
                .post(url)
                .json(&credentials("alice", PASSWORD))
                .send()
                .await
                .unwrap();
            (
                response.status(),
                response.headers().get(RETRY_AFTER).cloned(),
            )
        })
    };
    // The login joins the hash queue and stays there while the permit is held: it is not
    // answered before.
    let mut queue = server.hash_queue.clone();
    let queued = tokio::time::timeout(HANG_GUARD, async {
        tokio::select! {
            queued = queue.wait_for(|n| *n == 1) => {
                queued.unwrap();
            }
            answered = &mut waiting => {
                panic!("answered while every hasher was busy: {answered:?}");
            }
        }
    });
    queued.await.expect("the login never joined the hash queue");
    assert!(!waiting.is_finished(), "answered while still queued");
    drop(held);
    let (status, retry_after) = waiting.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(retry_after, None);
    assert_eq!(*server.hash_queue.borrow(), 0, "the queue is empty again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_unknown_user_logins_is_shed_with_503_not_queued() {
    let server = Arc::new(
        start_with(|c| {
            c.hash_concurrency = 1;
            c.hash_queue = Duration::ZERO;
        })
        .await,
    );
    server.signup("alice").await;

    let started = Instant::now();
    let tasks: Vec<_> = (0..24)
        .map(|i| {
            let server = server.clone();
            tokio::spawn(async move {
                server
                    .post_json("/auth/login", &credentials(&format!("user{i}"), PASSWORD))
                    .await
            })
        })
        .collect();
    let (mut refused, mut busy) = (0, 0);
    for task in tasks {
        let response = task.await.unwrap();
        match response.status() {
            StatusCode::UNAUTHORIZED => refused += 1,
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_busy(response, started, "burst").await;
                busy += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    // One hasher and no queue: the logins that found it busy were answered at once, and
    // were not all lucky enough to arrive between two hashes.
    assert!(refused >= 1, "{refused} answered 401, {busy} answered 503");
    assert!(busy >= 1, "{refused} answered 401, {busy} answered 503");
    assert_eq!(server.hash_permits.available_permits(), 1);
    server.login("alice").await;
}

// ----- the documented routes -----

#[tokio::test]
async fn health_answers_200_without_a_token() {
    let server = start().await;
    let response = server.get("/health").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn protected_routes_refuse_a_request_without_a_token() {
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
}

#[tokio::test]
async fn me_answers_with_the_callers_claims() {
    let server = start().await;
    let pair = server.signup("alice").await;
    let response = server.get_bearer("/me", access(&pair)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let me: Value = response.json().await.unwrap();
    assert_eq!(me["sub"], subject(&pair));
    assert_eq!(me["preferred_username"], "alice");
    assert_eq!(me["sid"], jws_part(access(&pair), 1)["sid"]);
    assert_eq!(me["scope"], "read write");
    assert_eq!(me["exp"], T0 + 900);
}

#[tokio::test]
async fn admin_is_403_insufficient_scope_for_a_signed_up_user() {
    let server = start().await;
    let pair = server.signup("alice").await;
    let response = server.get_bearer("/admin", access(&pair)).await;
    let (status, headers, body) = json_error(response).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "insufficient_scope");
    assert_eq!(body["scope"], "admin");
    assert!(
        challenge(&headers).contains(r#"scope="admin""#),
        "{headers:?}"
    );
}

#[tokio::test]
async fn admin_is_200_with_the_admin_scope() {
    let server = start().await;
    // Signup never grants it: the operator mints such a token with the server's issuer.
    let root = tower_jwt_auth::Sessions::new(server.issuer.clone())
        .start_with_scope("root", "read write admin")
        .await
        .unwrap();
    let response = server.get_bearer("/admin", root.access_token()).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn refresh_route_exchanges_a_refresh_token_for_a_new_pair() {
    let server = start().await;
    let pair = server.signup("alice").await;
    let response = server.refresh(refresh_token(&pair)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let next: Value = response.json().await.unwrap();
    assert_ne!(refresh_token(&next), refresh_token(&pair));
    assert_eq!(server.me_status(access(&next)).await, StatusCode::OK);
}

#[tokio::test]
async fn revoke_route_revokes_the_token() {
    let server = start().await;
    let pair = server.signup("alice").await;
    let response = server
        .post_json("/auth/revoke", &json!({ "token": access(&pair) }))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let (status, _, body) = json_error(server.get_bearer("/me", access(&pair)).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error_description"], "token revoked");
}

#[tokio::test]
async fn logout_route_ends_this_session() {
    let server = start().await;
    let pair = server.signup("alice").await;
    let response = server.post_bearer("/auth/logout", access(&pair)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.bytes().await.unwrap().is_empty());
    assert_eq!(
        server.me_status(access(&pair)).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn logout_all_route_ends_every_session_of_the_user() {
    let server = start().await;
    let phone = server.signup("alice").await;
    let laptop = server.login("alice").await;
    let response = server.post_bearer("/auth/logout-all", access(&phone)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        server.me_status(access(&laptop)).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn jwks_route_publishes_the_signing_key() {
    let server = start().await;
    let response = server.get("/.well-known/jwks.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/jwk-set+json");
    let jwks: Value = response.json().await.unwrap();
    assert_eq!(
        jwks["keys"][0]["kid"],
        server.issuer.keys().signing_kid().unwrap()
    );
}

#[tokio::test]
async fn the_rfc_8414_metadata_names_the_issuer_and_its_endpoints() {
    let server = start().await;
    let response = server.get("/.well-known/oauth-authorization-server").await;
    assert_eq!(response.status(), StatusCode::OK);
    let metadata: Value = response.json().await.unwrap();
    let base = &server.base;
    assert_eq!(metadata["issuer"], *base);
    assert_eq!(metadata["jwks_uri"], format!("{base}/auth/jwks.json"));
    assert_eq!(metadata["token_endpoint"], format!("{base}/auth/refresh"));
    assert_eq!(
        metadata["revocation_endpoint"],
        format!("{base}/auth/revoke")
    );
    // The token routes take DPoP proofs of these algorithms (RFC 9449 §5.1).
    assert_eq!(
        metadata["dpop_signing_alg_values_supported"],
        serde_json::json!(["ES256", "EdDSA"])
    );
    // Every URL it names is served: the keys, and the endpoints (which refuse an empty form).
    let jwks: Value = server.get("/auth/jwks.json").await.json().await.unwrap();
    assert_eq!(
        jwks["keys"][0]["kid"],
        server.issuer.keys().signing_kid().unwrap()
    );
    for endpoint in ["token_endpoint", "revocation_endpoint"] {
        let url = metadata[endpoint].as_str().unwrap();
        let status = server.http.post(url).send().await.unwrap().status();
        assert!(
            status.is_client_error() && status != StatusCode::NOT_FOUND,
            "{endpoint}: {status}"
        );
    }
}

#[tokio::test]
async fn public_url_is_the_issuer_of_tokens_and_metadata() {
    let server = start_with(|config| {
        config.public_url = Some("https://auth.example:8443".to_owned());
    })
    .await;
    let pair = server.signup("alice").await;
    assert_eq!(
        jws_part(access(&pair), 1)["iss"],
        "https://auth.example:8443"
    );
    let metadata: Value = server
        .get("/.well-known/oauth-authorization-server")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["issuer"], "https://auth.example:8443");
    assert_eq!(
        metadata["jwks_uri"],
        "https://auth.example:8443/auth/jwks.json"
    );
    // Its own tokens verify against it.
    assert_eq!(server.me_status(access(&pair)).await, StatusCode::OK);
}

#[test]
fn an_issuer_url_that_cannot_have_metadata_is_refused_naming_the_variable() {
    for (config, named) in [
        (
            Config {
                public_url: Some("http://auth.example".to_owned()),
                ..Config::default()
            },
            "PUBLIC_URL",
        ),
        (
            Config {
                addr: "0.0.0.0:3000".to_owned(),
                ..Config::default()
            },
            "PUBLIC_URL",
        ),
    ] {
        let err = app(&config).unwrap_err();
        assert!(err.contains(named), "{config:?}: {err}");
    }
    let behind_a_proxy = Config {
        addr: "0.0.0.0:3000".to_owned(),
        public_url: Some("https://auth.example".to_owned()),
        ..Config::default()
    };
    assert!(app(&behind_a_proxy).is_ok());
}

#[tokio::test]
async fn unknown_paths_and_methods_are_routing_errors_not_auth_errors() {
    let server = start().await;
    assert_eq!(server.get("/nope").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        server.get("/auth/signup").await.status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
}

// ----- end to end -----

#[tokio::test]
async fn a_user_journey_from_signup_to_logging_out_everywhere() {
    let server = start().await;
    let phone = server.signup("alice").await;
    let laptop = server.login("alice").await;
    assert_eq!(server.me_status(access(&laptop)).await, StatusCode::OK);

    // The phone refreshes; its old refresh token is consumed.
    let response = server.refresh(refresh_token(&phone)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let phone_next: Value = response.json().await.unwrap();
    assert_eq!(server.me_status(access(&phone_next)).await, StatusCode::OK);

    // Someone replays the consumed token: refused, and the phone's session is over.
    let (status, _, body) = json_error(server.refresh(refresh_token(&phone)).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(
        server.me_status(access(&phone_next)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(server.me_status(access(&laptop)).await, StatusCode::OK);

    // The user logs out everywhere from the laptop, then logs in again.
    let response = server
        .post_bearer("/auth/logout-all", access(&laptop))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        server.me_status(access(&laptop)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server.refresh(refresh_token(&laptop)).await.status(),
        StatusCode::BAD_REQUEST
    );
    let again = server.login("alice").await;
    assert_eq!(server.me_status(access(&again)).await, StatusCode::OK);
}

// ----- logging -----

#[tokio::test]
async fn every_request_is_one_info_line_naming_why_it_was_refused() {
    let logs = support::Logs::default();
    let _capture = logs.capture();
    let server = start().await;
    let pair = server.signup("alice").await;

    assert_eq!(server.get("/me").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        server.me_status("not-a.jwt").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server.refresh(refresh_token(&pair)).await.status(),
        StatusCode::OK
    );
    // A replay of the spent refresh token: reuse detection.
    assert_eq!(
        server.refresh(refresh_token(&pair)).await.status(),
        StatusCode::BAD_REQUEST
    );

    let text = logs.text();
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("quickstart: request"))
        .collect();
    let line = |needle: &str| {
        *lines
            .iter()
            .find(|line| line.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{text}"))
    };
    assert!(line(r#"path="/auth/signup" status=201"#).contains("INFO"));
    let missing = line(r#"path="/me" status=401"#);
    assert!(missing.contains(r#"reason="missing_token""#), "{missing}");
    assert!(line(r#"reason="malformed""#).contains("request refused"));
    let replay = line(r#"path="/auth/refresh" status=400"#);
    assert!(replay.contains(r#"error="invalid_grant""#), "{replay}");
    assert_eq!(lines.len(), 5, "one line per request:\n{text}");

    let warning = text
        .lines()
        .find(|line| line.contains("reuse detected"))
        .expect("reuse detection is logged");
    assert!(
        warning.contains("WARN")
            && warning.contains(&format!("sub={:?}", subject(&pair).as_str().unwrap())),
        "{warning}"
    );
    for token in [access(&pair), refresh_token(&pair)] {
        for part in token.split('.') {
            assert!(!text.contains(part), "a token was logged:\n{text}");
        }
    }
}

// ----- sessions a user can see and end -----

impl Server {
    async fn sessions(&self, access_token: &str) -> Vec<Value> {
        let response = self.get_bearer("/auth/sessions", access_token).await;
        assert_eq!(response.status(), StatusCode::OK);
        let listed: Value = response.json().await.unwrap();
        listed["sessions"].as_array().unwrap().clone()
    }

    async fn end_session(&self, access_token: &str, id: &str) -> StatusCode {
        self.http
            .delete(self.url(&format!("/auth/sessions/{id}")))
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap()
            .status()
    }

    async fn login_as(&self, username: &str, user_agent: &str) -> Value {
        let response = self
            .http
            .post(self.url("/auth/login"))
            .header("user-agent", user_agent)
            .json(&credentials(username, PASSWORD))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }
}

fn sid(pair: &Value) -> String {
    jws_part(access(pair), 1)["sid"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn sessions_are_labelled_by_the_user_agent_and_listed_with_the_current_one_marked() {
    let server = start().await;
    server.signup("alice").await;
    let phone = server.login_as("alice", "  Phone/1.0 (Android)  ").await;
    let long = "L".repeat(300);
    let laptop = server.login_as("alice", &long).await;
    let listed = server.sessions(access(&laptop)).await;
    assert_eq!(listed.len(), 3, "{listed:?}");
    let of = |pair: &Value| {
        listed
            .iter()
            .find(|s| s["id"] == sid(pair))
            .unwrap_or_else(|| panic!("{listed:?}"))
            .clone()
    };
    assert_eq!(of(&phone)["label"], "Phone/1.0 (Android)");
    assert_eq!(of(&phone)["current"], false);
    assert_eq!(of(&laptop)["label"], "L".repeat(MAX_LABEL_BYTES));
    assert_eq!(of(&laptop)["current"], true);
}

#[tokio::test]
async fn a_user_ends_another_of_its_sessions() {
    let server = start().await;
    let phone = server.signup("alice").await;
    let laptop = server.login("alice").await;
    assert_eq!(
        server.end_session(access(&laptop), &sid(&phone)).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        server.me_status(access(&phone)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server.refresh(refresh_token(&phone)).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(server.me_status(access(&laptop)).await, StatusCode::OK);
    let listed = server.sessions(access(&laptop)).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
}

#[tokio::test]
async fn one_user_neither_sees_nor_ends_another_users_sessions() {
    let server = start().await;
    let alice = server.signup("alice").await;
    let bob = server.signup("bob").await;
    let listed = server.sessions(access(&bob)).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], sid(&bob));

    // Ending alice's session with bob's token: 404, as for an unknown id, and alice stays.
    assert_eq!(
        server.end_session(access(&bob), &sid(&alice)).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(server.me_status(access(&alice)).await, StatusCode::OK);
    assert_eq!(
        server.refresh(refresh_token(&alice)).await.status(),
        StatusCode::OK
    );
    // The same through the demo page's cookie routes, with bob's token as a bearer.
    let response = server
        .http
        .delete(server.url(&format!("/browser/auth/sessions/{}", sid(&alice))))
        .bearer_auth(access(&bob))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let listed: Value = server
        .get_bearer("/browser/auth/sessions", access(&bob))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["sessions"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(server.sessions(access(&alice)).await.len(), 1);
}
