//! Numbers for the PostgreSQL and SQLite revocation backends on this machine: refreshes per
//! second through the store, how long a revocation takes to reach another instance over
//! PostgreSQL, how long a warm start takes to load 100 000 live entries, and what a DPoP
//! proof costs in the replay cache (bytes per row, proofs per second).
//!
//! ```sh
//! cargo run --release --example sql_backends --features postgres,sqlite
//! # the replay cache only:
//! cargo run --release --example sql_backends --features postgres,sqlite -- replay
//! ```
//!
//! PostgreSQL is `TOWER_JWT_AUTH_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); the example works in tables of its own and
//! drops them, and its SQLite file is a temporary one, removed at the end.

use std::{error::Error, path::PathBuf, sync::Arc, time::Duration};

use futures::future::try_join_all;
use sqlx::{AssertSqlSafe, Executor};
use tokio::time::Instant;
use tower_jwt_auth::{
    Issuer, KeySet, Sessions, SigningKey,
    clock::{Clock, SystemClock},
    dpop::ReplayKey,
    store::{
        PostgresBackend, RevocationBackend, RevocationEntry, RevocationStore, Rotation,
        SqliteBackend,
    },
};

type Result<T, E = Box<dyn Error + Send + Sync>> = std::result::Result<T, E>;

/// Entries for the warm start, and how many clients refresh at once.
const ENTRIES: u64 = 100_000;
/// DPoP proofs recorded to measure the replay cache.
const PROOFS: usize = 10_000;
const CLIENTS: usize = 16;
const FOREVER: u64 = 4_000_000_000;

