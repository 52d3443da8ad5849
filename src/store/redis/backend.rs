//! [`RedisBackend`]: its state, and the operations of the backend contract.

use std::{
    fmt,
    future::Future,
    sync::{Arc, atomic::AtomicUsize},
    time::Duration,
};

use ::redis::{Client, ConnectionInfo, IntoConnectionInfo, RedisError};
use futures::{StreamExt, stream};

use super::{
    RedisBackendBuilder,
    connection::Connection,
    keys::{Keys, Kind},
    scripts::{Scripts, reuse_message_head},
};
use crate::store::{
    BoxError, BoxFuture, ChangeStream, Heartbeat, LiveSession, NewSession, RevocationBackend,
    RevocationEntry, RotateOutcome, Rotation, backend::heartbeat_message, error::OperationError,
    record::refresh_token_hex,
};

/// The backend's name in its errors.
pub(super) const NAME: &str = "Redis";

/// A Redis error of `operation`.
pub(super) fn failed(operation: &'static str) -> impl FnOnce(RedisError) -> OperationError {
    OperationError::failed(NAME, operation)
}

/// Redis held or answered something this backend did not write.
pub(super) fn unexpected(operation: &'static str, what: &'static str) -> OperationError {
    OperationError::Unexpected {
        backend: NAME,
        operation,
        what: what.into(),
    }
}

/// `true` when the connection was lost: the operation may be tried again on a new one.
fn is_connection_lost(err: &OperationError) -> bool {
    err.cause::<RedisError>().is_some_and(|source| {
        source.is_io_error() || source.is_connection_dropped() || source.is_unrecoverable_error()
    })
}

/// Where the backend's Redis is.
pub(super) enum Target {
    /// One Redis.
    Single(Client),
    /// A Redis Cluster: its seed nodes, and the seed the next change feed tries first.
    Cluster {
        seeds: Vec<ConnectionInfo>,
        next_feed: AtomicUsize,
    },
}

pub(super) struct Inner {
    pub(super) target: Target,
    pub(super) connection: Connection,
    pub(super) keys: Keys,
    pub(super) scripts: Scripts,
    pub(super) heartbeat: Duration,
    /// The builder's time limit, which also bounds each DPoP replay check.
    pub(super) timeout: Duration,
    /// Whether the server keeps its data across a restart, as it said when the backend was
    /// built.
    pub(super) persists: Option<bool>,
}

