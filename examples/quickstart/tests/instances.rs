//! Two quickstart servers over one shared store act as one service: over Redis (feature
//! `redis`) and over PostgreSQL (feature `postgres`).
//!
//! Both servers run in this process with the same signing key file, each on its own
//! connections to the store, and are driven over real HTTP. The test checks that a user
//! signed up on one logs in on the other, that tokens from one work on the other, that a
//! logout and a logout-all on one are refused on the other once the revocation has come in on
//! its change feed (30 times each; the delays from the 204 to the refusal are printed, never
//! asserted), that a session refreshes alternately on both,
//! that replaying on one a refresh token rotated on the other revokes the session on both,
//! and that after a restart of both every revocation holds and every live session refreshes.
//! Each run uses keys or tables of its own (a unique `STORE_PREFIX`) and removes them.
//!
//! Redis is `redis://REDIS_ADDR/` (default `127.0.0.1:6379`); PostgreSQL is
//! `TOWER_JWT_AUTH_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`).
//!
//! ```sh
//! cargo test -p quickstart --test instances --features redis,postgres -- --nocapture
//! ```

#![cfg(any(feature = "redis", feature = "postgres"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::{
    io,
    path::PathBuf,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use futures::FutureExt;
use quickstart::{Config, StoreUrl, app_with, open_stores, serve};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{pem, rfc8037_pkcs8};
use tokio::{
    net::TcpListener,
    sync::{oneshot, watch},
    task::JoinHandle,
};

const PASSWORD: &str = "correct horse battery";
/// How many times each propagation is checked.
const ROUNDS: usize = 30;
/// How long the test waits for an event (a change from the feed, the store's first load)
/// before it gives up: a guard against a hang, never a measure of speed.
const HANG_GUARD: Duration = Duration::from_secs(60);

// ----- harness -----

/// A running quickstart server.
struct Instance {
    base: String,
    /// How many revocations from the change feed the instance has applied.
    feed_applied: watch::Receiver<u64>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<io::Result<()>>,
}

impl Instance {
    /// Opens the stores, builds the app and serves it; returns once the revocation state is
    /// loaded (until then every token is refused with 503).
    async fn start(config: &Config) -> Self {
        let app = app_with(config, open_stores(config).await.unwrap()).unwrap();
        let revocation = app.issuer.revocation().clone();
        let feed_applied = app.feed_applied.clone();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, app, async {
            let _ = stopped.await;
        }));
        let deadline = Instant::now() + HANG_GUARD;
        while !revocation.is_ready() {
            assert!(Instant::now() < deadline, "the store never loaded");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Self {
            base,
            feed_applied,
            stop,
            task,
        }
    }

    /// Stops serving and waits for the server (and its store task) to end.
    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
    }
}

/// An HTTP client for both instances.
struct Client(reqwest::Client);

impl Client {
    fn new() -> Self {
        // No pooled connections: a stopped server's idle connections are not reused.
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        Self(http)
    }

    async fn post_json(&self, at: &Instance, path: &str, body: &Value) -> reqwest::Response {
        let url = format!("{}{path}", at.base);
        self.0.post(url).json(body).send().await.unwrap()
    }

