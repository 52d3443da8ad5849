//! A read-only follower (`RevocationStoreBuilder::read_only`) of an issuer's shared store,
//! over credentials that can only read: a Redis ACL user with the read commands on the
//! prefix and the feed's channel, and a PostgreSQL role with `SELECT` on its tables. A
//! logout at the issuer is refused by the follower's verifier within a second; every write
//! through the follower fails and leaves the backend as it was.
//!
//! Redis is 127.0.0.1:6379 (or `REDIS_ADDR`); PostgreSQL is `TOWER_JWT_AUTH_POSTGRES_URL`, by
//! default `postgres://postgres@127.0.0.1:5432/test`. Each test makes its own prefix, user or
//! role, and removes them at the end, passed or not.

#![cfg(any(feature = "redis", feature = "postgres"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use tower_jwt_auth::{
    Claims, Issuer, KeySet, Sessions, SigningKey, Verifier,
    session::StartError,
    store::{RevocationBackend, RevocationEntry, RevocationError, RevocationStore},
    token::TokenError,
};

const ISS: &str = "https://auth.example";

/// `store`, following its backend in the background, once loaded.
async fn running(store: RevocationStore) -> RevocationStore {
    tokio::spawn(store.clone().run());
    let started = Instant::now();
    while !store.is_ready() {
        assert!(started.elapsed() < Duration::from_secs(20), "never loaded");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    store
}

/// The issuer writes through `full`; the follower reads through `restricted`, credentials
/// that can do nothing else.
async fn a_read_only_follower_enforces_the_issuers_logouts_and_writes_nothing(
    full: Arc<dyn RevocationBackend>,
    restricted: Arc<dyn RevocationBackend>,
    backend: &str,
) {
    let issuer_store = RevocationStore::builder()
        .with_backend(full.clone())
        .build()
        .unwrap();
    let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519().unwrap()))
        .with_issuer(ISS)
        .with_audience("api")
        .with_revocation_store(running(issuer_store).await)
        .build()
        .unwrap();
    let sessions = Sessions::new(issuer.clone());
    let follower = RevocationStore::builder()
        .with_backend(restricted.clone())
        .read_only()
        .build()
        .unwrap();
    let follower = running(follower).await;
    let verifier = Verifier::builder(issuer.keys().clone())
        .with_issuer(ISS)
        .with_audience("api")
        .with_revocation(follower.clone())
        .build()
        .unwrap();

    // A logout at the issuer reaches the follower through the change feed.
    let pair = sessions.start("alice").await.unwrap();
    let claims: Claims = verifier.verify_access(pair.access_token()).unwrap();
    sessions.logout(&claims.sid).await.unwrap();
    let logged_out = Instant::now();
    loop {
        match verifier.verify_access::<serde_json::Value>(pair.access_token()) {
            Err(TokenError::Revoked) => break,
            Ok(_) => {}
            Err(other) => panic!("{other:?}"),
        }
        assert!(
            logged_out.elapsed() < Duration::from_secs(1),
            "the follower still accepts a logged-out token"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let delay = logged_out.elapsed();
    println!("{backend}: a logout at the issuer refused by the read-only follower after {delay:?}");

    // Writes through the follower fail before they reach the backend.
    let before = full.load(0).await.unwrap().len();
    let entry = RevocationEntry::Subject {
        sub: "alice".into(),
        cutoff_ms: u64::MAX / 2,
        expires_at: u64::MAX / 2,
    };
    let refused = follower.revoke(entry.clone()).await.unwrap_err();
    assert!(
        matches!(
            refused,
            RevocationError::ReadOnly {
                operation: "revoke"
            }
        ),
        "{refused:?}"
    );
    assert!(refused.to_string().contains("read-only"), "{refused}");
    let through_follower = Issuer::builder(issuer.keys().clone())
        .with_issuer(ISS)
        .with_audience("api")
        .with_revocation_store(follower.clone())
        .build()
        .unwrap();
    let started = Sessions::new(through_follower).start("bob").await;
    assert!(
        matches!(
            started,
            Err(StartError::Store(RevocationError::ReadOnly { .. }))
        ),
        "{started:?}"
    );
    // The grants alone refuse a write too.
    assert!(restricted.revoke(&entry).await.is_err());
    let after = full.load(0).await.unwrap();
    assert_eq!(after.len(), before, "the backend is unchanged");
    assert!(
        !after
            .iter()
            .any(|e| matches!(e, RevocationEntry::Subject { .. }))
    );
    // And the follower keeps following: a revocation made at the issuer still arrives.
    let second = sessions.start("carol").await.unwrap();
    let claims: Claims = verifier.verify_access(second.access_token()).unwrap();
    sessions.logout(&claims.sid).await.unwrap();
    let logged_out = Instant::now();
    while verifier
        .verify_access::<serde_json::Value>(second.access_token())
        .is_ok()
    {
        assert!(logged_out.elapsed() < Duration::from_secs(1));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[cfg(feature = "redis")]
mod redis_follower {
    use super::*;
    use tower_jwt_auth::store::RedisBackend;

    fn addr() -> String {
        std::env::var("REDIS_ADDR").unwrap_or_else(|_| "127.0.0.1:6379".into())
    }

    async fn admin() -> redis::aio::MultiplexedConnection {
        redis::Client::open(format!("redis://{}/", addr()))
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap_or_else(|err| panic!("Redis ({err}): is it running?"))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn over_redis_with_an_acl_user_that_can_only_read_and_subscribe() {
        let prefix = common::unique_name("ro-follower").replace('_', "-");
        let user = common::unique_name("ro-follower");
        let password = common::unique_name("pw");
        let mut con = admin().await;
        // The grants of the documentation.
        common::read_only_redis_user(&mut con, &user, &password, &prefix).await;
        let test = async {
            let full = RedisBackend::builder(format!("redis://{}/", addr()))
                .with_prefix(&prefix)
                .build()
                .await
                .unwrap();
            let restricted =
                RedisBackend::builder(format!("redis://{user}:{password}@{}/", addr()))
                    .with_prefix(&prefix)
                    .build()
                    .await
                    .unwrap();
            a_read_only_follower_enforces_the_issuers_logouts_and_writes_nothing(
                Arc::new(full),
                Arc::new(restricted),
                "redis",
            )
            .await;
        };
        let cleanup = async {
            common::delete_redis_user(&mut con, &user).await;
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{prefix}:*"))
                .query_async(&mut con)
                .await
                .unwrap_or_default();
            if !keys.is_empty() {
                let _: Result<u64, _> = redis::cmd("DEL").arg(keys).query_async(&mut con).await;
            }
        };
        common::then_clean_up(test, cleanup).await;
    }
}

#[cfg(feature = "postgres")]
mod postgres_follower {

    use sqlx::{AssertSqlSafe, ConnectOptions, postgres::PgPoolOptions};
    use tower_jwt_auth::store::PostgresBackend;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn over_postgresql_with_a_role_that_can_only_select() {
        let prefix = format!("{}_", common::unique_name("ro"));
        let role = common::unique_name("ro_follower");
        let mut admin = common::postgres_options().connect().await.unwrap();
        // The issuer's backend makes the tables.
        let full = PostgresBackend::builder_with_pool(
            PgPoolOptions::new()
                .connect_with(common::postgres_options())
                .await
                .unwrap(),
        )
        .with_prefix(&prefix)
        .build()
        .await
        .unwrap();
        common::create_select_only_role(&role, &prefix).await;
        let test = async {
            let follower_pool = PgPoolOptions::new()
                .connect_with(common::postgres_options().username(&role).password(""))
                .await
                .unwrap();
            // Creating the tables is refused to this role: the backend leaves the schema alone.
            let refused = PostgresBackend::builder_with_pool(follower_pool.clone())
                .with_prefix(&prefix)
                .build()
                .await;
            assert!(refused.is_err(), "the role may not create tables");
            let restricted = PostgresBackend::builder_with_pool(follower_pool)
                .with_prefix(&prefix)
                .without_migration()
                .build()
                .await
                .unwrap();
            a_read_only_follower_enforces_the_issuers_logouts_and_writes_nothing(
                Arc::new(full),
                Arc::new(restricted),
                "postgres",
            )
            .await;
        };
        let cleanup = async {
            for statement in [
                format!(
                    "DROP TABLE IF EXISTS {prefix}sessions, {prefix}entries, {prefix}dpop_proofs"
                ),
                format!("DROP ROLE IF EXISTS {role}"),
            ] {
                let _ = sqlx::query(AssertSqlSafe(statement))
                    .execute(&mut admin)
                    .await;
            }
        };
        common::then_clean_up(test, cleanup).await;
    }
}
