//! [`RedisBackendBuilder`]: the settings of a [`RedisBackend`], checked and connected by
//! [`build`](RedisBackendBuilder::build).

use std::{
    fmt,
    sync::{Arc, atomic::AtomicUsize},
    time::Duration,
};

use ::redis::{
    Client, ConnectionInfo, RedisError,
    aio::{ConnectionManager, ConnectionManagerConfig},
    cluster::ClusterClientBuilder,
};

use super::{
    RedisBackend,
    backend::{Inner, Target},
    connection::{Connection, Node},
    keys::{self, Keys},
    scripts::Scripts,
};
use crate::{
    store::{BackendError, error::BUILD_TIMEOUT},
    telemetry,
};

/// How often an idle change feed checks that its connection still answers.
const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);

/// Builds a [`RedisBackend`]: [`RedisBackend::builder`] (or
/// [`builder_with_client`](RedisBackend::builder_with_client)), settings, then
/// [`build`](Self::build).
///
/// ```no_run
/// use std::time::Duration;
/// use tower_jwt_auth::store::RedisBackend;
///
/// # async fn demo() -> Result<(), tower_jwt_auth::store::BackendError> {
/// let backend = RedisBackend::builder("redis://127.0.0.1:6379/")
///     .with_prefix("myapp")
///     .with_timeout(Duration::from_secs(3))
///     .build()
///     .await?;
/// # let _ = backend;
/// # Ok(())
/// # }
/// ```
#[must_use]
pub struct RedisBackendBuilder {
    target: Result<Seeds, RedisError>,
    prefix: String,
    timeout: Duration,
    heartbeat: Duration,
}

/// What a builder connects to: one Redis, or a cluster through its seed nodes.
enum Seeds {
    Single(Client),
    Cluster(Vec<ConnectionInfo>),
}

impl fmt::Debug for RedisBackendBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = f.debug_struct("RedisBackendBuilder");
        match &self.target {
            Ok(Seeds::Single(client)) => {
                shown.field("addr", &client.get_connection_info().addr().to_string());
            }
            Ok(Seeds::Cluster(seeds)) => {
                let addrs: Vec<String> = seeds.iter().map(|seed| seed.addr().to_string()).collect();
                shown.field("cluster", &addrs);
            }
            Err(_) => {
                shown.field("addr", &"(invalid URL)");
            }
        }
        shown
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("heartbeat", &self.heartbeat)
            .finish()
    }
}

impl RedisBackendBuilder {
    pub(super) fn new(client: Result<Client, RedisError>) -> Self {
        Self::with_target(client.map(Seeds::Single))
    }

    pub(super) fn new_cluster(seeds: Result<Vec<ConnectionInfo>, RedisError>) -> Self {
        Self::with_target(seeds.map(Seeds::Cluster))
    }

    fn with_target(target: Result<Seeds, RedisError>) -> Self {
        Self {
            target,
            prefix: keys::DEFAULT_PREFIX.to_owned(),
            timeout: BUILD_TIMEOUT,
            heartbeat: DEFAULT_HEARTBEAT,
        }
    }

    /// The prefix of every key and of the channel (default `tower-jwt-auth`): one per
    /// application that shares the Redis. 1 to 64 characters among `A-Z a-z 0-9 _ - . :`
    /// (no braces: the hash tags are the backend's, and no glob characters: the prefix is
    /// scanned). [`build`](Self::build) refuses any other with [`BackendError::Config`].
    ///
    /// ```
    /// use tower_jwt_auth::store::{BackendError, RedisBackend};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// let refused = RedisBackend::builder("redis://127.0.0.1/").with_prefix("my{app}").build().await;
    /// assert!(matches!(refused, Err(BackendError::Config(_))));
    /// # });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The time limit of [`build`](Self::build) (default 5 s, at least 10 ms): Redis must
    /// answer the first connection within it. It also bounds each later attempt to
    /// reconnect, and each DPoP replay check ([`ReplayCache`](crate::dpop::ReplayCache)).
    /// Each other operation is bounded by the store instead
    /// ([`with_backend_timeout`](crate::store::RevocationStoreBuilder::with_backend_timeout)).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_jwt_auth::store::RedisBackend;
    ///
    /// let builder = RedisBackend::builder("redis://127.0.0.1/").with_timeout(Duration::from_secs(1));
    /// # let _ = builder;
    /// ```
    pub fn with_timeout(mut self, limit: Duration) -> Self {
        self.timeout = limit;
        self
    }

    /// How long a change feed may go without a message before it pings Redis to find a
    /// connection that no longer answers (default 15 s, at least 100 ms); a ping must answer
    /// within the same time. A feed that stops answering ends, and the store reloads.
    ///
    /// Every message counts as an answer, the store's own heartbeats included (one every
    /// third of its [`with_max_staleness`](crate::store::RevocationStoreBuilder::with_max_staleness)
    /// bound): under a store, a lost connection is found by the missing heartbeats first,
    /// and the ping only guards a feed followed without one.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_jwt_auth::store::RedisBackend;
    ///
    /// let builder = RedisBackend::builder("redis://127.0.0.1/").with_feed_heartbeat(Duration::from_secs(5));
    /// # let _ = builder;
    /// ```
    pub fn with_feed_heartbeat(mut self, every: Duration) -> Self {
        self.heartbeat = every;
        self
    }

