//! [`RedisBackend`]: session records and the deny-list in Redis, shared by every instance,
//! with a pub/sub change feed (feature `redis`).

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};
use std::{error::Error as StdError, fmt, future::Future, time::Duration};

use crate::config::duration_knobs;
use ::redis::{
    Client, IntoConnectionInfo, RedisError, Script, Value,
    aio::{ConnectionManager, ConnectionManagerConfig, PubSubSink, PubSubStream},
};
use futures::{StreamExt, stream};

use super::{
    BoxError, BoxFuture, ChangeStream, NewSession, RevocationBackend, RevocationEntry,
    RotateOutcome, Rotation, record::refresh_token_hex as token_id,
};

/// The default key prefix.
const DEFAULT_PREFIX: &str = "tower-jwt-auth";
/// The longest key prefix accepted.
const MAX_PREFIX_LEN: usize = 64;
/// The default time limit of one operation.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// How often an idle change feed checks that its connection still answers.
const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);
/// Keys asked for per `SCAN` step: each step stays short, so a warm start never blocks Redis.
const SCAN_COUNT: usize = 1000;

/// Lua helpers shared by the scripts. Times are decimal strings of `u64` values, compared
/// without floating point (Lua numbers are doubles).
const PRELUDE: &str = r"
local function gt(a, b)
  if #a ~= #b then return #a > #b end
  return a > b
end
local function later(a, b)
  if a and not gt(b, a) then return a end
  return b
end
local function expire_after(key, fa)
  if #fa <= 12 then
    redis.call('EXPIREAT', key, tonumber(fa) + 1)
  else
    redis.call('PERSIST', key)
  end
end
";

/// `create_session`. KEYS: the record. ARGV: the first refresh token, forget-after.
const CREATE: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'cur', ARGV[1], 'fa', ARGV[2])
expire_after(KEYS[1], ARGV[2])
return 1
";

/// `rotate`. KEYS: the record, the session's revocation. ARGV: the presented token, the next
/// token, now (ms), the oldest supersession time a retry may follow (ms; empty without a
/// grace window), the rotation's forget-after, the channel, the feed message up to its
/// `expires_at` value.
const ROTATE: &str = r"
local held = redis.call('HGET', KEYS[2], 'fa')
if held then return {'revoked', held} end
local r = redis.call('HMGET', KEYS[1], 'cur', 'prev', 'sup', 'fa')
local cur, prev, sup, fa = r[1], r[2], r[3], r[4]
if not cur then return {'unknown'} end
local is_current = ARGV[1] == cur
local is_retry = not is_current and ARGV[4] ~= '' and sup and ARGV[1] == prev
  and not gt(ARGV[4], sup)
if not is_current and not is_retry then
  redis.call('HSET', KEYS[2], 'fa', fa)
  expire_after(KEYS[2], fa)
  redis.call('PUBLISH', ARGV[6], ARGV[7] .. fa .. '}')
  return {'reused', fa}
end
if is_current then
  redis.call('HSET', KEYS[1], 'prev', cur, 'sup', ARGV[3])
end
fa = later(fa, ARGV[5])
redis.call('HSET', KEYS[1], 'cur', ARGV[2], 'fa', fa)
expire_after(KEYS[1], fa)
return {'rotated'}
";

/// `revoke`, for every kind of entry. KEYS: the entry; for a session, its record too, whose
/// forget-after time the entry keeps at least. ARGV: the channel, the feed message, then
/// field/value pairs, each field keeping the later value.
const REVOKE: &str = r"
local floor = false
if KEYS[2] then floor = redis.call('HGET', KEYS[2], 'fa') end
for i = 3, #ARGV, 2 do
  local field, value = ARGV[i], ARGV[i + 1]
  if field == 'fa' then value = later(floor, value) end
  value = later(redis.call('HGET', KEYS[1], field), value)
  redis.call('HSET', KEYS[1], field, value)
  if field == 'fa' then expire_after(KEYS[1], value) end
end
redis.call('PUBLISH', ARGV[1], ARGV[2])
return 1
";