/// A [`RevocationBackend`] in Redis: every instance of an application that points at the
/// same Redis (and prefix) shares session records and revocations, and learns the others'
/// revocations from a pub/sub change feed.
///
/// It behaves as [`MemoryBackend`](crate::store::MemoryBackend) does, and passes the same
/// `conformance` suite. A rotation is one Lua script on the session's keys, so among
/// concurrent refreshes of one token on any number of instances exactly one wins. A warm
/// start ([`load`](RevocationBackend::load)) walks the prefix with `SCAN` and never blocks
/// Redis. Clones share one connection. `Debug` shows the address, the database and the
/// prefix, never credentials.
///
/// # Example
///
/// ```no_run
/// use std::sync::Arc;
/// use tower_jwt_auth::{Issuer, KeySet, Sessions, SigningKey, store::RedisBackend};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let backend = RedisBackend::builder("redis://127.0.0.1:6379/")
///     .with_prefix("myapp")
///     .build()
///     .await?;
/// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?))
///     .with_revocation_backend(Arc::new(backend))
///     .build()?;
/// // Loads the shared state, follows the other instances' revocations, purges.
/// tokio::spawn(issuer.revocation().clone().run());
/// let sessions = Sessions::new(issuer.clone());
/// # let _ = sessions;
/// # Ok(())
/// # }
/// ```
///
/// # Keys
///
/// Every key starts with the backend's prefix (`tower-jwt-auth` unless
/// [`with_prefix`](RedisBackendBuilder::with_prefix) says otherwise), so that several
/// applications can share one Redis. Each key is a hash with a field `fa`, its forget-after
/// time, and Redis expires the key itself at the end of that second:
///
/// | key | what | fields |
/// | --- | --- | --- |
/// | `{prefix}:s:{sid}` | the session record | `cur`, `prev`: the current and previous refresh tokens (the first 64 bits of the SHA-256 of their `jti`, as a little-endian integer in 16 hex digits); `sup`: when `prev` was superseded (ms); `fa` |
/// | `{prefix}:r:{sid}` | the session is revoked | `fa` |
/// | `{prefix}:t:{jti}` | a revoked token | `fa` |
/// | `{prefix}:u:{sub}` | a subject's "log out everywhere" cut-off | `c`: the cut-off (ms); `fa` |
/// | `{prefix}:a:{sid}` | a session's access watermark | `c`: the highest revoked number; `fa` |
///
/// A session record also keeps, for listing a subject's sessions, `sub` (its subject), `st`
/// (its start, ms), `lb` (its label, empty for none) and `lr` (its last refresh, ms). The
/// index of sessions by subject is a sorted set, `{prefix}:i:{sub}`: its members are the
/// `sid`s of the subject's sessions, scored by start; Redis expires it after the last
/// forget-after time any of them can reach, and a listing drops the members whose record is
/// gone. Its hash tag is the subject's, so in a Redis Cluster it lives in another slot than
/// the sessions' keys: a start writes the record, then (a second script) the index; a
/// listing reads the index, then each session's keys with single-key commands.
///
/// The braces around the id are literal: `{sid}` is a hash tag, so the keys of a session
/// live in one slot of a Redis Cluster. Every write is one Lua script (run by `EVALSHA`) that
/// names all its keys, and publishes the change on the channel `{prefix}:feed` in the same
/// step.
///
/// # Redis Cluster
///
/// [`cluster_builder`](Self::cluster_builder) builds the same backend on a Redis Cluster,
/// with the same keys. Every script touches the keys of one slot; a start writes the
/// session's record, then its subject's index (two slots, two steps: a start that fails
/// between them fails as a whole). A warm start and a purge walk every primary with `SCAN`;
/// while a resharding is under way, or when the slots moved during the walk, they fail (a
/// moved key could have been missed) and the store tries again. The persistence check asks
/// every primary. The change feed subscribes on one node, since the cluster forwards every
/// `PUBLISH` to every node; each heartbeat is published by every primary and counts once all
/// their copies arrived, so a node that stopped receiving one primary's messages never
/// proves the feed current. When the feed's node fails, the feed ends with a gap (the store
/// reloads) and subscribes again on another node.
///
/// # Time
///
/// Redis forgets an entry by its own clock, at the end of its forget-after second: keep the
/// clocks of the application's hosts and of Redis in sync. Since Redis expires everything
/// itself, [`purge`](RevocationBackend::purge) is one `TIME` round trip; only when the
/// caller's clock is ahead of the server's does it walk the keys and delete what is no longer
/// live.
///
/// Revocations live as long as Redis keeps its data: without persistence (AOF or RDB), a
/// Redis restart forgets them; the running instances keep what they had loaded, new ones
/// start without it.
///
/// # Failures
///
/// An operation that Redis answers with an error, or whose connection fails, returns that
/// error (as the source of the backend's own). The
/// [`RevocationStore`](crate::store::RevocationStore) bounds every call with its time limit
/// ([`with_backend_timeout`](crate::store::RevocationStoreBuilder::with_backend_timeout)),
/// reports each failure once and fails the write closed (HTTP 503) while verification keeps
/// serving from its local map; its [`run`](crate::store::RevocationStore::run) task reloads
/// and follows the feed again once Redis is back. The connection reconnects by itself.
/// Operations that can safely run twice (all but [`rotate`](RevocationBackend::rotate)) are
/// tried again once on a new connection when the old one turns out to be gone; a rotation
/// whose answer is lost fails, and the client's retry is then judged by the grace window.
///
/// The change feed ends (a gap, after which the store reloads) when its connection closes,
/// stops answering its heartbeat, or is dropped by Redis for falling behind.
#[derive(Clone)]
pub struct RedisBackend {
    pub(super) inner: Arc<Inner>,
}