#[tokio::main]
async fn main() -> Result<()> {
    let url = std::env::var("TOWER_JWT_AUTH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let run = format!("bench{}_", std::process::id());
    let file = std::env::temp_dir().join(format!("tower-jwt-auth-{run}.db"));
    let result = measure(&url, &run, &file).await;

    // Leave nothing behind, whatever happened.
    let cleanup = PostgresBackend::builder(&url).build().await?;
    for prefix in [run.clone(), format!("{run}load_")] {
        let drop =
            format!("DROP TABLE IF EXISTS {prefix}sessions, {prefix}entries, {prefix}dpop_proofs");
        cleanup.pool().execute(AssertSqlSafe(drop)).await?;
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut path = file.clone().into_os_string();
        path.push(suffix);
        let _ = std::fs::remove_file(path);
    }
    result
}

async fn measure(url: &str, run: &str, file: &PathBuf) -> Result<()> {
    let pg = || async {
        let backend = PostgresBackend::builder(url)
            .with_prefix(run)
            .build()
            .await?;
        Ok::<_, Box<dyn Error + Send + Sync>>(backend)
    };
    let lite = || async {
        let backend = SqliteBackend::builder(file)
            .with_prefix(run)
            .build()
            .await?;
        Ok::<_, Box<dyn Error + Send + Sync>>(backend)
    };
    println!("DPoP replay cache, {PROOFS} proofs through RevocationStore::replay_cache:");
    let pg_proofs = pg().await?;
    record_proofs("postgres", Arc::new(pg_proofs.clone())).await?;
    let size = format!("SELECT pg_total_relation_size('{run}dpop_proofs')");
    let bytes: i64 = sqlx::query_scalar(AssertSqlSafe(size))
        .fetch_one(pg_proofs.pool())
        .await?;
    per_proof("postgres, table and both indexes", bytes);
    let lite_proofs = lite().await?;
    let file_size = "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()";
    let before: i64 = sqlx::query_scalar(file_size)
        .fetch_one(lite_proofs.pool())
        .await?;
    record_proofs("sqlite", Arc::new(lite_proofs.clone())).await?;
    let after: i64 = sqlx::query_scalar(file_size)
        .fetch_one(lite_proofs.pool())
        .await?;
    per_proof("sqlite, pages added to the file", after - before);
    if std::env::args().any(|arg| arg == "replay") {
        return Ok(());
    }

    println!("refresh (rotation) through RevocationStore, Ed25519 tokens, loopback:");
    refreshes("postgres", Arc::new(pg().await?)).await?;
    refreshes("sqlite", Arc::new(lite().await?)).await?;

    println!("propagation of a revocation between two stores (postgres, LISTEN/NOTIFY):");
    propagation(Arc::new(pg().await?), Arc::new(pg().await?)).await?;

    println!("warm start: RevocationStore::load of {ENTRIES} live entries:");
    let load_prefix = format!("{run}load_");
    let pg_load = PostgresBackend::builder(url)
        .with_prefix(load_prefix.as_str())
        .build()
        .await?;
    fill(
        pg_load.pool(),
        &load_prefix,
        "generate_series(1, $1) AS g(n)",
    )
    .await?;
    warm_start("postgres", Arc::new(pg_load)).await?;
    let lite_load = SqliteBackend::builder(file)
        .with_prefix(load_prefix.as_str())
        .build()
        .await?;
    let series = "(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < $1) \
                  SELECT n FROM s) AS g";
    fill(lite_load.pool(), &load_prefix, series).await?;
    warm_start("sqlite", Arc::new(lite_load)).await?;
    Ok(())
}

/// `PROOFS` new proofs recorded one after another.
async fn record_proofs(name: &str, backend: Arc<dyn RevocationBackend>) -> Result<()> {
    let store = RevocationStore::builder().with_backend(backend).build()?;
    let cache = store.replay_cache();
    let now = SystemClock.now_millis();
    let started = Instant::now();
    for i in 0..PROOFS {
        let key = ReplayKey::new("jkt", &format!("{now}-{i}"));
        assert!(cache.first_use(&key, now, now + 60_000).await?);
    }
    println!("  {name}: {} first uses", rate(PROOFS, started.elapsed()));
    Ok(())
}

fn per_proof(what: &str, bytes: i64) {
    println!(
        "  {what}: {:.0} bytes per proof",
        bytes as f64 / PROOFS as f64
    );
}

fn rate(n: usize, took: Duration) -> String {
    format!("{:>7.0}/s", n as f64 / took.as_secs_f64())
}

/// Refreshes of one chain by one client, then of `CLIENTS` chains at once; and the
/// backend's rotation alone, without tokens.
async fn refreshes(name: &str, backend: Arc<dyn RevocationBackend>) -> Result<()> {
    let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?))
        .with_revocation_backend(backend.clone())
        .build()?;
    issuer.revocation().load().await?;
    let sessions: Sessions = Sessions::new(issuer.clone());

    let chain = |n: usize| {
        let (issuer, sessions) = (issuer.clone(), sessions.clone());
        tokio::spawn(async move {
            let mut pair = Sessions::new(issuer.clone()).start("alice").await?;
            for _ in 0..n {
                pair = sessions.refresh(pair.refresh_token()).await?;
            }
            Ok::<_, Box<dyn Error + Send + Sync>>(())
        })
    };
    let n = 2_000;
    let start = Instant::now();
    chain(n).await??;
    let one = rate(n, start.elapsed());
    let per_client = 500;
    let start = Instant::now();
    for done in try_join_all((0..CLIENTS).map(|_| chain(per_client))).await? {
        done?;
    }
    let many = rate(CLIENTS * per_client, start.elapsed());

    let sid = format!("raw-{name}");
    let now = SystemClock.now_millis();
    backend
        .create_session(&tower_jwt_auth::store::NewSession::new(
            &sid, "alice", now, "r0", FOREVER,
        ))
        .await?;
    let n = 5_000;
    let start = Instant::now();
    for i in 0..n {
        let (presented, next) = (format!("r{i}"), format!("r{}", i + 1));
        let rotation = Rotation::new(&sid, &presented, &next, now, 0, FOREVER);
        backend.rotate(&rotation).await?;
    }
    let raw = rate(n, start.elapsed());
    println!(
        "  {name:<8} one client {one}, {CLIENTS} clients {many}; backend rotate alone (one client) {raw}"
    );
    Ok(())
}