/// `purge`, for one key. KEYS: the key. ARGV: now (s). Deletes the key if it is not live.
const PURGE: &str = r"
local fa = redis.call('HGET', KEYS[1], 'fa')
if fa and gt(ARGV[1], fa) then return redis.call('DEL', KEYS[1]) end
return 0
";

/// Why the Redis backend could not be built, or an operation failed.
///
/// Its messages never contain a token or the URL's credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisBackendError {
    /// A setting of the builder was refused.
    #[error("invalid Redis backend setting: {0}")]
    Config(&'static str),
    /// The URL (or connection info) was refused.
    #[error("invalid Redis URL")]
    Url(#[source] RedisError),
    /// The first connection failed.
    #[error("could not connect to Redis")]
    Connect(#[source] RedisError),
    /// Redis answered an operation with an error, or the connection failed.
    #[error("Redis {operation} failed")]
    Redis {
        /// The backend operation (`rotate`, `revoke`, …).
        operation: &'static str,
        /// What Redis or the connection said.
        #[source]
        source: RedisError,
    },
    /// An operation got no answer in time; it may or may not have been applied.
    #[error("Redis {operation} timed out after {after:?}")]
    Timeout {
        /// The backend operation.
        operation: &'static str,
        /// The time limit.
        after: Duration,
    },
    /// Redis held or answered something this backend did not write.
    #[error("Redis {operation}: unexpected data ({what})")]
    Unexpected {
        /// The backend operation.
        operation: &'static str,
        /// What was wrong.
        what: &'static str,
    },
    /// The change feed's connection was closed, stopped answering, or was dropped by Redis
    /// because it fell behind: changes may have been missed.
    #[error("the Redis change feed was lost")]
    FeedLost,
}

impl RedisBackendError {
    fn redis(operation: &'static str) -> impl FnOnce(RedisError) -> Self {
        move |source| Self::Redis { operation, source }
    }

    /// `true` when the connection was lost: the operation may be tried again on a new one.
    fn is_connection_lost(&self) -> bool {
        matches!(self, Self::Redis { source, .. }
            if source.is_io_error() || source.is_connection_dropped() || source.is_unrecoverable_error())
    }
}

/// An error with its chain of causes, on one line, for log events.
struct Chain<'a>(&'a (dyn StdError + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(err) = cause {
            write!(f, ": {err}")?;
            cause = err.source();
        }
        Ok(())
    }
}

/// The kinds of keys, by the letter after the prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Record,
    RevokedSession,
    Token,
    Subject,
}

impl Kind {
    fn letter(self) -> char {
        match self {
            Self::Record => 's',
            Self::RevokedSession => 'r',
            Self::Token => 't',
            Self::Subject => 'u',
        }
    }

    fn from_letter(letter: u8) -> Option<Self> {
        match letter {
            b's' => Some(Self::Record),
            b'r' => Some(Self::RevokedSession),
            b't' => Some(Self::Token),
            b'u' => Some(Self::Subject),
            _ => None,
        }
    }
}

/// The key layout under one prefix.
#[derive(Debug)]
struct Keys {
    prefix: String,
    channel: String,
    pattern: String,
}

impl Keys {
    fn new(prefix: String) -> Self {
        Self {
            channel: format!("{prefix}:feed"),
            pattern: format!("{prefix}:*"),
            prefix,
        }
    }

    fn key(&self, kind: Kind, id: &str) -> String {
        format!("{}:{}:{{{id}}}", self.prefix, kind.letter())
    }

    /// The kind and id of one of this backend's keys; `None` for any other key.
    fn parse<'k>(&self, key: &'k [u8]) -> Option<(Kind, &'k str)> {
        let key = std::str::from_utf8(key).ok()?;
        let rest = key.strip_prefix(self.prefix.as_str())?.strip_prefix(':')?;
        let kind = Kind::from_letter(*rest.as_bytes().first()?)?;
        let id = rest.get(1..)?.strip_prefix(":{")?.strip_suffix('}')?;
        Some((kind, id))
    }
}

/// The feed message of a session revoked for reuse, up to the value of `expires_at`, which
/// the script appends with the closing brace.
fn reuse_message_head(sid: &str) -> Result<String, serde_json::Error> {
    Ok(format!(
        r#"{{"kind":"session","sid":{},"expires_at":"#,
        serde_json::to_string(sid)?
    ))
}