impl fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = f.debug_struct("RedisBackend");
        match &self.inner.target {
            Target::Single(client) => {
                let info = client.get_connection_info();
                shown
                    .field("addr", &info.addr().to_string())
                    .field("db", &info.redis_settings().db());
            }
            Target::Cluster { seeds, .. } => {
                let addrs: Vec<String> = seeds.iter().map(|seed| seed.addr().to_string()).collect();
                shown.field("cluster", &addrs);
            }
        }
        shown
            .field("prefix", &self.inner.keys.prefix)
            .field("heartbeat", &self.inner.heartbeat)
            .finish()
    }
}

impl RedisBackend {
    /// A builder for a backend at `url` (`redis://[user:password@]host[:port][/db]`, or
    /// anything else the `redis` crate takes as connection info). A URL that does not parse
    /// is reported by [`build`](RedisBackendBuilder::build).
    ///
    /// This crate builds the `redis` crate without a TLS stack; for `rediss://`, turn on one
    /// of its TLS features in the application's own manifest.
    ///
    /// ```
    /// use tower_jwt_auth::store::RedisBackend;
    ///
    /// let builder = RedisBackend::builder("redis://:secret@127.0.0.1:6379/2").with_prefix("myapp");
    /// let shown = format!("{builder:?}");
    /// assert!(shown.contains("127.0.0.1:6379") && !shown.contains("secret"));
    /// ```
    pub fn builder(url: impl IntoConnectionInfo) -> RedisBackendBuilder {
        RedisBackendBuilder::new(Client::open(url))
    }