/// 30 revocations on one store, each timed until the other store has it.
async fn propagation(a: Arc<dyn RevocationBackend>, b: Arc<dyn RevocationBackend>) -> Result<()> {
    let first = RevocationStore::builder().with_backend(a).build()?;
    let second = RevocationStore::builder().with_backend(b).build()?;
    let tasks = [
        tokio::spawn(first.clone().run()),
        tokio::spawn(second.clone().run()),
    ];
    let revoke = |sid: String| {
        first.revoke(RevocationEntry::Session {
            sid,
            expires_at: FOREVER,
        })
    };
    // Until the second store follows the feed.
    let mut warm = 0;
    loop {
        let sid = format!("warm-{warm}");
        revoke(sid.clone()).await?;
        let deadline = Instant::now() + Duration::from_millis(200);
        while !second.is_session_revoked(&sid) && Instant::now() < deadline {
            tokio::task::yield_now().await;
        }
        if second.is_session_revoked(&sid) {
            break;
        }
        warm += 1;
        if warm > 50 {
            return Err("the second store never followed the feed".into());
        }
    }
    let (mut total, mut after_commit) = (Vec::new(), Vec::new());
    for i in 0..30 {
        let sid = format!("p-{i}");
        let start = Instant::now();
        revoke(sid.clone()).await?;
        let committed = Instant::now();
        let deadline = start + Duration::from_secs(5);
        while !second.is_session_revoked(&sid) {
            if Instant::now() > deadline {
                return Err("a revocation did not arrive within 5 s".into());
            }
            tokio::task::yield_now().await;
        }
        total.push(start.elapsed());
        after_commit.push(committed.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stats = |mut v: Vec<Duration>| {
        v.sort();
        format!(
            "p50 {:>8.2?}, worst {:>8.2?}",
            v[v.len() / 2],
            v[v.len() - 1]
        )
    };
    println!(
        "  revoke called -> visible on the other store: {}",
        stats(total)
    );
    println!(
        "  revoke returned -> visible on the other store: {}",
        stats(after_commit)
    );
    for task in tasks {
        task.abort();
    }
    Ok(())
}

/// `ENTRIES` live entries, a third of each kind, written by SQL in three statements;
/// `series` is a row source of `n` from 1 to `$1`.
async fn fill<DB>(pool: &sqlx::Pool<DB>, prefix: &str, series: &str) -> Result<()>
where
    DB: sqlx::Database,
    for<'c> &'c sqlx::Pool<DB>: Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    i64: sqlx::Type<DB> + for<'q> sqlx::Encode<'q, DB>,
{
    let third = i64::try_from(ENTRIES / 3)?;
    let statements = [
        (
            format!(
                "INSERT INTO {prefix}entries (kind, id, cutoff_ms, forget_after) \
                 SELECT 'token', 'jti-' || n, 0, {FOREVER} FROM {series}"
            ),
            third,
        ),
        (
            format!(
                "INSERT INTO {prefix}entries (kind, id, cutoff_ms, forget_after) \
                 SELECT 'subject', 'user-' || n, n, {FOREVER} FROM {series}"
            ),
            third,
        ),
        (
            format!(
                "INSERT INTO {prefix}sessions (sid, revoked, forget_after) \
                 SELECT 'sid-' || n, TRUE, {FOREVER} FROM {series}"
            ),
            i64::try_from(ENTRIES)? - 2 * third,
        ),
    ];
    for (statement, rows) in statements {
        sqlx::query(AssertSqlSafe(statement))
            .bind(rows)
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// Three warm starts of a new store, and the backend's `load` alone.
async fn warm_start(name: &str, backend: Arc<dyn RevocationBackend>) -> Result<()> {
    let mut took = Vec::new();
    for _ in 0..3 {
        let store = RevocationStore::builder()
            .with_backend(backend.clone())
            .with_backend_timeout(Duration::from_secs(60))
            .build()?;
        let start = Instant::now();
        let loaded = store.load().await?;
        took.push(start.elapsed());
        if loaded != usize::try_from(ENTRIES)? {
            return Err(format!("loaded {loaded} entries, not {ENTRIES}").into());
        }
    }
    took.sort();
    let start = Instant::now();
    backend.load(SystemClock.now_secs()).await?;
    let query = start.elapsed();
    println!(
        "  {name:<8} store load: median {:>8.2?} (best {:>8.2?}); backend load alone {:>8.2?}",
        took[1], took[0], query
    );
    Ok(())
}