struct Scripts {
    create: Script,
    rotate: Script,
    revoke: Script,
    purge: Script,
}

impl Scripts {
    fn new() -> Self {
        let script = |body: &str| Script::new(&[PRELUDE, body].concat());
        Self {
            create: script(CREATE),
            rotate: script(ROTATE),
            revoke: script(REVOKE),
            purge: script(PURGE),
        }
    }
}

struct Inner {
    client: Client,
    connection: ConnectionManager,
    keys: Keys,
    scripts: Scripts,
    timeout: Duration,
    heartbeat: Duration,
    /// False from the first failure until the next success, so that a failing Redis is
    /// logged once, and its recovery once.
    healthy: AtomicBool,
}

/// A [`RevocationBackend`] in Redis: every instance of an application that points at the
/// same Redis (and prefix) shares session records and revocations, and learns the others'
/// revocations from a pub/sub change feed.
///
/// It behaves as [`MemoryBackend`](super::MemoryBackend) does, and passes the same
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
///
/// The braces around the id are literal: `{sid}` is a hash tag, so the two keys of a session
/// live in one slot of a Redis Cluster. Every write is one Lua script (run by `EVALSHA`) that
/// names all its keys, and publishes the change on the channel `{prefix}:feed` in the same
/// step.
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
/// Every operation has a time limit ([`with_timeout`](RedisBackendBuilder::with_timeout),
/// 2 s by default) and fails with a [`RedisBackendError`] when Redis cannot be reached in
/// time: the [`RevocationStore`](super::RevocationStore) then fails the write closed (HTTP
/// 503) while verification keeps serving from its local map, and its
/// [`run`](super::RevocationStore::run) task reloads and follows the feed again once Redis is
/// back. The connection reconnects by itself. Operations that can safely run twice (all but
/// [`rotate`](RevocationBackend::rotate)) are tried again once on a new connection when the
/// old one turns out to be gone; a rotation whose answer is lost fails, and the client's
/// retry is then judged by the grace window.
///
/// The backend logs (with `tracing`) when Redis starts failing, when it recovers, and when
/// the change feed is lost (its connection closed or stopped answering, or Redis dropped it
/// for falling behind); never a token, nor the URL.
#[derive(Clone)]
pub struct RedisBackend {
    inner: Arc<Inner>,
}

