//! `RedisBackend` on a real Redis Cluster (seed node 127.0.0.1:7000, or
//! `REDIS_CLUSTER_ADDR`; three primaries): the conformance suite, the session cap, two
//! instances sharing the state through the change feed, keys spread over every primary and
//! all found by a warm start and a purge, and a change feed that loses its node. Every test
//! works under a prefix of its own and deletes its keys at the end.

#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Logs, the_session_cap_ends_the_oldest};

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use futures::StreamExt;
use redis::Value;
use tokio::sync::RwLock;
use tower_jwt_auth::{
    Issuer, Sessions,
    clock::MockClock,
    store::{
        Change, Heartbeat, RedisBackend, RevocationBackend, RevocationEntry, RevocationStore,
        conformance,
    },
    token::{NoCustomClaims, TokenError},
};

/// The tests' "now" (2096): far ahead of the servers' clocks, so that Redis expires nothing
/// these tests write while they run.
const NOW: u64 = 4_000_000_000;
/// How long a change may take to reach another instance, reconnecting included.
const WAIT: Duration = Duration::from_secs(20);

fn seed_addr() -> String {
    std::env::var("REDIS_CLUSTER_ADDR").unwrap_or_else(|_| "127.0.0.1:7000".into())
}

/// The cluster's primaries (`host:port`), from the seed's `CLUSTER SLOTS`.
fn primaries() -> BTreeSet<String> {
    let client = redis::Client::open(format!("redis://{}/", seed_addr())).unwrap();
    let mut con = client
        .get_connection()
        .unwrap_or_else(|err| panic!("Redis Cluster at {} ({err}): is it running?", seed_addr()));
    let slots: Vec<Value> = redis::cmd("CLUSTER").arg("SLOTS").query(&mut con).unwrap();
    slots
        .into_iter()
        .map(|range| {
            let Value::Array(fields) = range else {
                panic!("a slot range: {range:?}")
            };
            let Value::Array(primary) = &fields[2] else {
                panic!("a primary: {fields:?}")
            };
            let host: String = redis::FromRedisValue::from_redis_value_ref(&primary[0]).unwrap();
            let port: u16 = redis::FromRedisValue::from_redis_value_ref(&primary[1]).unwrap();
            format!("{host}:{port}")
        })
        .collect()
}

/// A prefix of the test's own; on drop (a failed test too), every key under it is deleted
/// on every primary.
struct Prefix(String);

impl Prefix {
    fn new() -> Self {
        Self(common::unique_name("tower-jwt-auth-cluster-test"))
    }

