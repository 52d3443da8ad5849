//! `SqliteBackend` against the backend contract: the conformance suite and two instances
//! with two pools on one temporary database file, removed at the end.

#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::the_session_cap_ends_the_oldest;
#[path = "common/differential.rs"]
mod differential;
#[path = "common/stores.rs"]
mod stores;

use std::{path::PathBuf, sync::Arc};

use stores::*;
use tower_jwt_auth::store::{
    BackendError, RevocationBackend, RevocationEntry, RevocationStore, SqliteBackend, conformance,
};

/// A database file of its own, removed (with its WAL files) when the test ends, passed or
/// not.
struct TempDb {
    path: PathBuf,
}

impl TempDb {
    fn new() -> Self {
        let name = format!("tower-jwt-auth-{}.db", unique_name("sqlite"));
        Self {
            path: std::env::temp_dir().join(name),
        }
    }

    /// A backend on a pool of its own (its tables created if needed).
    async fn open(&self) -> SqliteBackend {
        SqliteBackend::builder(&self.path).build().await.unwrap()
    }

    async fn handle(&self) -> Arc<dyn RevocationBackend> {
        Arc::new(self.open().await)
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut file = self.path.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
}

async fn migrated() -> TempDb {
    let db = TempDb::new();
    db.open().await;
    db
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_cap_ends_the_oldest_on_sqlite() {
    let db = migrated().await;
    the_session_cap_ends_the_oldest(db.handle().await, db.handle().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_backend_passes_the_conformance_suite() {
    let db = &migrated().await;
    conformance::run(|| async move { (db.handle().await, db.handle().await) }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_out_everywhere_on_one_instance_refuses_the_old_refresh_tokens_on_the_other() {
    let db = migrated().await;
    log_out_everywhere_reaches_the_other_instance(db.handle().await, db.handle().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_of_64_concurrent_refreshes_on_two_stores_wins() {
    let db = migrated().await;
    one_of_64_concurrent_refreshes_wins(db.handle().await, db.handle().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn building_again_keeps_the_state_and_a_restart_loads_it() {
    let db = migrated().await;
    let backend = db.open().await;
    let entry = RevocationEntry::Session {
        sid: "s1".into(),
        expires_at: u64::MAX,
    };
    backend.revoke(&entry).await.unwrap();
    // Another backend on the same file sets the tables up again, and keeps what is there.
    db.open().await.pool().close().await;
    backend.pool().close().await;

    // A new process: a new pool on the same file.
    let restarted = db.open().await;
    let store = RevocationStore::builder()
        .with_backend(Arc::new(restarted))
        .build()
        .unwrap();
    assert_eq!(store.load().await.unwrap(), 1);
    assert!(store.is_session_revoked("s1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_prefixes_keep_applications_apart_in_one_file() {
    let db = TempDb::new();
    let open = |prefix: &'static str| SqliteBackend::builder(&db.path).with_prefix(prefix).build();
    let billing = open("billing_").await.unwrap();
    let shop = open("shop_").await.unwrap();
    let mut shop_feed = shop.subscribe().await.unwrap();
    let entry = RevocationEntry::Token {
        jti: "j1".into(),
        expires_at: u64::MAX,
    };
    billing.revoke(&entry).await.unwrap();
    assert_eq!(billing.load(0).await.unwrap().len(), 1);
    assert!(shop.load(0).await.unwrap().is_empty());
    // Nothing of the other application's tables reaches this feed.
    use futures::FutureExt;
    assert!(
        futures::StreamExt::next(&mut shop_feed)
            .now_or_never()
            .is_none()
    );
    assert!(format!("{billing:?}").starts_with("SqliteBackend {"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_prefix_or_an_unopenable_file_is_a_clear_error() {
    let db = TempDb::new();
    let refused = SqliteBackend::builder(&db.path)
        .with_prefix("Billing")
        .build()
        .await;
    assert!(
        matches!(refused, Err(BackendError::Config(_))),
        "{refused:?}"
    );
    assert!(!db.path.exists(), "nothing is opened for a refused setting");
    let missing_dir = db.path.join("no-such-directory").join("x.db");
    let err = SqliteBackend::builder(&missing_dir)
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, BackendError::Connect(_)), "{err:?}");
    assert!(std::error::Error::source(&err).is_some());
}

proptest::proptest! {
    #![proptest_config(differential::config(64))]

    /// Random sequences of every operation answer the same on SQLite as on the reference
    /// backend (each on a fresh state): rotation, grace, reuse, revocations, purges and loads.
    #[test]
    fn sqlite_answers_as_the_memory_backend_does(steps in differential::steps()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let db = migrated().await;
            let sqlite = db.open().await;
            let counts = differential::Counts::RevokedSessionsOnce;
            differential::same_answers(&steps, &sqlite, "SQLite", counts).await
        })?;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sessions_table_from_before_the_listing_is_upgraded() {
    let db = migrated().await;
    let old = db.open().await;
    let pool = old.pool().clone();
    let downgrade = async move {
        for statement in [
            "DROP INDEX tower_jwt_auth_sessions_sub",
            "ALTER TABLE tower_jwt_auth_sessions DROP COLUMN last_refreshed_ms",
            "ALTER TABLE tower_jwt_auth_sessions DROP COLUMN label",
        ] {
            sqlx::query(statement).execute(&pool).await.unwrap();
        }
    };
    an_old_sessions_table_is_upgraded(Arc::new(old), downgrade, db.handle()).await;
}
