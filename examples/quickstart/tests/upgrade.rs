//! An SQLite file written by a quickstart from before the user ids (feature `sqlite`): its
//! users table has no `user_id` column. After the upgrade the account still logs in, gets a
//! user id at that first login, stored with it, and keeps it at every later login.
//!
//! ```sh
//! cargo test -p quickstart --features sqlite --test upgrade
//! ```

#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use argon2::{
    Argon2, PasswordHasher,
    password_hash::{SaltString, rand_core::OsRng},
};
use quickstart::{Config, StoreUrl, app_with, open_stores, serve};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Executor, SqlitePool};
use support::jws_part;
use tokio::{net::TcpListener, sync::oneshot};

const PASSWORD: &str = "correct horse battery";

/// Logs `username` in with `password`: the status and the response body.
async fn login(base: &str, username: &str, password: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}/auth/login"))
        .json(&json!({ "username": username, "password": password }))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_stored_before_the_user_ids_logs_in_and_keeps_the_id_it_gets() {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    // STORE_PREFIX: at most 30 characters.
    let prefix = format!("up{}_{}", std::process::id(), nanos % 1_000_000_000);
    let path = std::env::temp_dir().join(format!("{prefix}.db"));
    let path = path.to_str().unwrap().to_owned();

    // The file as the earlier quickstart left it: its table, one account with an argon2 hash.
    let old = SqlitePool::connect(&format!("sqlite://{path}?mode=rwc"))
        .await
        .unwrap();
    let table = format!("{prefix}_users");
    old.execute(AssertSqlSafe(format!(
        "CREATE TABLE {table} (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL)"
    )))
    .await
    .unwrap();
    let hash = Argon2::default()
        .hash_password(PASSWORD.as_bytes(), &SaltString::generate(&mut OsRng))
        .unwrap()
        .to_string();
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO {table} (username, password_hash) VALUES ('alice', $1)"
    )))
    .bind(&hash)
    .execute(&old)
    .await
    .unwrap();
    old.close().await;

    // The current quickstart over that file.
    let config = Config {
        store: Some(StoreUrl::Sqlite(path.clone())),
        store_prefix: prefix.clone(),
        // A machine busy with other builds can be slow to hash.
        hash_queue: Duration::from_secs(10),
        ..Config::default()
    };
    let app = app_with(&config, open_stores(&config).await.unwrap()).unwrap();
    let revocation = app.issuer.revocation().clone();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, app, async {
        let _ = stopped.await;
    }));
    for _ in 0..6000 {
        if revocation.is_ready() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(revocation.is_ready(), "the store never loaded");

    let (status, _) = login(&base, "alice", "not her password").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, first) = login(&base, "alice", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let claims = jws_part(first["access_token"].as_str().unwrap(), 1);
    let user_id = claims["sub"].as_str().unwrap().to_owned();
    assert_eq!(claims["preferred_username"], "alice");
    assert_eq!(
        user_id.len(),
        22,
        "a fresh user id, not the name: {user_id}"
    );
    let (status, second) = login(&base, "alice", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        jws_part(second["access_token"].as_str().unwrap(), 1)["sub"],
        user_id.as_str()
    );

    let _ = stop.send(());
    server.await.unwrap().unwrap();
    // The id is stored with the account, in the column the upgrade added.
    let upgraded = SqlitePool::connect(&format!("sqlite://{path}"))
        .await
        .unwrap();
    let stored: (String,) = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT user_id FROM {table} WHERE username = 'alice'"
    )))
    .fetch_one(&upgraded)
    .await
    .unwrap();
    assert_eq!(stored.0, user_id);
    upgraded.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{path}{suffix}"));
    }
}
