//! The DPoP replay cache on every backend, as the store hands it out: the conformance check
//! on the in-process backend, Redis (feature `redis`), PostgreSQL (feature `postgres`) and
//! SQLite (feature `sqlite`); what the backends on a mock clock do with expired proofs;
//! purging; and a read-only follower, which records proofs only where it may write them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use tower_jwt_auth::{
    dpop::{ReplayCache, ReplayKey},
    store::{MemoryBackend, RevocationBackend, RevocationError, RevocationStore, conformance},
};

/// Far from every other test's times, in milliseconds.
const AT: u64 = 4_100_000_000_000;
const TTL: u64 = 60_000;

fn key(what: &str) -> ReplayKey {
    ReplayKey::new(&common::unique_name("jkt"), what)
}

async fn first_use(cache: &dyn ReplayCache, key: &ReplayKey, now: u64) -> bool {
    cache.first_use(key, now, now + TTL).await.unwrap()
}

/// On a backend whose time is the caller's (not Redis): an expired proof no longer counts
/// and its replays never extended it; purge deletes the expired ones.
async fn expired_proofs_make_room(backend: &dyn RevocationBackend) -> Arc<dyn ReplayCache> {
    let cache = backend.replay_cache().expect("the backend keeps proofs");
    let proof = key("expiring");
    assert!(first_use(&*cache, &proof, AT).await);
    assert!(!first_use(&*cache, &proof, AT + TTL - 1).await, "live");
    // Its time (AT + TTL) was not moved by the replay above.
    assert!(
        first_use(&*cache, &proof, AT + TTL).await,
        "expired: taken over"
    );
    assert!(
        !first_use(&*cache, &proof, AT + TTL + 1).await,
        "the new record"
    );
    cache
}

#[tokio::test]
async fn the_in_process_backend_passes_the_replay_check() {
    let shared = MemoryBackend::new();
    conformance::dpop_proofs_are_accepted_once_through_any_handle((
        Arc::new(shared.clone()),
        Arc::new(shared.clone()),
    ))
    .await;
    let backend = MemoryBackend::new();
    expired_proofs_make_room(&backend).await;
    // The proof, recorded again until AT + 2 * TTL: purged then, not before.
    assert_eq!(backend.purge((AT + 2 * TTL) / 1000 - 1).await.unwrap(), 0);
    assert_eq!(backend.purge((AT + 2 * TTL) / 1000).await.unwrap(), 1);
}

#[tokio::test]
async fn stores_over_one_backend_share_one_replay_cache() {
    let shared = Arc::new(MemoryBackend::new());
    let a = RevocationStore::builder()
        .with_backend(shared.clone())
        .build()
        .unwrap();
    let b = RevocationStore::builder()
        .with_backend(shared.clone())
        .build()
        .unwrap();
    let proof = key("shared");
    assert!(first_use(&*a.replay_cache(), &proof, AT).await);
    assert!(!first_use(&*b.replay_cache(), &proof, AT + 1).await);
    // The backend's own handle is the same cache.
    let direct = shared.replay_cache().unwrap();
    assert!(!first_use(&*direct, &proof, AT + 2).await);
}

/// A read-only follower records proofs in the backend like any instance: a proof accepted
/// by the issuer is a replay at the follower and the reverse, while every revocation write
/// stays refused.
#[tokio::test]
async fn a_read_only_follower_records_proofs_in_the_shared_backend() {
    let shared = Arc::new(MemoryBackend::new());
    let issuer = RevocationStore::builder()
        .with_backend(shared.clone())
        .build()
        .unwrap();
    let follower = RevocationStore::builder()
        .with_backend(shared)
        .read_only()
        .build()
        .unwrap();
    let seen_by_issuer = key("issuer");
    assert!(first_use(&*issuer.replay_cache(), &seen_by_issuer, AT).await);
    assert!(!first_use(&*follower.replay_cache(), &seen_by_issuer, AT + 1).await);
    let seen_by_follower = key("follower");
    assert!(first_use(&*follower.replay_cache(), &seen_by_follower, AT).await);
    assert!(!first_use(&*issuer.replay_cache(), &seen_by_follower, AT + 1).await);
    let entry = tower_jwt_auth::store::RevocationEntry::Token {
        jti: "t".into(),
        expires_at: u64::MAX,
    };
    assert!(matches!(
        follower.revoke(entry).await,
        Err(RevocationError::ReadOnly { .. })
    ));
}

#[cfg(feature = "redis")]
mod redis {
    use ::redis::AsyncCommands;
    use tower_jwt_auth::store::RedisBackend;

    use super::*;

    fn url() -> String {
        let addr = std::env::var("REDIS_ADDR").unwrap_or_else(|_| "127.0.0.1:6379".into());
        format!("redis://{addr}/")
    }

