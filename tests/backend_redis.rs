//! `RedisBackend` against a real Redis (127.0.0.1:6379, or `REDIS_ADDR`): the conformance
//! suite, concurrent refreshes over two instances, instances that lose Redis and get it
//! back, and random operation sequences that must answer as on `MemoryBackend`. Every test
//! works under a prefix of its own and deletes its keys at the end.

#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "common/differential.rs"]
mod differential;

use common::{Logs, the_session_cap_ends_the_oldest};

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use futures::future::join_all;
use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
    task::{AbortHandle, JoinHandle},
};
use tower_jwt_auth::{
    Issuer, Sessions, TokenPair,
    clock::MockClock,
    session::{RefreshError, StartError},
    store::{
        BackendError, RedisBackend, RevocationBackend, RevocationEntry, RevocationError,
        RevocationStore, conformance,
    },
    token::{NoCustomClaims, TokenError},
};

/// The tests' "now" (2096): far ahead of the Redis server's clock, so that Redis expires
/// nothing these tests write while they run.
const NOW: u64 = 4_000_000_000;
/// How long a change may take to reach another instance, reconnecting included.
const WAIT: Duration = Duration::from_secs(20);

fn redis_addr() -> String {
    std::env::var("REDIS_ADDR").unwrap_or_else(|_| "127.0.0.1:6379".into())
}

fn unique(what: &str) -> String {
    let mut bytes = [0u8; 8];
    SystemRandom::new().fill(&mut bytes).unwrap();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{what}-{hex}")
}

/// A prefix of the test's own; on drop (a failed test too), every key under it is deleted.
struct Prefix(String);

impl Prefix {
    fn new() -> Self {
        Self(unique("tower-jwt-auth-test"))
    }

    fn keys(&self, con: &mut redis::Connection) -> Vec<String> {
        let mut keys = Vec::new();
        let mut cursor = 0u64;
        loop {
            let (next, found): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{}:*", self.0))
                .arg("COUNT")
                .arg(1000)
                .query(con)
                .unwrap();
            keys.extend(found);
            if next == 0 {
                return keys;
            }
            cursor = next;
        }
    }
}

impl Drop for Prefix {
    fn drop(&mut self) {
        let Ok(client) = redis::Client::open(format!("redis://{}/", redis_addr())) else {
            return;
        };
        let Ok(mut con) = client.get_connection() else {
            return;
        };
        for keys in self.keys(&mut con).chunks(500) {
            let _: Result<u64, _> = redis::cmd("DEL").arg(keys).query(&mut con);
        }
        if !std::thread::panicking() {
            assert!(self.keys(&mut con).is_empty(), "the test left keys behind");
        }
    }
}

async fn backend_at(addr: &str, prefix: &Prefix) -> RedisBackend {
    RedisBackend::builder(format!("redis://{addr}/"))
        .with_prefix(&prefix.0)
        .with_timeout(Duration::from_millis(500))
        .with_feed_heartbeat(Duration::from_millis(250))
        .build()
        .await
        .unwrap_or_else(|err| panic!("Redis at {addr} ({err}): is it running?"))
}

async fn backend(prefix: &Prefix) -> RedisBackend {
    backend_at(&redis_addr(), prefix).await
}