impl fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBackend")
            .field(
                "addr",
                &self.inner.client.get_connection_info().addr().to_string(),
            )
            .field(
                "db",
                &self
                    .inner
                    .client
                    .get_connection_info()
                    .redis_settings()
                    .db(),
            )
            .field("prefix", &self.inner.keys.prefix)
            .field("timeout", &self.inner.timeout)
            .field("healthy", &self.inner.healthy.load(Ordering::Relaxed))
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

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.inner.keys.prefix
    }

    /// Runs `op` under the time limit, and logs a change of health.
    async fn call<T>(
        &self,
        operation: &'static str,
        op: impl Future<Output = Result<T, RedisBackendError>>,
    ) -> Result<T, RedisBackendError> {
        let after = self.inner.timeout;
        let result = tokio::time::timeout(after, op)
            .await
            .unwrap_or(Err(RedisBackendError::Timeout { operation, after }));
        self.observe(operation, result.as_ref().err());
        result
    }

    /// [`call`](Self::call) for an operation that can safely run twice: tried again once on
    /// a new connection when the first attempt found the connection gone.
    async fn call_idempotent<T, F, Fut>(
        &self,
        operation: &'static str,
        op: F,
    ) -> Result<T, RedisBackendError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, RedisBackendError>>,
    {
        let after = self.inner.timeout;
        let attempt = || async {
            tokio::time::timeout(after, op())
                .await
                .unwrap_or(Err(RedisBackendError::Timeout { operation, after }))
        };
        let result = match attempt().await {
            Err(err) if err.is_connection_lost() => attempt().await,
            result => result,
        };
        self.observe(operation, result.as_ref().err());
        result
    }

    fn observe(&self, operation: &'static str, error: Option<&RedisBackendError>) {
        let healthy = &self.inner.healthy;
        match error {
            None => {
                if !healthy.swap(true, Ordering::AcqRel) {
                    tracing::info!(operation, "Redis revocation backend recovered");
                }
            }
            Some(err) => {
                if healthy.swap(false, Ordering::AcqRel) {
                    tracing::warn!(
                        operation,
                        error = %Chain(err),
                        "Redis revocation backend failed; writes fail closed until it recovers"
                    );
                } else {
                    tracing::debug!(operation, error = %Chain(err), "Redis revocation backend still failing");
                }
            }
        }
    }

    fn connection(&self) -> ConnectionManager {
        self.inner.connection.clone()
    }

    async fn create(&self, session: &NewSession<'_>) -> Result<(), RedisBackendError> {
        let mut invocation = self.inner.scripts.create.prepare_invoke();
        invocation
            .key(self.inner.keys.key(Kind::Record, session.sid))
            .arg(token_id(session.refresh_jti))
            .arg(session.forget_after);
        invocation
            .invoke_async::<i64>(&mut self.connection())
            .await
            .map(drop)
            .map_err(RedisBackendError::redis("create_session"))
    }

    async fn rotate_once(
        &self,
        rotation: &Rotation<'_>,
    ) -> Result<RotateOutcome, RedisBackendError> {
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
        let head = reuse_message_head(rotation.sid).map_err(|_| RedisBackendError::Unexpected {
            operation: OP,
            what: "session id not encodable",
        })?;
        let mut invocation = self.inner.scripts.rotate.prepare_invoke();
        invocation
            .key(keys.key(Kind::Record, rotation.sid))
            .key(keys.key(Kind::RevokedSession, rotation.sid))
            .arg(token_id(rotation.presented_jti))
            .arg(token_id(rotation.next_jti))
            .arg(rotation.now_ms)
            .arg(grace_floor)
            .arg(rotation.forget_after)
            .arg(&keys.channel)
            .arg(head);
        let reply: Vec<String> = invocation
            .invoke_async(&mut self.connection())
            .await
            .map_err(RedisBackendError::redis(OP))?;
        let time = |fa: &str| {
            fa.parse().map_err(|_| RedisBackendError::Unexpected {
                operation: OP,
                what: "a forget-after time that is not a number",
            })
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
            _ => Err(RedisBackendError::Unexpected {
                operation: OP,
                what: "an unknown rotation outcome",
            }),
        }
    }

    async fn record(&self, entry: &RevocationEntry) -> Result<(), RedisBackendError> {
        const OP: &str = "revoke";
        let keys = &self.inner.keys;
        let message = serde_json::to_string(entry).map_err(|_| RedisBackendError::Unexpected {
            operation: OP,
            what: "entry not encodable",
        })?;
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
        }
        invocation
            .invoke_async::<i64>(&mut self.connection())
            .await
            .map(drop)
            .map_err(RedisBackendError::redis(OP))
    }

    /// The forget-after time and cut-off of each key, as far as it still exists.
    async fn entry_values(
        &self,
        keys: &[(Kind, String, Vec<u8>)],
    ) -> Result<Vec<(Option<u64>, Option<u64>)>, RedisBackendError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = ::redis::pipe();
        for (.., key) in keys {
            pipe.cmd("HMGET").arg(key).arg("fa").arg("c");
        }
        pipe.query_async(&mut self.connection())
            .await
            .map_err(RedisBackendError::redis("load"))
    }

    async fn load_now(&self, now: u64) -> Result<Vec<RevocationEntry>, RedisBackendError> {
        const OP: &str = "load";
        let mut entries = Vec::new();
        let mut scan = Scan::new(self, OP);
        let mut batch = scan.next_batch().await?;
        while let Some(keys) = batch {
            let keys: Vec<_> = keys
                .into_iter()
                .filter(|(kind, ..)| *kind != Kind::Record)
                .collect();
            // The next step of the walk runs while this batch's values are read.
            let (next, values) = tokio::join!(scan.next_batch(), self.entry_values(&keys));
            batch = next?;
            for ((kind, id, _), (fa, cutoff)) in keys.into_iter().zip(values?) {
                // A key that expired since the scan found it has no fields.
                let Some(expires_at) = fa.filter(|fa| *fa >= now) else {
                    continue;
                };
                entries.push(match kind {
                    Kind::Token => RevocationEntry::Token {
                        jti: id,
                        expires_at,
                    },
                    Kind::RevokedSession => RevocationEntry::Session {
                        sid: id,
                        expires_at,
                    },
                    Kind::Subject => RevocationEntry::Subject {
                        sub: id,
                        cutoff_ms: cutoff.ok_or(RedisBackendError::Unexpected {
                            operation: OP,
                            what: "a subject entry without its cut-off",
                        })?,
                        expires_at,
                    },
                    Kind::Record => continue,
                });
            }
        }
        Ok(entries)
    }

    async fn purge_now(&self, now: u64) -> Result<u64, RedisBackendError> {
        const OP: &str = "purge";
        let (secs, micros): (u64, u64) = ::redis::cmd("TIME")
            .query_async(&mut self.connection())
            .await
            .map_err(RedisBackendError::redis(OP))?;
        let server_ms = secs.saturating_mul(1000).saturating_add(micros / 1000);
        if now.saturating_mul(1000) < server_ms {
            // A key not live at `now` has a forget-after second before `now`, and Redis has
            // expired it at the end of that second.
            return Ok(0);
        }
        let mut purged = 0;
        let mut scan = Scan::new(self, OP);
        while let Some(keys) = scan.next_batch().await? {
            if keys.is_empty() {
                continue;
            }
            let mut pipe = ::redis::pipe();
            for (.., key) in &keys {
                pipe.cmd("HGET").arg(key).arg("fa");
            }
            let times: Vec<Option<u64>> = pipe
                .query_async(&mut self.connection())
                .await
                .map_err(RedisBackendError::redis(OP))?;
            for ((.., key), fa) in keys.iter().zip(times) {
                if fa.is_some_and(|fa| fa < now) {
                    // The script checks again: a rotation may have moved the time since.
                    let mut invocation = self.inner.scripts.purge.prepare_invoke();
                    invocation.key(key).arg(now);
                    let deleted: u64 = invocation
                        .invoke_async(&mut self.connection())
                        .await
                        .map_err(RedisBackendError::redis(OP))?;
                    purged += deleted;
                }
            }
        }
        Ok(purged)
    }

    async fn open_feed(&self) -> Result<Feed, RedisBackendError> {
        const OP: &str = "subscribe";
        let mut pubsub = self
            .inner
            .client
            .get_async_pubsub()
            .await
            .map_err(RedisBackendError::redis(OP))?;
        pubsub
            .subscribe(&self.inner.keys.channel)
            .await
            .map_err(RedisBackendError::redis(OP))?;
        let (sink, messages) = pubsub.split();
        let every = self.inner.heartbeat;
        Ok(Feed {
            sink,
            messages,
            heartbeat: tokio::time::interval_at(tokio::time::Instant::now() + every, every),
            timeout: self.inner.timeout,
            open: true,
        })
    }
}