    /// A builder for a backend on a `redis::Client` configured by the application.
    ///
    /// ```
    /// use tower_jwt_auth::store::RedisBackend;
    ///
    /// let client = redis::Client::open("redis://127.0.0.1/")?;
    /// let builder = RedisBackend::builder_with_client(client);
    /// # let _ = builder;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder_with_client(client: Client) -> RedisBackendBuilder {
        RedisBackendBuilder::new(Ok(client))
    }

    /// A builder for a backend on a Redis Cluster, reached through any of its `nodes` (one
    /// URL each, as for [`builder`](Self::builder); one node is enough, a few survive its
    /// loss). The cluster's other nodes are found from them. A URL that does not parse, or no
    /// URL at all, is reported by [`build`](RedisBackendBuilder::build).
    ///
    /// Every setting of the builder applies; the backend behaves as on one Redis. Each write
    /// is one script on the keys of one hash slot; a warm start, a purge and the persistence
    /// check visit every primary; the change feed subscribes on one node (a cluster
    /// forwards every `PUBLISH` to all of them) and, when that node fails, ends with a gap
    /// and subscribes again on another.
    ///
    /// ```
    /// use tower_jwt_auth::store::RedisBackend;
    ///
    /// let builder = RedisBackend::cluster_builder(["redis://10.0.0.1:7000/", "redis://10.0.0.2:7000/"])
    ///     .with_prefix("myapp");
    /// assert!(format!("{builder:?}").contains("10.0.0.2:7000"));
    /// ```
    pub fn cluster_builder<T: IntoConnectionInfo>(
        nodes: impl IntoIterator<Item = T>,
    ) -> RedisBackendBuilder {
        RedisBackendBuilder::new_cluster(
            nodes
                .into_iter()
                .map(IntoConnectionInfo::into_connection_info)
                .collect(),
        )
    }

    /// The key prefix.
    ///
    /// ```no_run
    /// use tower_jwt_auth::store::RedisBackend;
    ///
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let backend = RedisBackend::builder("redis://127.0.0.1/").with_prefix("myapp").build().await?;
    /// assert_eq!(backend.prefix(), "myapp");
    /// # Ok(())
    /// # }
    /// ```
    pub fn prefix(&self) -> &str {
        &self.inner.keys.prefix
    }

    /// Whether the Redis server keeps its data across its own restart (an append-only file
    /// or snapshots), as `CONFIG GET` reported it when the backend was built: `Some(false)`
    /// means a Redis restart forgets every session and revocation (the build also logs a
    /// warning then); `None` when the server would not tell (a managed Redis often refuses
    /// `CONFIG`). An application can say so at start.
    ///
    /// ```no_run
    /// use tower_jwt_auth::store::RedisBackend;
    ///
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let backend = RedisBackend::builder("redis://127.0.0.1/").build().await?;
    /// if backend.persists() == Some(false) {
    ///     eprintln!("Redis persists nothing: its restart ends every session");
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn persists(&self) -> Option<bool> {
        self.inner.persists
    }

    /// Runs an operation that can safely run twice: tried again once on a new connection
    /// when the first attempt found the connection gone.
    async fn idempotent<T, F, Fut>(op: F) -> Result<T, OperationError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, OperationError>>,
    {
        match op().await {
            Err(err) if is_connection_lost(&err) => op().await,
            result => result,
        }
    }

    pub(super) fn connection(&self) -> Connection {
        self.inner.connection.clone()
    }

    async fn create(&self, session: &NewSession<'_>) -> Result<(), OperationError> {
        let mut invocation = self.inner.scripts.create.prepare_invoke();
        invocation
            .key(self.inner.keys.key(Kind::Record, session.sid))
            .key(self.inner.keys.key(Kind::RevokedSession, session.sid))
            .arg(refresh_token_hex(session.refresh_jti))
            .arg(session.forget_after)
            .arg(session.sub)
            .arg(session.started_ms)
            .arg(session.label.unwrap_or_default());
        invocation
            .invoke_async::<i64>(&mut self.connection())
            .await
            .map(drop)
            .map_err(failed("create_session"))?;
        self.index(session).await
    }

    async fn rotate_once(&self, rotation: &Rotation<'_>) -> Result<RotateOutcome, OperationError> {
        const OP: &str = "rotate";
        let keys = &self.inner.keys;
        let grace_floor = if rotation.grace_ms > 0 {
            rotation
                .now_ms
                .saturating_sub(rotation.grace_ms)
                .to_string()
        } else {
            String::new()
        };
        let head = reuse_message_head(rotation.sid)
            .map_err(|_| unexpected(OP, "session id not encodable"))?;
        let mut invocation = self.inner.scripts.rotate.prepare_invoke();
        invocation
            .key(keys.key(Kind::Record, rotation.sid))
            .key(keys.key(Kind::RevokedSession, rotation.sid))
            .arg(refresh_token_hex(rotation.presented_jti))
            .arg(refresh_token_hex(rotation.next_jti))
            .arg(rotation.now_ms)
            .arg(grace_floor)
            .arg(rotation.forget_after)
            .arg(&keys.channel)
            .arg(head);
        let reply: Vec<String> = invocation
            .invoke_async(&mut self.connection())
            .await
            .map_err(failed(OP))?;
        let time = |fa: &str| {
            fa.parse()
                .map_err(|_| unexpected(OP, "a forget-after time that is not a number"))
        };
        match reply.iter().map(String::as_str).collect::<Vec<_>>()[..] {
            ["rotated"] => Ok(RotateOutcome::Rotated),
            ["unknown"] => Ok(RotateOutcome::Unknown),
            ["reused", fa] => Ok(RotateOutcome::Reused {
                forget_after: time(fa)?,
            }),
            ["revoked", fa] => Ok(RotateOutcome::Revoked {
                forget_after: time(fa)?,
            }),
            _ => Err(unexpected(OP, "an unknown rotation outcome")),
        }
    }

    async fn record(&self, entry: &RevocationEntry) -> Result<(), OperationError> {
        const OP: &str = "revoke";
        let keys = &self.inner.keys;
        let message =
            serde_json::to_string(entry).map_err(|_| unexpected(OP, "entry not encodable"))?;
        let mut invocation = self.inner.scripts.revoke.prepare_invoke();
        match entry {
            RevocationEntry::Token { jti, expires_at } => {
                invocation.key(keys.key(Kind::Token, jti));
                invocation
                    .arg(&keys.channel)
                    .arg(message)
                    .arg("fa")
                    .arg(expires_at);
            }
            RevocationEntry::Session { sid, expires_at } => {
                invocation
                    .key(keys.key(Kind::RevokedSession, sid))
                    .key(keys.key(Kind::Record, sid));
                invocation
                    .arg(&keys.channel)
                    .arg(message)
                    .arg("fa")
                    .arg(expires_at);
            }
            RevocationEntry::Subject {
                sub,
                cutoff_ms,
                expires_at,
            } => {
                invocation.key(keys.key(Kind::Subject, sub));
                invocation
                    .arg(&keys.channel)
                    .arg(message)
                    .arg("fa")
                    .arg(expires_at)
                    .arg("c")
                    .arg(cutoff_ms);
            }
            RevocationEntry::Access {
                sid,
                seq,
                expires_at,
            } => {
                invocation.key(keys.key(Kind::Access, sid));
                invocation
                    .arg(&keys.channel)
                    .arg(message)
                    .arg("fa")
                    .arg(expires_at)
                    .arg("c")
                    .arg(seq);
            }
        }
        invocation
            .invoke_async::<i64>(&mut self.connection())
            .await
            .map(drop)
            .map_err(failed(OP))
    }
}