async fn eventually(what: &str, check: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// One instance of the application: an issuer and its sessions over its own backend.
struct Instance {
    issuer: Issuer,
    sessions: Sessions,
    task: Option<JoinHandle<()>>,
}

impl Instance {
    fn new(clock: &MockClock, backend: RedisBackend) -> Self {
        let store = RevocationStore::builder()
            .with_backend(Arc::new(backend))
            .with_clock(clock.clone())
            .with_backend_timeout(Duration::from_millis(500))
            .build()
            .unwrap();
        let issuer = common::builder(clock)
            .with_revocation_store(store)
            .build()
            .unwrap();
        let sessions = Sessions::new(issuer.clone());
        Self {
            issuer,
            sessions,
            task: None,
        }
    }

    /// Spawns the store's task (load, feed, purge) and waits until the state is loaded.
    async fn run(mut self) -> Self {
        let store = self.issuer.revocation().clone();
        self.task = Some(tokio::spawn(store.clone().run()));
        eventually("the store loads the shared state", || store.is_ready()).await;
        self
    }

    fn access(&self, pair: &TokenPair) -> Result<(), TokenError> {
        self.issuer
            .verifier()
            .verify_access::<NoCustomClaims>(pair.access_token())
            .map(drop)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

#[tokio::test]
async fn the_session_cap_ends_the_oldest_on_redis() {
    let prefix = Prefix::new();
    the_session_cap_ends_the_oldest(
        Arc::new(backend(&prefix).await),
        Arc::new(backend(&prefix).await),
    )
    .await;
}

#[tokio::test]
async fn redis_backend_passes_the_conformance_suite() {
    let prefix = Prefix::new();
    conformance::run(|| async {
        // Two clients, two connections: two instances of an application.
        let a: Arc<dyn RevocationBackend> = Arc::new(backend(&prefix).await);
        let b: Arc<dyn RevocationBackend> = Arc::new(backend(&prefix).await);
        (a, b)
    })
    .await;
}

#[tokio::test]
async fn concurrent_refreshes_on_two_instances_have_exactly_one_winner() {
    let prefix = Prefix::new();
    let clock = MockClock::at_secs(NOW);
    let a = Instance::new(&clock, backend(&prefix).await);
    let b = Instance::new(&clock, backend(&prefix).await);
    for instance in [&a, &b] {
        instance.issuer.revocation().load().await.unwrap();
    }
    let pair = a.sessions.start("alice").await.unwrap();
    let outcomes = join_all((0..64).map(|i| {
        let sessions = if i % 2 == 0 { &a.sessions } else { &b.sessions };
        sessions.refresh(pair.refresh_token())
    }))
    .await;
    let winners: Vec<&TokenPair> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "exactly one winner: {outcomes:?}");
    assert!(
        outcomes.iter().all(|o| matches!(
            o,
            Ok(_)
                | Err(RefreshError::Reused)
                | Err(RefreshError::InvalidToken(TokenError::Revoked))
        )),
        "{outcomes:?}"
    );
    // Concurrent use of one refresh token is reuse: the winner's pair is revoked too.
    assert!(matches!(
        b.sessions.refresh(winners[0].refresh_token()).await,
        Err(RefreshError::InvalidToken(TokenError::Revoked))
    ));
}

#[tokio::test]
async fn a_purge_behind_the_server_clock_leaves_live_entries_to_redis() {
    let prefix = Prefix::new();
    let backend = backend(&prefix).await;
    let entry = RevocationEntry::Token {
        jti: unique("jti"),
        expires_at: NOW,
    };
    backend.revoke(&entry).await.unwrap();
    // Every key expires by itself at the end of its forget-after second: a purge at a time
    // the Redis clock has passed has nothing left to delete.
    assert_eq!(backend.purge(1_000_000_000).await.unwrap(), 0);
    assert!(backend.load(NOW).await.unwrap().contains(&entry));
    assert_eq!(backend.purge(NOW + 1).await.unwrap(), 1);
    assert!(backend.load(0).await.unwrap().is_empty());
}

#[tokio::test]
async fn debug_output_names_the_server_and_prefix_only() {
    let prefix = Prefix::new();
    let shown = format!("{:?}", backend(&prefix).await);
    assert!(shown.contains(&redis_addr()), "{shown}");
    assert!(shown.contains(&prefix.0), "{shown}");
    let builder = RedisBackend::builder("redis://admin:hunter2@127.0.0.1:6379/3");
    assert!(!format!("{builder:?}").contains("hunter2"));
    assert!(!format!("{builder:?}").contains("admin"));
}

#[tokio::test]
async fn an_unreachable_redis_or_a_bad_prefix_is_a_clear_error() {
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let err = RedisBackend::builder(format!("redis://{addr}/"))
        .with_timeout(Duration::from_millis(300))
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(err, BackendError::Connect(_) | BackendError::Timeout { .. }),
        "{err:?}"
    );
    for prefix in ["", "a{b", "a*", "with space"] {
        let err = RedisBackend::builder(format!("redis://{}/", redis_addr()))
            .with_prefix(prefix)
            .build()
            .await
            .unwrap_err();
        assert!(matches!(err, BackendError::Config(_)), "{prefix:?}");
    }
}

/// What a TCP proxy between one instance and Redis does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Forwards both ways.
    Up,
    /// Closes every connection, and every new one at once.
    Closed,
    /// Keeps connections open but forwards nothing: a network partition.
    Silent,
}