/// A walk over the keys under the prefix with `SCAN`: short steps, so that it never blocks
/// Redis. A key may be found twice.
struct Scan<'b> {
    backend: &'b RedisBackend,
    operation: &'static str,
    cursor: Option<u64>,
}

impl<'b> Scan<'b> {
    fn new(backend: &'b RedisBackend, operation: &'static str) -> Self {
        Self {
            backend,
            operation,
            cursor: Some(0),
        }
    }

    /// The next step's keys of this backend (kind, id, key), or `None` at the end.
    async fn next_batch(
        &mut self,
    ) -> Result<Option<Vec<(Kind, String, Vec<u8>)>>, RedisBackendError> {
        let Some(cursor) = self.cursor else {
            return Ok(None);
        };
        let keys = &self.backend.inner.keys;
        let (next, found): (u64, Vec<Vec<u8>>) = ::redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&keys.pattern)
            .arg("COUNT")
            .arg(SCAN_COUNT)
            .arg("TYPE")
            .arg("hash")
            .query_async(&mut self.backend.connection())
            .await
            .map_err(RedisBackendError::redis(self.operation))?;
        self.cursor = (next != 0).then_some(next);
        Ok(Some(
            found
                .into_iter()
                .filter_map(|key| {
                    let (kind, id) = keys.parse(&key)?;
                    let id = id.to_owned();
                    Some((kind, id, key))
                })
                .collect(),
        ))
    }
}