    /// Checks the settings and connects: fails with [`BackendError::Config`] when a
    /// setting is refused, [`BackendError::Url`] when the URL does not parse,
    /// [`BackendError::Connect`] when Redis refuses the connection and
    /// [`BackendError::Timeout`] when it does not answer within the time limit.
    ///
    /// ```no_run
    /// use tower_jwt_auth::store::RedisBackend;
    ///
    /// # async fn demo() -> Result<(), tower_jwt_auth::store::BackendError> {
    /// let backend = RedisBackend::builder("redis://127.0.0.1/").build().await?;
    /// # let _ = backend;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn build(self) -> Result<RedisBackend, BackendError> {
        keys::check_prefix(&self.prefix).map_err(BackendError::Config)?;
        if self.timeout < Duration::from_millis(10) {
            return Err(BackendError::Config("the time limit is at least 10 ms"));
        }
        if self.heartbeat < Duration::from_millis(100) {
            return Err(BackendError::Config(
                "the feed heartbeat is at least 100 ms",
            ));
        }
        let target = self
            .target
            .map_err(|err| BackendError::Url(Box::new(err)))?;
        let (target, connection) = match target {
            Seeds::Single(client) => {
                let connection = connect_single(&client, self.timeout).await?;
                (Target::Single(client), connection)
            }
            Seeds::Cluster(seeds) => {
                let connection = connect_cluster(&seeds, self.timeout).await?;
                let target = Target::Cluster {
                    seeds,
                    next_feed: AtomicUsize::new(0),
                };
                (target, connection)
            }
        };
        let persists = persists(&connection).await;
        if persists == Some(false) {
            telemetry::persists_nothing("redis");
        }
        Ok(RedisBackend {
            inner: Arc::new(Inner {
                target,
                connection,
                keys: Keys::new(self.prefix),
                scripts: Scripts::new(),
                heartbeat: self.heartbeat,
                timeout: self.timeout,
                persists,
            }),
        })
    }
}

/// Connects to one Redis, within `timeout`.
async fn connect_single(client: &Client, timeout: Duration) -> Result<Connection, BackendError> {
    // No response timeout of the connection's own: the store bounds each call.
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(None)
        .set_number_of_retries(2)
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(timeout);
    let connect = ConnectionManager::new_with_config(client.clone(), config);
    let connection = tokio::time::timeout(timeout, connect)
        .await
        .map_err(|_| BackendError::Timeout { after: timeout })?
        .map_err(|err| BackendError::Connect(Box::new(err)))?;
    Ok(Connection::Single(connection))
}

/// Connects to a Redis Cluster through its seed nodes, within `timeout`.
async fn connect_cluster(
    seeds: &[ConnectionInfo],
    timeout: Duration,
) -> Result<Connection, BackendError> {
    if seeds.is_empty() {
        return Err(BackendError::Config(
            "a Redis Cluster needs at least one node",
        ));
    }
    // No response timeout of the connection's own: the store bounds each call.
    let client = ClusterClientBuilder::new(seeds.to_vec())
        .connection_timeout(timeout)
        .overall_response_timeout(None)
        .retries(2)
        .build()
        .map_err(|err| BackendError::Url(Box::new(err)))?;
    let connection = tokio::time::timeout(timeout, client.get_async_connection())
        .await
        .map_err(|_| BackendError::Timeout { after: timeout })?
        .map_err(|err| BackendError::Connect(Box::new(err)))?;
    Ok(Connection::Cluster(connection))
}

/// Whether the server keeps its data across a restart (an append-only file or snapshots), as
/// `CONFIG GET` reports it; on a cluster, whether every primary does. `None` when it cannot
/// tell (a managed Redis refuses `CONFIG`).
async fn persists(connection: &Connection) -> Option<bool> {
    async fn setting(connection: &Connection, node: Option<&Node>, name: &str) -> Option<String> {
        let mut command = ::redis::cmd("CONFIG");
        command.arg("GET").arg(name);
        let pair: Vec<String> = connection.on_node(node, command).await.ok()?;
        pair.into_iter().nth(1)
    }
    async fn node_persists(connection: &Connection, node: Option<&Node>) -> Option<bool> {
        let append_only = setting(connection, node, "appendonly").await?;
        let snapshots = setting(connection, node, "save").await?;
        Some(append_only == "yes" || !snapshots.trim().is_empty())
    }
    let lookup = async {
        match connection.primaries().await.ok()? {
            None => node_persists(connection, None).await,
            Some(primaries) => {
                // One primary that persists nothing is enough to warn.
                let mut all = Some(true);
                for node in &primaries {
                    match node_persists(connection, Some(node)).await {
                        Some(false) => return Some(false),
                        Some(true) => {}
                        None => all = None,
                    }
                }
                all
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(1), lookup)
        .await
        .ok()
        .flatten()
}