    async fn backend(prefix: &str) -> RedisBackend {
        RedisBackend::builder(url().as_str())
            .with_prefix(prefix)
            .build()
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn redis_passes_the_replay_check_and_its_proofs_expire_by_themselves() {
        let prefix = common::unique_name("replay");
        conformance::dpop_proofs_are_accepted_once_through_any_handle((
            Arc::new(backend(&prefix).await),
            Arc::new(backend(&prefix).await),
        ))
        .await;
        let backend = backend(&prefix).await;
        let proof = key("ttl");
        // Redis counts the time itself: the record lasts the proof's remaining time.
        let now = 1_000;
        assert!(backend.first_use(&proof, now, now + TTL).await.unwrap());
        let client = ::redis::Client::open(url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let name = format!("{prefix}:p:{{{proof}}}");
        let ttl: i64 = conn.pttl(&name).await.unwrap();
        assert!(ttl > 0 && ttl <= TTL as i64, "{name}: {ttl} ms");
        delete_prefix(&prefix).await;
    }

    async fn admin() -> ::redis::aio::MultiplexedConnection {
        let client = ::redis::Client::open(url()).unwrap();
        client.get_multiplexed_async_connection().await.unwrap()
    }

    async fn delete_prefix(prefix: &str) {
        let mut conn = admin().await;
        let keys: Vec<String> = conn.keys(format!("{prefix}:*")).await.unwrap();
        if !keys.is_empty() {
            let _: () = conn.del(keys).await.unwrap();
        }
    }

    /// The ACL of the read-only documentation: without the proofs' selector, every proof is
    /// refused; with it, the follower shares the proofs with the issuer.
    #[tokio::test]
    async fn a_read_only_follower_records_proofs_only_with_the_acl_selector() {
        let prefix = common::unique_name("replay");
        let user = common::unique_name("replay_follower");
        let password = common::unique_name("pw");
        let mut admin = admin().await;
        common::read_only_redis_user(&mut admin, &user, &password, &prefix).await;
        let test = async {
            let issuer = RevocationStore::builder()
                .with_backend(Arc::new(backend(&prefix).await))
                .build()
                .unwrap();
            let addr = url().trim_start_matches("redis://").to_owned();
            let restricted = RedisBackend::builder(format!("redis://{user}:{password}@{addr}"))
                .with_prefix(&prefix)
                .build()
                .await
                .unwrap();
            let follower = RevocationStore::builder()
                .with_backend(Arc::new(restricted))
                .read_only()
                .build()
                .unwrap();
            let proof = key("follower");
            let refused = follower.replay_cache().first_use(&proof, 0, TTL).await;
            assert!(refused.is_err(), "no SET on the proofs' keys: refused");
            assert!(first_use(&*issuer.replay_cache(), &proof, 1).await);
            let _: () = ::redis::cmd("ACL")
                .arg("SETUSER")
                .arg(&user)
                .arg(format!("(~{prefix}:p:* +set)"))
                .query_async(&mut admin.clone())
                .await
                .unwrap();
            let granted = key("granted");
            assert!(first_use(&*follower.replay_cache(), &granted, 0).await);
            assert!(!first_use(&*issuer.replay_cache(), &granted, 1).await);
            assert!(!first_use(&*follower.replay_cache(), &proof, 2).await);
        };
        let cleanup = async {
            common::delete_redis_user(&mut admin.clone(), &user).await;
            delete_prefix(&prefix).await;
        };
        common::then_clean_up(test, cleanup).await;
    }
}

#[cfg(feature = "postgres")]
mod postgres {

    use sqlx::{
        AssertSqlSafe, ConnectOptions,
        postgres::{PgConnectOptions, PgPoolOptions},
    };
    use tower_jwt_auth::store::{BackendError, PostgresBackend};

    use super::*;

    async fn backend(prefix: &str, options: PgConnectOptions, migrate: bool) -> PostgresBackend {
        let pool = PgPoolOptions::new().connect_with(options).await.unwrap();
        let builder = PostgresBackend::builder_with_pool(pool).with_prefix(prefix);
        let builder = if migrate {
            builder
        } else {
            builder.without_migration()
        };
        builder.build().await.unwrap()
    }

    async fn admin(statements: &[String]) {
        let mut conn = common::postgres_options().connect().await.unwrap();
        for statement in statements {
            sqlx::query(AssertSqlSafe(statement.clone()))
                .execute(&mut conn)
                .await
                .unwrap();
        }
    }

    async fn proofs(backend: &PostgresBackend, prefix: &str) -> i64 {
        sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT count(*) FROM {prefix}dpop_proofs"
        )))
        .fetch_one(backend.pool())
        .await
        .unwrap()
    }

    /// Runs `test` on tables (and a role) of its own, dropped afterwards, passed or not.
    async fn with_tables<F: Future<Output = ()>>(prefix: &str, role: Option<&str>, test: F) {
        let mut cleanup = vec![format!(
            "DROP TABLE IF EXISTS {prefix}sessions, {prefix}entries, {prefix}dpop_proofs"
        )];
        if let Some(role) = role {
            cleanup.push(format!("DROP ROLE IF EXISTS {role}"));
        }
        common::then_clean_up(test, admin(&cleanup)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_passes_the_replay_check_and_purges_expired_proofs() {
        let prefix = common::unique_name("rp");
        with_tables(
            &prefix,
            None,
            Box::pin(async {
                let a = backend(&prefix, common::postgres_options(), true).await;
                let b = backend(&prefix, common::postgres_options(), true).await;
                conformance::dpop_proofs_are_accepted_once_through_any_handle((
                    Arc::new(a.clone()),
                    Arc::new(b.clone()),
                ))
                .await;
                let before = proofs(&a, &prefix).await;
                assert_eq!(b.purge(u64::MAX / 1000).await.unwrap(), before as u64);
                assert_eq!(proofs(&a, &prefix).await, 0, "everything has expired");
                expired_proofs_make_room(&a).await;
                assert_eq!(proofs(&a, &prefix).await, 1, "one row per proof");
                assert_eq!(b.purge((AT + 2 * TTL) / 1000 - 1).await.unwrap(), 0);
                assert_eq!(proofs(&a, &prefix).await, 1, "a live proof is kept");
                assert_eq!(b.purge((AT + 2 * TTL) / 1000).await.unwrap(), 1);
                assert_eq!(proofs(&a, &prefix).await, 0);
            }),
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_backend_without_migration_needs_the_proofs_table() {
        let prefix = common::unique_name("rp");
        with_tables(
            &prefix,
            None,
            Box::pin(async {
                backend(&prefix, common::postgres_options(), true).await;
                admin(&[format!("DROP TABLE {prefix}dpop_proofs")]).await;
                let pool = PgPoolOptions::new()
                    .connect_with(common::postgres_options())
                    .await
                    .unwrap();
                let refused = PostgresBackend::builder_with_pool(pool)
                    .with_prefix(&prefix)
                    .without_migration()
                    .build()
                    .await;
                assert!(matches!(refused, Err(BackendError::Schema(_))));
            }),
        )
        .await;
    }

    /// A follower whose role may only read refuses every proof (with an error: it cannot
    /// record it) and records nothing; granted the proofs table, it shares it with the
    /// issuer.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_read_only_follower_records_proofs_only_with_the_grant() {
        let prefix = common::unique_name("rp");
        let role = common::unique_name("rp_follower");
        with_tables(
            &prefix,
            Some(&role),
            Box::pin(async {
                let issuer_backend = backend(&prefix, common::postgres_options(), true).await;
                common::create_select_only_role(&role, &prefix).await;
                let follower_backend = backend(
                    &prefix,
                    common::postgres_options().username(&role).password(""),
                    false,
                )
                .await;
                let issuer = RevocationStore::builder()
                    .with_backend(Arc::new(issuer_backend))
                    .build()
                    .unwrap();
                let follower = RevocationStore::builder()
                    .with_backend(Arc::new(follower_backend))
                    .read_only()
                    .build()
                    .unwrap();
                let proof = key("follower");
                let refused = follower
                    .replay_cache()
                    .first_use(&proof, AT, AT + TTL)
                    .await;
                let err = refused.expect_err("no INSERT grant: refused");
                assert!(matches!(
                    err.downcast_ref::<RevocationError>(),
                    Some(RevocationError::Backend(_))
                ));
                assert!(
                    first_use(&*issuer.replay_cache(), &proof, AT + 1).await,
                    "nothing was recorded"
                );
                admin(&[format!(
                    "GRANT INSERT, UPDATE ON {prefix}dpop_proofs TO {role}"
                )])
                .await;
                let granted = key("granted");
                assert!(first_use(&*follower.replay_cache(), &granted, AT).await);
                assert!(!first_use(&*issuer.replay_cache(), &granted, AT + 1).await);
                assert!(!first_use(&*follower.replay_cache(), &proof, AT + 2).await);
            }),
        )
        .await;
    }
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use tower_jwt_auth::store::SqliteBackend;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_passes_the_replay_check_and_purges_expired_proofs() {
        let name = format!("tower-jwt-auth-{}.db", common::unique_name("replay"));
        let path = std::env::temp_dir().join(name);
        let test = async {
            let a = SqliteBackend::builder(&path).build().await.unwrap();
            let b = SqliteBackend::builder(&path).build().await.unwrap();
            conformance::dpop_proofs_are_accepted_once_through_any_handle((
                Arc::new(a.clone()),
                Arc::new(b.clone()),
            ))
            .await;
            let count = || async {
                sqlx::query_scalar::<_, i64>("SELECT count(*) FROM tower_jwt_auth_dpop_proofs")
                    .fetch_one(a.pool())
                    .await
                    .unwrap()
            };
            let before = count().await;
            assert!(before >= 1, "{before} rows");
            assert_eq!(b.purge(u64::MAX / 1000).await.unwrap(), before as u64);
            expired_proofs_make_room(&a).await;
            assert_eq!(count().await, 1);
            assert_eq!(b.purge((AT + 2 * TTL) / 1000 - 1).await.unwrap(), 0);
            assert_eq!(b.purge((AT + 2 * TTL) / 1000).await.unwrap(), 1);
            assert_eq!(count().await, 0);
        };
        let cleanup = async {
            for suffix in ["", "-wal", "-shm"] {
                let mut file = path.clone().into_os_string();
                file.push(suffix);
                let _ = std::fs::remove_file(file);
            }
        };
        common::then_clean_up(test, cleanup).await;
    }
}