/// One subscription to the change feed: its connection, and a heartbeat that finds a
/// connection that no longer answers.
struct Feed {
    sink: PubSubSink,
    messages: PubSubStream,
    heartbeat: tokio::time::Interval,
    timeout: Duration,
    open: bool,
}

impl Feed {
    /// The next change; after an error, the end.
    async fn next_change(&mut self) -> Option<Result<RevocationEntry, BoxError>> {
        if !self.open {
            return None;
        }
        loop {
            tokio::select! {
                message = self.messages.next() => {
                    let Some(message) = message else {
                        return Some(self.lost("its connection was closed"));
                    };
                    return Some(
                        match serde_json::from_slice(message.get_payload_bytes()) {
                            Ok(entry) => Ok(entry),
                            Err(_) => self.lost("a message could not be decoded"),
                        },
                    );
                }
                _ = self.heartbeat.tick() => {
                    let ping = tokio::time::timeout(self.timeout, self.sink.ping::<Value>()).await;
                    if !matches!(ping, Ok(Ok(_))) {
                        return Some(self.lost("its connection stopped answering"));
                    }
                }
            }
        }
    }

    fn lost(&mut self, why: &'static str) -> Result<RevocationEntry, BoxError> {
        self.open = false;
        tracing::warn!(
            why,
            "Redis change feed lost (disconnected, or dropped by Redis for falling behind); \
             the store reloads"
        );
        Err(Box::new(RedisBackendError::FeedLost))
    }
}

impl RevocationBackend for RedisBackend {
    fn create_session<'a>(
        &'a self,
        session: &'a NewSession<'a>,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            Ok(self
                .call_idempotent("create_session", || self.create(session))
                .await?)
        })
    }

    fn rotate<'a>(
        &'a self,
        rotation: &'a Rotation<'a>,
    ) -> BoxFuture<'a, Result<RotateOutcome, BoxError>> {
        // Never tried twice: a rotation that was applied but whose answer was lost would
        // come back as reuse.
        Box::pin(async move { Ok(self.call("rotate", self.rotate_once(rotation)).await?) })
    }

    fn revoke<'a>(&'a self, entry: &'a RevocationEntry) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            Ok(self
                .call_idempotent("revoke", || self.record(entry))
                .await?)
        })
    }

    fn load(&self, now: u64) -> BoxFuture<'_, Result<Vec<RevocationEntry>, BoxError>> {
        Box::pin(async move { Ok(self.call_idempotent("load", || self.load_now(now)).await?) })
    }

    fn subscribe(&self) -> BoxFuture<'_, Result<ChangeStream, BoxError>> {
        Box::pin(async move {
            let feed = self
                .call_idempotent("subscribe", || self.open_feed())
                .await?;
            let changes = stream::unfold(feed, |mut feed| async move {
                let change = feed.next_change().await?;
                Some((change, feed))
            });
            Ok(changes.boxed())
        })
    }

    fn purge(&self, now: u64) -> BoxFuture<'_, Result<u64, BoxError>> {
        Box::pin(async move {
            Ok(self
                .call_idempotent("purge", || self.purge_now(now))
                .await?)
        })
    }
}

/// Builds a [`RedisBackend`]: [`RedisBackend::builder`], settings, then
/// [`build`](Self::build).
#[must_use]
pub struct RedisBackendBuilder {
    client: Result<Client, RedisError>,
    prefix: String,
    timeout: Duration,
    heartbeat: Duration,
}

impl fmt::Debug for RedisBackendBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let addr = self
            .client
            .as_ref()
            .map(|client| client.get_connection_info().addr().to_string());
        f.debug_struct("RedisBackendBuilder")
            .field("addr", &addr.as_deref().unwrap_or("(invalid URL)"))
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("heartbeat", &self.heartbeat)
            .finish()
    }
}

impl RedisBackendBuilder {
    fn new(client: Result<Client, RedisError>) -> Self {
        Self {
            client,
            prefix: DEFAULT_PREFIX.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            heartbeat: DEFAULT_HEARTBEAT,
        }
    }

