//! Measures `RedisBackend` against a Redis server: refreshes and rotations per second,
//! how long a revocation takes to reach another instance over the change feed, how long
//! a warm start takes, and what a DPoP proof costs in the replay cache.
//!
//! ```sh
//! cargo run --release --features redis --example redis_measure
//! # the replay cache only:
//! cargo run --release --features redis --example redis_measure -- replay
//! ```
//!
//! `REDIS_URL` (default `redis://127.0.0.1:6379/`) sets the server. Everything is written
//! under a fresh key prefix and deleted at the end. `ENTRIES` (default 100000) sets the
//! number of live entries the warm start loads.

use std::{sync::Arc, time::Duration};

use futures::{StreamExt, future::join_all, stream};
use tokio::time::Instant;
use tower_jwt_auth::{
    Issuer, KeySet, Sessions, SigningKey, TokenPair,
    clock::{Clock, SystemClock},
    dpop::ReplayKey,
    store::{
        BoxError, NewSession, RedisBackend, RevocationBackend, RevocationEntry, RevocationStore,
        Rotation,
    },
};

type Result<T, E = BoxError> = std::result::Result<T, E>;

const REFRESHES: usize = 2_000;
const CONCURRENCY: usize = 64;
const PROPAGATION_SAMPLES: usize = 30;

#[tokio::main]
async fn main() -> Result<()> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    let entries: usize = std::env::var("ENTRIES").map_or(Ok(100_000), |n| n.parse())?;
    let prefix = format!("tower-jwt-auth-measure-{}", SystemClock.now_millis());
    let open = || async {
        RedisBackend::builder(url.as_str())
            .with_prefix(prefix.as_str())
            .build()
            .await
    };
    let (a, b) = (open().await?, open().await?);
    let outcome = match replay(&url, &prefix, &a).await {
        Ok(()) if std::env::args().any(|arg| arg == "replay") => Ok(()),
        Ok(()) => measure(&a, &b, entries).await,
        Err(err) => Err(err),
    };
    let deleted = delete_prefix(&url, &prefix).await?;
    println!("cleaned up {deleted} keys under {prefix}");
    outcome
}

async fn measure(a: &RedisBackend, b: &RedisBackend, entries: usize) -> Result<()> {
    refreshes(a).await?;
    rotations(a).await?;
    propagation(a, b).await?;
    warm_start(a, b, entries).await
}

/// Refreshes through `Sessions`, so through the `RevocationStore`: verify the refresh
/// token, mint the next pair, rotate in Redis.
async fn refreshes(backend: &RedisBackend) -> Result<()> {
    let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?))
        .with_revocation_backend(Arc::new(backend.clone()))
        .build()?;
    issuer.revocation().load().await?;
    let sessions = Sessions::new(issuer.clone());

    let mut pair = Sessions::new(issuer.clone()).start("alice").await?;
    let started = Instant::now();
    for _ in 0..REFRESHES {
        pair = sessions.refresh(pair.refresh_token()).await?;
    }
    report("refreshes, one session after another", REFRESHES, started);

    let mut pairs: Vec<TokenPair> = Vec::new();
    for i in 0..CONCURRENCY {
        pairs.push(
            Sessions::new(issuer.clone())
                .start(&format!("user{i}"))
                .await?,
        );
    }
    let started = Instant::now();
    let rounds = REFRESHES / CONCURRENCY;
    for _ in 0..rounds {
        let next = join_all(pairs.iter().map(|p| sessions.refresh(p.refresh_token()))).await;
        pairs = next.into_iter().collect::<Result<_, _>>()?;
    }
    report(
        &format!("refreshes, {CONCURRENCY} sessions at once"),
        rounds * CONCURRENCY,
        started,
    );
    Ok(())
}

/// The backend's rotation alone: one Lua script per rotation.
async fn rotations(backend: &RedisBackend) -> Result<()> {
    let now_ms = SystemClock.now_millis();
    let forget = now_ms / 1000 + 3600;
    let sids: Vec<String> = (0..CONCURRENCY).map(|i| format!("bench-{i}")).collect();
    for sid in &sids {
        backend
            .create_session(&NewSession::new(sid, "bench", now_ms, "0", forget))
            .await?;
    }
    let started = Instant::now();
    let mut current = 0;
    for next in 1..=REFRESHES {
        let (presented, next_jti) = (current.to_string(), next.to_string());
        let rotation = Rotation::new(&sids[0], &presented, &next_jti, now_ms, 0, forget);
        backend.rotate(&rotation).await?;
        current = next;
    }
    report("rotations, one after another", REFRESHES, started);

    let rounds = REFRESHES / CONCURRENCY;
    let started = Instant::now();
    for round in 0..rounds {
        let (presented, next_jti) = (round.to_string(), (round + 1).to_string());
        let rotations: Vec<_> = sids
            .iter()
            .skip(1)
            .map(|sid| Rotation::new(sid, &presented, &next_jti, now_ms, 0, forget))
            .collect();
        for outcome in join_all(rotations.iter().map(|r| backend.rotate(r))).await {
            outcome?;
        }
    }
    report(
        &format!("rotations, {} sessions at once", CONCURRENCY - 1),
        rounds * (CONCURRENCY - 1),
        started,
    );
    Ok(())
}

