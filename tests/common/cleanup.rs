//! Tests that make something outside the process (a Redis ACL user, tables, a role, a file)
//! and must remove it whether they pass or fail.

use std::{future::Future, panic::AssertUnwindSafe};

use futures::FutureExt;

/// Runs `test`, then `cleanup` whether `test` passed or panicked, then passes its panic on.
/// Both are boxed: a backend test's future is large.
pub async fn then_clean_up(test: impl Future<Output = ()>, cleanup: impl Future<Output = ()>) {
    let outcome = AssertUnwindSafe(Box::pin(test)).catch_unwind().await;
    Box::pin(cleanup).await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Makes `user` (with `password`) the Redis ACL user of a read-only follower, as the store's
/// documentation grants it: the read commands on the keys under `prefix`, and the feed's
/// channel to subscribe and publish heartbeats on.
#[cfg(feature = "redis")]
pub async fn read_only_redis_user(
    admin: &mut redis::aio::MultiplexedConnection,
    user: &str,
    password: &str,
    prefix: &str,
) {
    let _: () = redis::cmd("ACL")
        .arg("SETUSER")
        .arg(user)
        .arg("on")
        .arg(format!(">{password}"))
        .arg("resetkeys")
        .arg(format!("~{prefix}:*"))
        .arg("resetchannels")
        .arg(format!("&{prefix}:feed"))
        .arg(&["-@all", "+@read", "+@connection", "+subscribe", "+publish"][..])
        .query_async(admin)
        .await
        .unwrap();
}

/// Deletes the Redis ACL user `user`, if it exists.
#[cfg(feature = "redis")]
pub async fn delete_redis_user(admin: &mut redis::aio::MultiplexedConnection, user: &str) {
    let _: Result<u64, _> = redis::cmd("ACL")
        .arg("DELUSER")
        .arg(user)
        .query_async(admin)
        .await;
}
