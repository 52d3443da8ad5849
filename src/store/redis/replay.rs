//! The DPoP replay cache in Redis: one `SET key 1 NX PX ttl` per accepted proof, on the
//! backend's own connection, so that every instance refuses a proof another one accepted.

use std::fmt::Write as _;

use super::{RedisBackend, backend::failed, keys::Kind};
use crate::{
    dpop::{ReplayCache, ReplayKey},
    store::{BoxError, BoxFuture},
};

/// The replay check did not answer within the backend's time limit.
#[derive(Debug, thiserror::Error)]
#[error("the DPoP replay check timed out")]
struct TimedOut;

/// Every instance that shares the Redis (and the prefix) shares the replay cache: a proof is
/// accepted once across all of them. Each proof is one key, `{prefix}:p:{hash}`, that
/// expires by itself when its proof could no longer be accepted. The check is bounded by the
/// backend's time limit ([`with_timeout`](super::RedisBackendBuilder::with_timeout)) and not
/// tried again when its answer is lost: a refusal then, never a replay accepted.
///
/// ```no_run
/// use std::sync::Arc;
/// use tower_jwt_auth::{dpop::ProofVerifier, store::RedisBackend};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let backend = RedisBackend::builder("redis://127.0.0.1/").build().await?;
/// let verifier = ProofVerifier::builder("https://api.example.com")
///     .with_replay_cache(Arc::new(backend.clone()))
///     .build()?;
/// # let _ = verifier;
/// # Ok(())
/// # }
/// ```
impl ReplayCache for RedisBackend {
    fn first_use<'a>(
        &'a self,
        key: &'a ReplayKey,
        now_millis: u64,
        expires_at_millis: u64,
    ) -> BoxFuture<'a, Result<bool, BoxError>> {
        Box::pin(async move {
            let mut id = String::with_capacity(64);
            let _ = write!(id, "{key}");
            let redis_key = self.inner.keys.key(Kind::DpopProof, &id);
            let ttl = expires_at_millis.saturating_sub(now_millis).max(1);
            let mut connection = self.connection();
            let mut command = redis::cmd("SET");
            command.arg(redis_key).arg(1).arg("NX").arg("PX").arg(ttl);
            let set = command.query_async::<Option<String>>(&mut connection);
            let answer = tokio::time::timeout(self.inner.timeout, set)
                .await
                .map_err(|_| Box::new(TimedOut) as BoxError)?
                .map_err(|err| Box::new(failed("dpop_first_use")(err)) as BoxError)?;
            Ok(answer.is_some())
        })
    }
}