/// A logout on one instance, until the other instance's store refuses the session.
async fn propagation(a: &RedisBackend, b: &RedisBackend) -> Result<()> {
    let store = |backend: &RedisBackend| {
        RevocationStore::builder()
            .with_backend(Arc::new(backend.clone()))
            .build()
    };
    let (first, second) = (store(a)?, store(b)?);
    let tasks = [
        tokio::spawn(first.clone().run()),
        tokio::spawn(second.clone().run()),
    ];
    while !(first.is_ready() && second.is_ready()) {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let expires_at = SystemClock.now_secs() + 3600;
    let mut delays = Vec::new();
    for i in 0..PROPAGATION_SAMPLES {
        let sid = format!("propagation-{i}");
        let started = Instant::now();
        first
            .revoke(RevocationEntry::Session {
                sid: sid.clone(),
                expires_at,
            })
            .await?;
        while !second.is_session_revoked(&sid) {
            if started.elapsed() > Duration::from_secs(5) {
                return Err("a revocation did not arrive within 5 s".into());
            }
            tokio::task::yield_now().await;
        }
        delays.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for task in tasks {
        task.abort();
    }
    delays.sort();
    println!(
        "propagation of a revocation to the other store (from the call, {} samples): \
         p50 {:?}, worst {:?}",
        delays.len(),
        delays[delays.len() / 2],
        delays[delays.len() - 1],
    );
    Ok(())
}

/// `entries` live token entries, then a store that loads them.
async fn warm_start(a: &RedisBackend, b: &RedisBackend, entries: usize) -> Result<()> {
    let expires_at = SystemClock.now_secs() + 3600;
    let started = Instant::now();
    let written: Vec<_> = stream::iter(0..entries)
        .map(|i| async move {
            let entry = RevocationEntry::Token {
                jti: format!("warm-{i:06}"),
                expires_at,
            };
            a.revoke(&entry).await
        })
        .buffer_unordered(256)
        .collect()
        .await;
    for result in written {
        result?;
    }
    report("revocations written, 256 at once", entries, started);

    let started = Instant::now();
    let found = b.load(SystemClock.now_secs()).await?.len();
    println!(
        "warm start: RedisBackend::load found {found} live entries in {:?}",
        started.elapsed()
    );

    let store = RevocationStore::builder()
        .with_backend(Arc::new(b.clone()))
        .with_backend_timeout(Duration::from_secs(60))
        .build()?;
    let started = Instant::now();
    let loaded = store.load().await?;
    println!(
        "warm start: {loaded} live entries loaded into a new store in {:?}",
        started.elapsed()
    );
    Ok(())
}

/// DPoP proofs recorded one after another through the store's replay cache, and the
/// memory Redis reports for one of their keys.
async fn replay(url: &str, prefix: &str, backend: &RedisBackend) -> Result<()> {
    const PROOFS: usize = 10_000;
    let store = RevocationStore::builder()
        .with_backend(Arc::new(backend.clone()))
        .build()?;
    let cache = store.replay_cache();
    let now = SystemClock.now_millis();
    let started = Instant::now();
    let mut last = ReplayKey::new("jkt", "");
    for i in 0..PROOFS {
        last = ReplayKey::new("jkt", &format!("{now}-{i}"));
        assert!(cache.first_use(&last, now, now + 60_000).await?);
    }
    report("DPoP proofs recorded (SET NX PX)", PROOFS, started);
    let key = format!("{prefix}:p:{{{last}}}");
    let client = redis::Client::open(url)?;
    let mut con = client.get_multiplexed_async_connection().await?;
    let bytes: u64 = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg(&key)
        .query_async(&mut con)
        .await?;
    println!(
        "MEMORY USAGE of one proof's key ({} characters): {bytes} bytes",
        key.len()
    );
    Ok(())
}

fn report(what: &str, n: usize, started: Instant) {
    let elapsed = started.elapsed();
    println!(
        "{what}: {n} in {elapsed:?}, {:.0}/s",
        n as f64 / elapsed.as_secs_f64()
    );
}

async fn delete_prefix(url: &str, prefix: &str) -> Result<u64> {
    let client = redis::Client::open(url)?;
    let mut con = client.get_multiplexed_async_connection().await?;
    let mut deleted = 0;
    let mut cursor = 0u64;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut con)
            .await?;
        if !keys.is_empty() {
            let n: u64 = redis::cmd("DEL").arg(&keys).query_async(&mut con).await?;
            deleted += n;
        }
        if next == 0 {
            return Ok(deleted);
        }
        cursor = next;
    }
}