    /// The keys under the prefix on the primary at `addr`.
    fn keys_on(&self, con: &mut redis::Connection) -> Vec<String> {
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

    /// The number of keys under the prefix on each primary.
    fn keys_per_primary(&self) -> Vec<(String, usize)> {
        primaries()
            .into_iter()
            .map(|addr| {
                let client = redis::Client::open(format!("redis://{addr}/")).unwrap();
                let mut con = client.get_connection().unwrap();
                let count = self.keys_on(&mut con).len();
                (addr, count)
            })
            .collect()
    }
}

impl Drop for Prefix {
    fn drop(&mut self) {
        let Ok(client) = redis::Client::open(format!("redis://{}/", seed_addr())) else {
            return;
        };
        if client.get_connection().is_err() {
            return;
        }
        let mut left = 0;
        for addr in primaries() {
            let client = redis::Client::open(format!("redis://{addr}/")).unwrap();
            let Ok(mut con) = client.get_connection() else {
                continue;
            };
            // Keys of one node live in many slots: one DEL each.
            for key in self.keys_on(&mut con) {
                let _: Result<u64, _> = redis::cmd("DEL").arg(key).query(&mut con);
            }
            left += self.keys_on(&mut con).len();
        }
        if !std::thread::panicking() {
            assert_eq!(left, 0, "the test left keys behind");
        }
    }
}

async fn backend(prefix: &Prefix) -> RedisBackend {
    RedisBackend::cluster_builder([format!("redis://{}/", seed_addr())])
        .with_prefix(&prefix.0)
        .with_timeout(Duration::from_secs(2))
        .with_feed_heartbeat(Duration::from_millis(250))
        .build()
        .await
        .unwrap_or_else(|err| panic!("Redis Cluster at {} ({err}): is it running?", seed_addr()))
}

/// The feed test closes every subscription of the cluster: the other tests hold this shared,
/// it holds it alone.
static FEEDS: RwLock<()> = RwLock::const_new(());

async fn eventually(what: &str, check: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn redis_cluster_backend_passes_the_conformance_suite() {
    let _shared = FEEDS.read().await;
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
async fn the_session_cap_ends_the_oldest_on_a_redis_cluster() {
    let _shared = FEEDS.read().await;
    let prefix = Prefix::new();
    the_session_cap_ends_the_oldest(
        Arc::new(backend(&prefix).await),
        Arc::new(backend(&prefix).await),
    )
    .await;
}

#[tokio::test]
async fn keys_spread_over_every_primary_and_load_and_purge_find_them_all() {
    let _shared = FEEDS.read().await;
    let prefix = Prefix::new();
    let backend = backend(&prefix).await;
    let mut revoked = Vec::new();
    for i in 0..60 {
        let entry = match i % 3 {
            0 => RevocationEntry::Token {
                jti: format!("jti-{i}"),
                expires_at: NOW,
            },
            1 => RevocationEntry::Session {
                sid: format!("sid-{i}"),
                expires_at: NOW,
            },
            _ => RevocationEntry::Subject {
                sub: format!("sub-{i}"),
                cutoff_ms: NOW * 1000,
                expires_at: NOW,
            },
        };
        backend.revoke(&entry).await.unwrap();
        revoked.push(entry);
    }
    let spread = prefix.keys_per_primary();
    assert!(spread.len() >= 3, "three primaries: {spread:?}");
    assert!(
        spread.iter().all(|(_, count)| *count > 0),
        "every primary holds some keys: {spread:?}"
    );
    assert_eq!(spread.iter().map(|(_, count)| count).sum::<usize>(), 60);

    let mut loaded = backend.load(NOW).await.unwrap();
    let key = |entry: &RevocationEntry| format!("{entry:?}");
    loaded.sort_by_key(key);
    revoked.sort_by_key(key);
    assert_eq!(
        loaded, revoked,
        "a warm start finds the keys of every primary"
    );

    assert_eq!(backend.purge(NOW + 1).await.unwrap(), 60);
    assert!(backend.load(0).await.unwrap().is_empty());
    assert!(
        prefix
            .keys_per_primary()
            .iter()
            .all(|(_, count)| *count == 0)
    );
}

/// One instance of the application over its own backend, its store's task running.
struct Instance {
    issuer: Issuer,
    sessions: Sessions,
    task: tokio::task::JoinHandle<()>,
}

impl Instance {
    async fn start(clock: &MockClock, backend: RedisBackend) -> Self {
        let store = RevocationStore::builder()
            .with_backend(Arc::new(backend))
            .with_clock(clock.clone())
            .with_backend_timeout(Duration::from_secs(1))
            .build()
            .unwrap();
        let issuer = common::builder(clock)
            .with_revocation_store(store)
            .build()
            .unwrap();
        let sessions = Sessions::new(issuer.clone());
        let store = issuer.revocation().clone();
        let task = tokio::spawn(store.clone().run());
        eventually("the store loads the shared state", || store.is_ready()).await;
        Self {
            issuer,
            sessions,
            task,
        }
    }

    fn accepts(&self, access_token: &str) -> Result<(), TokenError> {
        self.issuer
            .verifier()
            .verify_access::<NoCustomClaims>(access_token)
            .map(drop)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test]
async fn two_instances_share_the_state_through_the_cluster() {
    let _shared = FEEDS.read().await;
    let prefix = Prefix::new();
    let clock = MockClock::at_secs(NOW);
    let a = Instance::start(&clock, backend(&prefix).await).await;
    let b = Instance::start(&clock, backend(&prefix).await).await;

    let pairs = [
        a.sessions.start("alice").await.unwrap(),
        a.sessions.start("bob").await.unwrap(),
        a.sessions.start("carol").await.unwrap(),
    ];
    // A logout on one instance reaches the other through the feed.
    a.sessions.logout(pairs[0].session_id()).await.unwrap();
    eventually("b refuses the session a logged out", || {
        b.accepts(pairs[0].access_token()).is_err()
    })
    .await;
    // "Log out everywhere" on the other instance, for a subject whose keys live elsewhere.
    b.sessions.logout_all("bob").await.unwrap();
    eventually("a refuses bob's session", || {
        a.accepts(pairs[1].access_token()).is_err()
    })
    .await;
    assert!(a.accepts(pairs[2].access_token()).is_ok());
    assert!(b.accepts(pairs[2].access_token()).is_ok());

    // Both load the same state, and so does a third instance started now.
    let backend_a = backend(&prefix).await;
    let backend_b = backend(&prefix).await;
    let key = |entry: &RevocationEntry| format!("{entry:?}");
    let mut loaded_a = backend_a.load(NOW).await.unwrap();
    let mut loaded_b = backend_b.load(NOW).await.unwrap();
    loaded_a.sort_by_key(key);
    loaded_b.sort_by_key(key);
    assert_eq!(loaded_a, loaded_b);
    assert!(loaded_a.len() >= 2, "{loaded_a:?}");
    let c = Instance::start(&clock, backend(&prefix).await).await;
    assert!(c.accepts(pairs[0].access_token()).is_err());
    assert!(c.accepts(pairs[1].access_token()).is_err());
    assert!(c.accepts(pairs[2].access_token()).is_ok());
}

#[tokio::test]
async fn a_change_feed_that_loses_its_node_reports_a_gap_and_subscribes_again() {
    let _alone = FEEDS.write().await;
    let prefix = Prefix::new();
    let backend = backend(&prefix).await;
    let mut feed = backend.subscribe().await.unwrap();
    // The subscription's connection is closed on whichever node holds it.
    for addr in primaries()
        .into_iter()
        .chain((7003..=7005).map(|p| format!("127.0.0.1:{p}")))
    {
        let Ok(client) = redis::Client::open(format!("redis://{addr}/")) else {
            continue;
        };
        let Ok(mut con) = client.get_connection() else {
            continue;
        };
        let _: Result<u64, _> = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("TYPE")
            .arg("pubsub")
            .query(&mut con);
    }
    let gap = tokio::time::timeout(WAIT, feed.next()).await.unwrap();
    assert!(matches!(gap, Some(Err(_))), "a gap: {gap:?}");
    assert!(feed.next().await.is_none(), "the feed ends after its gap");

    let mut feed = backend.subscribe().await.unwrap();
    let entry = RevocationEntry::Token {
        jti: "after-the-gap".into(),
        expires_at: NOW,
    };
    backend.revoke(&entry).await.unwrap();
    let change = tokio::time::timeout(WAIT, feed.next()).await.unwrap();
    assert!(
        matches!(&change, Some(Ok(Change::Entry(seen))) if *seen == entry),
        "{change:?}"
    );
}

#[tokio::test]
async fn debug_output_names_the_nodes_and_prefix_only() {
    let _shared = FEEDS.read().await;
    let prefix = Prefix::new();
    let shown = format!("{:?}", backend(&prefix).await);
    assert!(shown.contains(&seed_addr()), "{shown}");
    assert!(shown.contains(&prefix.0), "{shown}");
    let builder = RedisBackend::cluster_builder(["redis://admin:hunter2@10.0.0.1:7000/"]);
    let shown = format!("{builder:?}");
    assert!(
        shown.contains("10.0.0.1:7000") && !shown.contains("hunter2"),
        "{shown}"
    );
}

#[tokio::test]
async fn a_cluster_without_nodes_or_with_a_bad_url_is_refused_at_build() {
    let none: [&str; 0] = [];
    assert!(matches!(
        RedisBackend::cluster_builder(none).build().await,
        Err(tower_jwt_auth::store::BackendError::Config(_))
    ));
    assert!(matches!(
        RedisBackend::cluster_builder(["not a url"]).build().await,
        Err(tower_jwt_auth::store::BackendError::Url(_))
    ));
}

#[tokio::test]
async fn a_heartbeat_reaches_the_feed_once_after_every_primary_published_it() {
    let _shared = FEEDS.read().await;
    let prefix = Prefix::new();
    let backend = backend(&prefix).await;
    let mut feed = backend.subscribe().await.unwrap();
    let beats = [1, 2].map(|seq| Heartbeat { origin: 7, seq });
    for beat in &beats {
        backend.heartbeat(beat).await.unwrap();
    }
    for beat in beats {
        let change = tokio::time::timeout(WAIT, feed.next()).await.unwrap();
        assert!(
            matches!(change, Some(Ok(Change::Heartbeat(seen))) if seen == beat),
            "{change:?}"
        );
    }
    // Each primary published each heartbeat: the copies are not passed on again.
    let entry = RevocationEntry::Token {
        jti: "after-the-heartbeats".into(),
        expires_at: NOW,
    };
    backend.revoke(&entry).await.unwrap();
    let change = tokio::time::timeout(WAIT, feed.next()).await.unwrap();
    assert!(
        matches!(&change, Some(Ok(Change::Entry(seen))) if *seen == entry),
        "{change:?}"
    );
}

/// Sets `save` on the primaries at `addrs`.
fn set_save(addrs: &[String], value: &str) {
    for addr in addrs {
        let client = redis::Client::open(format!("redis://{addr}/")).unwrap();
        let mut con = client.get_connection().unwrap();
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("save")
            .arg(value)
            .query(&mut con)
            .unwrap();
    }
}

#[tokio::test]
async fn a_cluster_with_a_primary_that_persists_nothing_is_reported_at_build() {
    let _alone = FEEDS.write().await;
    let prefix = Prefix::new();
    let warned = |logs: &Logs| logs.text().contains("persists nothing");
    let primaries: Vec<String> = primaries().into_iter().collect();
    // The test cluster runs without an append-only file and without snapshots.
    set_save(&primaries, "");
    let logs = Logs::default();
    {
        let _capture = logs.capture();
        backend(&prefix).await;
    }
    let none = warned(&logs);
    // Snapshots on every primary but the last: still one that forgets everything.
    set_save(&primaries[..primaries.len() - 1], "3600 1");
    let logs = Logs::default();
    {
        let _capture = logs.capture();
        backend(&prefix).await;
    }
    let all_but_one = warned(&logs);
    set_save(&primaries, "3600 1");
    let logs = Logs::default();
    {
        let _capture = logs.capture();
        backend(&prefix).await;
    }
    let all = warned(&logs);
    set_save(&primaries, "");
    assert!(none, "no primary persists");
    assert!(all_but_one, "one primary persists nothing");
    assert!(!all, "every primary persists");
}

/// A sync connection to the node at `addr`.
fn node(addr: &str) -> redis::Connection {
    redis::Client::open(format!("redis://{addr}/"))
        .unwrap()
        .get_connection()
        .unwrap()
}

#[tokio::test]
async fn a_warm_start_during_a_resharding_fails_closed() {
    let _alone = FEEDS.write().await;
    let prefix = Prefix::new();
    let backend = backend(&prefix).await;
    let primaries: Vec<String> = primaries().into_iter().collect();
    let ids: Vec<String> = primaries
        .iter()
        .map(|addr| {
            redis::cmd("CLUSTER")
                .arg("MYID")
                .query(&mut node(addr))
                .unwrap()
        })
        .collect();
    // Slot 0 starts moving from its owner to another primary (no key moves).
    let owner = (0..primaries.len())
        .find(|&i| {
            let to = &ids[(i + 1) % ids.len()];
            redis::cmd("CLUSTER")
                .arg("SETSLOT")
                .arg(0)
                .arg("MIGRATING")
                .arg(to)
                .query::<()>(&mut node(&primaries[i]))
                .is_ok()
        })
        .expect("the owner of slot 0");
    let during = backend.load(NOW).await;
    let _: () = redis::cmd("CLUSTER")
        .arg("SETSLOT")
        .arg(0)
        .arg("STABLE")
        .query(&mut node(&primaries[owner]))
        .unwrap();
    assert!(during.is_err(), "a walk while slots move may miss keys");
    assert!(backend.load(NOW).await.is_ok());
}