    /// Signs up or logs in: the status and the token response.
    async fn credentials(&self, at: &Instance, path: &str, user: &str) -> (StatusCode, Value) {
        let body = json!({ "username": user, "password": PASSWORD });
        let response = self.post_json(at, path, &body).await;
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn login(&self, at: &Instance, user: &str) -> Value {
        let (status, pair) = self.credentials(at, "/auth/login", user).await;
        assert_eq!(status, StatusCode::OK, "login {user}");
        pair
    }

    /// Refreshes: the status and, on success, the next pair.
    async fn refresh(&self, at: &Instance, pair: &Value) -> (StatusCode, Value) {
        let body = json!({ "refresh_token": pair["refresh_token"] });
        let response = self.post_json(at, "/auth/refresh", &body).await;
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn refreshed(&self, at: &Instance, pair: &Value) -> Value {
        let (status, next) = self.refresh(at, pair).await;
        assert_eq!(status, StatusCode::OK, "refresh at {}", at.base);
        next
    }

    /// The status of `GET /me` with the pair's access token.
    async fn me(&self, at: &Instance, pair: &Value) -> StatusCode {
        let token = pair["access_token"].as_str().unwrap();
        let url = format!("{}/me", at.base);
        let response = self.0.get(url).bearer_auth(token).send().await.unwrap();
        response.status()
    }

    async fn post_bearer(&self, at: &Instance, path: &str, pair: &Value) -> StatusCode {
        let token = pair["access_token"].as_str().unwrap();
        let url = format!("{}{path}", at.base);
        let response = self.0.post(url).bearer_auth(token).send().await.unwrap();
        response.status()
    }

    /// Waits until the pair's access token is refused at `at`, asking again after each
    /// revocation `at` applies from the change feed (never on a timer); returns the time
    /// since `since`, for the record. Fails if `at` goes on accepting it and nothing more
    /// comes in on the feed within the hang guard.
    async fn refused_after(&self, at: &Instance, pair: &Value, since: Instant) -> Duration {
        let mut feed = at.feed_applied.clone();
        loop {
            // Changes applied from here on wake the wait below, even those that come in
            // during the request.
            let applied = *feed.borrow_and_update();
            match self.me(at, pair).await {
                StatusCode::UNAUTHORIZED => return since.elapsed(),
                StatusCode::OK => {}
                other => panic!("unexpected {other} at {}", at.base),
            }
            tokio::time::timeout(HANG_GUARD, feed.changed())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "still accepted at {} after the {applied} revocations it applied \
                         from the feed, and no more came in",
                        at.base
                    )
                })
                .unwrap();
        }
    }
}

/// A store prefix of this run alone.
fn unique_prefix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("qs{}_{:x}", std::process::id(), nanos & 0xffff_ffff_ffff)
}

/// The median and the worst of `delays`.
fn p50_and_worst(mut delays: Vec<Duration>) -> (Duration, Duration) {
    delays.sort();
    (delays[delays.len() / 2], delays[delays.len() - 1])
}

// ----- the scenario -----

/// Two instances over the store of `config`, checked sentence by sentence; then both
/// restarted.
async fn two_instances_act_as_one(config: &Config, store: &str) {
    let client = Client::new();
    let a = Instance::start(config).await;
    let b = Instance::start(config).await;

    // A user signed up on A has one account, known to B: B refuses the name and logs it in.
    let (status, alice) = client.credentials(&a, "/auth/signup", "alice").await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = client.credentials(&b, "/auth/signup", "Alice").await;
    assert_eq!(status, StatusCode::CONFLICT);
    let on_b = client.login(&b, "alice").await;

    // A token from A works on B, and one from B on A.
    assert_eq!(client.me(&b, &alice).await, StatusCode::OK);
    assert_eq!(client.me(&a, &on_b).await, StatusCode::OK);

    // A session started on A refreshes on B and back, each pair working on both.
    let mut live = alice;
    for at in [&b, &a, &b, &a] {
        live = client.refreshed(at, &live).await;
        assert_eq!(client.me(&a, &live).await, StatusCode::OK);
        assert_eq!(client.me(&b, &live).await, StatusCode::OK);
    }

    // A refresh token rotated on A and replayed on B revokes the session everywhere.
    let stolen = client.login(&a, "alice").await;
    let rotated = client.refreshed(&a, &stolen).await;
    let (status, _) = client.refresh(&b, &stolen).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "replay on B");
    let replayed = Instant::now();
    client.refused_after(&a, &rotated, replayed).await;
    client.refused_after(&b, &rotated, replayed).await;
    for at in [&a, &b] {
        let (status, _) = client.refresh(at, &rotated).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "the session's latest refresh"
        );
    }

    // A logout (one session) and a logout-all (every session of the user) on A are refused
    // on B once the revocation has come in on B's feed; the delay from A's 204 to B's first
    // 401 is printed.
    let (status, _) = client.credentials(&a, "/auth/signup", "bob").await;
    assert_eq!(status, StatusCode::CREATED);
    let mut logged_out = Vec::new();
    for (path, user) in [("/auth/logout", "alice"), ("/auth/logout-all", "bob")] {
        let mut delays = Vec::with_capacity(ROUNDS);
        for _ in 0..ROUNDS {
            let pair = client.login(&a, user).await;
            assert_eq!(client.me(&b, &pair).await, StatusCode::OK);
            assert_eq!(
                client.post_bearer(&a, path, &pair).await,
                StatusCode::NO_CONTENT
            );
            delays.push(client.refused_after(&b, &pair, Instant::now()).await);
            logged_out.push(pair);
        }
        let (p50, worst) = p50_and_worst(delays);
        println!(
            "{store}: {path} on A refused on B after p50 {p50:?}, worst {worst:?} of {ROUNDS}"
        );
    }
    // Alice's first session, refreshed above, is untouched by the others' revocations.
    assert_eq!(client.me(&b, &live).await, StatusCode::OK);

    // Both restart over the same store: every revocation holds, every live session refreshes,
    // and the users are still there.
    a.stop().await;
    b.stop().await;
    let a = Instance::start(config).await;
    let b = Instance::start(config).await;
    for pair in logged_out.iter().chain([&rotated]) {
        for at in [&a, &b] {
            assert_eq!(client.me(at, pair).await, StatusCode::UNAUTHORIZED);
            let (status, _) = client.refresh(at, pair).await;
            assert_eq!(status, StatusCode::BAD_REQUEST);
        }
    }
    assert_eq!(client.me(&a, &live).await, StatusCode::OK);
    let live = client.refreshed(&b, &live).await;
    let live = client.refreshed(&a, &live).await;
    assert_eq!(client.me(&b, &live).await, StatusCode::OK);
    let bob = client.login(&b, "bob").await;
    assert_eq!(client.me(&a, &bob).await, StatusCode::OK);
    a.stop().await;
    b.stop().await;
}

