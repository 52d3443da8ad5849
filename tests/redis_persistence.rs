//! An operator is told when the Redis server keeps nothing across a restart: every session
//! and revocation would be forgotten, and tokens logged out before it accepted again.

#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Logs;
use tower_jwt_auth::store::RedisBackend;

const URL: &str = "redis://127.0.0.1:6379/";

async fn config_set(name: &str, value: &str) {
    let client = redis::Client::open(URL).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg(name)
        .arg(value)
        .query_async(&mut connection)
        .await
        .unwrap();
}

/// Builds a backend and answers whether it warned that Redis persists nothing.
async fn warned() -> bool {
    let logs = Logs::default();
    let _capture = logs.capture();
    let _backend = RedisBackend::builder(URL).build().await.unwrap();
    let text = logs.text();
    match text.lines().find(|line| line.contains("persists nothing")) {
        Some(line) => {
            assert!(
                line.contains("WARN") && line.contains("backend=\"redis\""),
                "{line}"
            );
            true
        }
        None => false,
    }
}

#[tokio::test]
async fn a_redis_that_persists_nothing_is_reported_at_build() {
    // The test server runs without an append-only file and without snapshots.
    config_set("save", "").await;
    assert!(warned().await);
    // With snapshots, nothing to report (put back as it was afterwards).
    config_set("save", "3600 1").await;
    let with_snapshots = warned().await;
    config_set("save", "").await;
    assert!(!with_snapshots);
}