    /// The prefix of every key and of the channel (default `tower-jwt-auth`): one per
    /// application that shares the Redis. 1 to 64 characters among `A-Z a-z 0-9 _ - . :`
    /// (no braces: the hash tags are the backend's, and no glob characters: the prefix is
    /// scanned).
    ///
    /// ```
    /// use tower_jwt_auth::store::RedisBackend;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// let refused = RedisBackend::builder("redis://127.0.0.1/").with_prefix("my{app}").build().await;
    /// assert!(refused.is_err());
    /// # });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Checks the settings and connects: fails when the URL does not parse, a setting is
    /// refused, or Redis cannot be reached within the time limit.
    pub async fn build(self) -> Result<RedisBackend, RedisBackendError> {
        let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':');
        if self.prefix.is_empty()
            || self.prefix.len() > MAX_PREFIX_LEN
            || !self.prefix.chars().all(valid)
        {
            return Err(RedisBackendError::Config(
                "the key prefix is 1 to 64 characters among A-Z a-z 0-9 _ - . :",
            ));
        }
        if self.timeout < Duration::from_millis(10) {
            return Err(RedisBackendError::Config(
                "the time limit is at least 10 ms",
            ));
        }
        if self.heartbeat < Duration::from_millis(100) {
            return Err(RedisBackendError::Config(
                "the feed heartbeat is at least 100 ms",
            ));
        }
        let client = self.client.map_err(RedisBackendError::Url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(self.timeout);
        let connect = ConnectionManager::new_with_config(client.clone(), config);
        let connection = tokio::time::timeout(self.timeout, connect)
            .await
            .map_err(|_| {
                RedisBackendError::Connect(RedisError::from((
                    ::redis::ErrorKind::Io,
                    "no answer within the time limit",
                )))
            })?
            .map_err(RedisBackendError::Connect)?;
        Ok(RedisBackend {
            inner: Arc::new(Inner {
                client,
                connection,
                keys: Keys::new(self.prefix),
                scripts: Scripts::new(),
                timeout: self.timeout,
                heartbeat: self.heartbeat,
                healthy: AtomicBool::new(true),
            }),
        })
    }
}

duration_knobs! {
    RedisBackendBuilder,
    "# use tower_jwt_auth::store::RedisBackend;\n\
     let builder = RedisBackend::builder(\"redis://127.0.0.1/\");",
    "# let _ = builder;";
    /// The time limit of each operation (default 2 s, at least 10 ms): Redis must answer
    /// within it, or the operation fails (closed). It also bounds each attempt to
    /// (re)connect, and the change feed's heartbeat.
    with_timeout => timeout, "1";
    /// How often an idle change feed pings Redis to find a connection that no longer
    /// answers (default 15 s, at least 100 ms); a feed that stops answering ends, and the
    /// store reloads.
    with_feed_heartbeat => heartbeat, "5";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_one_session_share_a_hash_tag_and_parse_back() {
        let keys = Keys::new("app".into());
        assert_eq!(keys.key(Kind::Record, "s1"), "app:s:{s1}");
        assert_eq!(keys.key(Kind::RevokedSession, "s1"), "app:r:{s1}");
        for kind in [
            Kind::Record,
            Kind::RevokedSession,
            Kind::Token,
            Kind::Subject,
        ] {
            let key = keys.key(kind, "a}b{c");
            assert_eq!(keys.parse(key.as_bytes()), Some((kind, "a}b{c")));
        }
        assert_eq!(keys.parse(b"app:x:{s1}"), None);
        assert_eq!(keys.parse(b"apps:t:{s1}"), None);
        assert_eq!(keys.parse(b"other:t:{s1}"), None);
    }

    #[test]
    fn the_reuse_message_is_a_session_entry() {
        let sid = "s\"1\\";
        let message = format!("{}{}}}", reuse_message_head(sid).unwrap(), u64::MAX);
        let entry: RevocationEntry = serde_json::from_str(&message).unwrap();
        assert_eq!(
            entry,
            RevocationEntry::Session {
                sid: sid.into(),
                expires_at: u64::MAX
            }
        );
    }
}