/// Runs the scenario over `store` with a fresh prefix and signing key file, then `cleanup`
/// with the prefix, whether it passed or not.
async fn run<F: Future<Output = ()>>(
    store: StoreUrl,
    name: &str,
    cleanup: impl FnOnce(String) -> F,
) {
    let prefix = unique_prefix();
    let key = std::env::temp_dir().join(format!("{prefix}.pem"));
    std::fs::write(&key, pem("PRIVATE KEY", &rfc8037_pkcs8())).unwrap();
    let config = Config {
        signing_key_file: Some(PathBuf::from(&key)),
        // One service: one key, one store, one URL.
        public_url: Some("http://127.0.0.1:3000".to_owned()),
        store: Some(store),
        store_prefix: prefix.clone(),
        // A machine busy with other builds can be slow to hash.
        hash_queue: Duration::from_secs(10),
        ..Config::default()
    };
    let outcome = std::panic::AssertUnwindSafe(two_instances_act_as_one(&config, name))
        .catch_unwind()
        .await;
    let _ = std::fs::remove_file(&key);
    cleanup(prefix).await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_over_redis_act_as_one() {
    let addr = std::env::var("REDIS_ADDR").unwrap_or_else(|_| "127.0.0.1:6379".into());
    let url = format!("redis://{addr}/");
    let cleanup = |prefix: String| async move {
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut connection = client.get_multiplexed_async_connection().await.unwrap();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}:*"))
            .query_async(&mut connection)
            .await
            .unwrap();
        if !keys.is_empty() {
            let () = redis::cmd("DEL")
                .arg(keys)
                .query_async(&mut connection)
                .await
                .unwrap();
        }
    };
    run(
        StoreUrl::Redis(format!("redis://{addr}/")),
        "redis",
        cleanup,
    )
    .await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_over_postgres_act_as_one() {
    use sqlx::{AssertSqlSafe, Executor};
    let url = std::env::var("TOWER_JWT_AUTH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let cleanup = |prefix: String| {
        let url = url.clone();
        async move {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            let drop = format!(
                "DROP TABLE IF EXISTS {prefix}_sessions, {prefix}_entries, {prefix}_dpop_proofs, {prefix}_users"
            );
            pool.execute(AssertSqlSafe(drop)).await.unwrap();
        }
    };
    run(StoreUrl::Postgres(url.clone()), "postgres", cleanup).await;
}