/// A TCP proxy to Redis that the test can cut: one instance loses Redis while Redis, and
/// the other instances, go on.
struct Proxy {
    addr: SocketAddr,
    link: watch::Sender<Link>,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
    task: JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (link, watching) = watch::channel(Link::Up);
        let connections = Arc::new(Mutex::new(Vec::new()));
        let held = connections.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let watching = watching.clone();
                let connection = tokio::spawn(Self::forward(client, upstream, watching));
                held.lock().unwrap().push(connection.abort_handle());
            }
        });
        Self {
            addr,
            link,
            connections,
            task,
        }
    }

    async fn forward(mut client: TcpStream, upstream: String, mut link: watch::Receiver<Link>) {
        let state = *link.borrow_and_update();
        match state {
            Link::Closed => return,
            Link::Silent => return std::future::pending().await,
            Link::Up => {}
        }
        let Ok(mut server) = TcpStream::connect(upstream).await else {
            return;
        };
        let silent = tokio::select! {
            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => false,
            changed = link.wait_for(|link| *link != Link::Up) => {
                matches!(changed.map(|link| *link), Ok(Link::Silent))
            }
        };
        if silent {
            // Hold both connections, forwarding nothing, until aborted.
            std::future::pending::<()>().await;
        }
    }

    /// Sets the link; closes every connection held so far, unless it becomes silent.
    fn set(&self, link: Link) {
        self.link.send_replace(link);
        if link != Link::Silent {
            for connection in self.connections.lock().unwrap().drain(..) {
                connection.abort();
            }
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        self.set(Link::Closed);
    }
}

/// `b` reaches Redis through a proxy; `a` directly. The proxy is cut as `link` says, then
/// restored.
async fn an_instance_losing_redis(link: Link) {
    let logs = Logs::default();
    // Captured also while other tests run without a subscriber.
    let _logging = logs.capture();

    let prefix = Prefix::new();
    let proxy = Proxy::start(redis_addr()).await;
    let clock = MockClock::at_secs(NOW);
    let a = Instance::new(&clock, backend(&prefix).await).run().await;
    let b = Instance::new(&clock, backend_at(&proxy.addr.to_string(), &prefix).await)
        .run()
        .await;

    let [before, kept, during, after] = [
        a.sessions.start("alice").await.unwrap(),
        a.sessions.start("bob").await.unwrap(),
        a.sessions.start("carol").await.unwrap(),
        a.sessions.start("dave").await.unwrap(),
    ];
    a.sessions.logout(before.session_id()).await.unwrap();
    eventually("the feed brings b the logout", || {
        b.access(&before) == Err(TokenError::Revoked)
    })
    .await;

    proxy.set(link);

    // Every write through b fails closed, with the backend's error, in bounded time.
    let started = Instant::now();
    let err = b.sessions.logout(kept.session_id()).await.unwrap_err();
    let RevocationError::Backend(cause) = &err else {
        panic!("{err:?}");
    };
    // Redis's own error, or no answer within the store's time limit.
    let cause = cause.to_string();
    assert!(
        cause.starts_with("Redis ") || cause.starts_with("no answer"),
        "{cause}"
    );
    assert!(matches!(
        b.sessions.start("erin").await,
        Err(StartError::Store(RevocationError::Backend(_)))
    ));
    assert!(matches!(
        b.sessions.refresh(kept.refresh_token()).await,
        Err(RefreshError::Revocation(RevocationError::Backend(_)))
    ));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    // Verification on b goes on from its local map until it may be staler than its bound
    // (then every token is refused with 503): nothing revoked becomes valid, nothing the
    // failed logout would have revoked is.
    assert!(matches!(
        b.access(&before),
        Err(TokenError::Revoked | TokenError::RevocationUnavailable)
    ));
    assert!(matches!(
        b.access(&kept),
        Ok(()) | Err(TokenError::RevocationUnavailable)
    ));

    // Meanwhile a logs out a session; b's feed cannot bring it.
    a.sessions.logout(during.session_id()).await.unwrap();

    proxy.set(Link::Up);

    // b reconnects and reloads: it learns what it missed, and follows the feed again.
    eventually("b reloads what it missed", || {
        b.access(&during) == Err(TokenError::Revoked)
    })
    .await;
    assert_eq!(b.access(&before), Err(TokenError::Revoked));
    a.sessions.logout(after.session_id()).await.unwrap();
    eventually("the feed brings b the next logout", || {
        b.access(&after) == Err(TokenError::Revoked)
    })
    .await;
    // And b writes again.
    let deadline = tokio::time::Instant::now() + WAIT;
    while b.sessions.logout(kept.session_id()).await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "b writes again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eventually("the feed brings a b's logout", || {
        a.access(&kept) == Err(TokenError::Revoked)
    })
    .await;

    let logs = logs.text();
    for event in [
        "revocation backend error",
        "revocation change feed lost",
        "revocation backend recovered",
    ] {
        assert!(logs.contains(event), "no {event:?} in:\n{logs}");
    }
    for pair in [&before, &kept, &during, &after] {
        assert!(!logs.contains(pair.refresh_token()) && !logs.contains(pair.access_token()));
    }
}