impl RedisBackend {
    /// `PUBLISH`es a heartbeat on the feed's channel: Redis runs it after every script that
    /// returned before, so it follows their messages on every subscription.
    ///
    /// On a cluster, each primary publishes it: a script's message travels from its primary
    /// to the subscribed node on that primary's own link, in order, so the heartbeat follows
    /// it only on the same link. The feed passes a heartbeat on once every primary's copy
    /// arrived: a node cut off from one primary's messages never proves the feed current.
    async fn publish_heartbeat(&self, beat: &Heartbeat) -> Result<(), OperationError> {
        let mut publish = ::redis::cmd("PUBLISH");
        publish
            .arg(&self.inner.keys.channel)
            .arg(heartbeat_message(beat));
        self.connection()
            .on_every_primary(publish)
            .await
            .map_err(failed("heartbeat"))
    }
}

impl RevocationBackend for RedisBackend {
    fn create_session<'a>(
        &'a self,
        session: &'a NewSession<'a>,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move { Ok(Self::idempotent(|| self.create(session)).await?) })
    }

    fn rotate<'a>(
        &'a self,
        rotation: &'a Rotation<'a>,
    ) -> BoxFuture<'a, Result<RotateOutcome, BoxError>> {
        // Never tried twice: a rotation that was applied but whose answer was lost would
        // come back as reuse.
        Box::pin(async move { Ok(self.rotate_once(rotation).await?) })
    }

    fn revoke<'a>(&'a self, entry: &'a RevocationEntry) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move { Ok(Self::idempotent(|| self.record(entry)).await?) })
    }

    fn load(&self, now: u64) -> BoxFuture<'_, Result<Vec<RevocationEntry>, BoxError>> {
        Box::pin(async move { Ok(Self::idempotent(|| self.load_now(now)).await?) })
    }

    fn subscribe(&self) -> BoxFuture<'_, Result<ChangeStream, BoxError>> {
        Box::pin(async move {
            let feed = Self::idempotent(|| self.open_feed()).await?;
            let changes = stream::unfold(feed, |mut feed| async move {
                let change = feed.next_change().await?;
                Some((change, feed))
            });
            Ok(changes.boxed())
        })
    }

    fn purge(&self, now: u64) -> BoxFuture<'_, Result<u64, BoxError>> {
        Box::pin(async move { Ok(Self::idempotent(|| self.purge_now(now)).await?) })
    }

    fn heartbeat<'a>(&'a self, beat: &'a Heartbeat) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move { Ok(Self::idempotent(|| self.publish_heartbeat(beat)).await?) })
    }

    fn list_sessions<'a>(
        &'a self,
        sub: &'a str,
        now: u64,
    ) -> BoxFuture<'a, Result<Vec<LiveSession>, BoxError>> {
        Box::pin(async move { Ok(Self::idempotent(|| self.list_now(sub, now)).await?) })
    }

    /// The backend itself: proofs are keys that expire by themselves.
    fn replay_cache(&self) -> Option<Arc<dyn crate::dpop::ReplayCache>> {
        Some(Arc::new(self.clone()))
    }
}