#[tokio::test]
async fn an_instance_whose_connections_to_redis_close_fails_closed_and_recovers() {
    an_instance_losing_redis(Link::Closed).await;
}

#[tokio::test]
async fn an_instance_cut_off_from_redis_fails_closed_and_recovers() {
    an_instance_losing_redis(Link::Silent).await;
}

/// The store's default staleness bound.
const BOUND: Duration = Duration::from_secs(3);

/// `b` reaches Redis through a proxy that is cut as `link` says; `a` logs a session out
/// meanwhile. `b` may accept the logged-out token only up to its staleness bound, refuses it
/// (503, or 401 once it knows) from then on, and knows it revoked once the link is back.
async fn a_logout_while_an_instance_is_cut_off(link: Link) {
    let prefix = Prefix::new();
    let proxy = Proxy::start(redis_addr()).await;
    let clock = MockClock::at_secs(NOW);
    let a = Instance::new(&clock, backend(&prefix).await).run().await;
    let b = Instance::new(&clock, backend_at(&proxy.addr.to_string(), &prefix).await)
        .run()
        .await;
    let pair = a.sessions.start("alice").await.unwrap();
    eventually("b accepts the token", || b.access(&pair) == Ok(())).await;

    proxy.set(link);
    a.sessions.logout(pair.session_id()).await.unwrap();
    let logged_out = Instant::now();
    let mut accepted_until = None;
    let mut refused_with = Vec::new();
    // Watched for well past the bound, the link still cut.
    while logged_out.elapsed() < 3 * BOUND {
        match b.access(&pair) {
            Ok(()) => accepted_until = Some(logged_out.elapsed()),
            Err(err) => {
                assert!(
                    matches!(err, TokenError::Revoked | TokenError::RevocationUnavailable),
                    "{err:?}"
                );
                if !refused_with.contains(&err) {
                    refused_with.push(err);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A generous margin over the bound: the point is that b stops, not when to the ms.
    if let Some(until) = accepted_until {
        assert!(
            until < BOUND + Duration::from_secs(2),
            "b accepted the logged-out token {until:?} after the logout"
        );
    }
    assert_eq!(
        b.access(&pair),
        Err(TokenError::RevocationUnavailable),
        "cut off past its bound, b refuses every token"
    );
    assert!(!b.issuer.revocation().is_ready());

    proxy.set(Link::Up);
    let restored = Instant::now();
    eventually("b knows the logout once the link is back", || {
        b.access(&pair) == Err(TokenError::Revoked)
    })
    .await;
    assert!(b.issuer.revocation().is_ready());
    eprintln!(
        "{link:?}: b accepted the logged-out token until {accepted_until:?}, refused it with \
         {refused_with:?}; ready {:?} after the link returned",
        restored.elapsed()
    );
}

#[tokio::test]
async fn a_logout_while_an_instance_is_reset_off_redis_is_refused_there_within_the_bound() {
    a_logout_while_an_instance_is_cut_off(Link::Closed).await;
}

#[tokio::test]
async fn a_logout_while_an_instance_is_partitioned_from_redis_is_refused_there_within_the_bound() {
    a_logout_while_an_instance_is_cut_off(Link::Silent).await;
}

proptest::proptest! {
    #![proptest_config(differential::config(64))]

    /// Random sequences of every operation answer the same on Redis as on the reference
    /// backend: rotation, grace, reuse, revocations, purges and loads.
    #[test]
    fn redis_answers_as_the_memory_backend_does(steps in differential::steps()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let prefix = Prefix::new();
            let redis = backend(&prefix).await;
            differential::same_answers(&steps, &redis, "Redis", differential::Counts::Same).await
        })?;
    }
}

#[tokio::test]
async fn persists_reports_what_the_server_is_configured_to_keep() {
    let prefix = Prefix::new();
    let backend = backend(&prefix).await;
    let client = redis::Client::open(format!("redis://{}/", redis_addr())).unwrap();
    let mut con = client.get_connection().unwrap();
    let setting = |con: &mut redis::Connection, name: &str| -> String {
        let pair: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg(name)
            .query(con)
            .unwrap();
        pair[1].clone()
    };
    let append_only = setting(&mut con, "appendonly");
    let snapshots = setting(&mut con, "save");
    let expected = append_only == "yes" || !snapshots.trim().is_empty();
    assert_eq!(backend.persists(), Some(expected));
}
