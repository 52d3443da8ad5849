//! [`PostgresBackend`]: the revocation state in PostgreSQL, with LISTEN/NOTIFY as the change
//! feed.

use std::{fmt, str::FromStr, sync::Arc, time::Duration};

use futures::StreamExt;
use sqlx::postgres::{
    PgConnectOptions, PgConnection, PgListener, PgPool, PgPoolOptions, PgQueryResult, Postgres,
};

use super::{
    BackendError, BoxError, BoxFuture, ChangeStream, Heartbeat, LiveSession, NewSession,
    RevocationBackend, RevocationEntry, RotateOutcome, Rotation,
    backend::{decode_change, heartbeat_message},
    error::BUILD_TIMEOUT,
    sql::{self, Cause, Dialect, SqlCore},
};
use crate::dpop::{ReplayCache, ReplayKey};

/// How many feeds one backend value can follow at once (each holds a connection).
const LISTENERS: u32 = 4;

/// PostgreSQL: `GREATEST`, an advisory lock around the migration, `NOTIFY` in the write's
/// transaction and `LISTEN` on connections of a pool of their own, so that a feed never
/// holds a connection of the application's pool.
#[derive(Clone)]
struct Pg {
    channel: Arc<str>,
    listeners: PgPool,
}

impl Dialect for Pg {
    type Db = Postgres;
    const NAME: &'static str = "postgres";
    const GREATEST: &'static str = "GREATEST";
    const BYTES: &'static str = "BYTEA";
    const MIGRATION_LOCK: Option<&'static str> =
        Some("SELECT pg_advisory_xact_lock(hashtext('tower-jwt-auth ' || $1))");
    const COLUMN_COUNT: &'static str = "SELECT COUNT(*) FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2";

    fn open(pool: &PgPool, prefix: &str, timeout: Duration) -> Self {
        Self {
            channel: format!("{prefix}changes").into(),
            // No idle timeout or lifetime: the pool then needs no maintenance task, so a
            // backend can be built outside the runtime.
            listeners: PgPoolOptions::new()
                .max_connections(LISTENERS)
                .acquire_timeout(timeout)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_lazy_with((*pool.connect_options()).clone()),
        }
    }

    fn rows_affected(result: &PgQueryResult) -> u64 {
        result.rows_affected()
    }

    fn notify<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        entry: &'a RevocationEntry,
    ) -> BoxFuture<'a, Result<(), Cause>> {
        Box::pin(async move {
            let payload =
                serde_json::to_string(entry).map_err(|err| Cause::Invalid(err.to_string()))?;
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(&*self.channel)
                .bind(payload)
                .execute(conn)
                .await?;
            Ok(())
        })
    }

    fn committed(&self, _: &RevocationEntry) {}

    fn subscribe(&self) -> BoxFuture<'_, Result<ChangeStream, Cause>> {
        Box::pin(async move {
            let mut listener = PgListener::connect_with(&self.listeners).await?;
            // A lost connection ends the feed (a gap) instead of reconnecting silently.
            listener.eager_reconnect(false);
            listener.listen(&self.channel).await?;
            Ok(feed(listener))
        })
    }

    /// A `NOTIFY` of its own (its own transaction): PostgreSQL delivers notifications in
    /// the order their transactions committed.
    fn heartbeat<'a>(
        &'a self,
        pool: &'a PgPool,
        beat: &'a Heartbeat,
    ) -> BoxFuture<'a, Result<(), Cause>> {
        Box::pin(async move {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(&*self.channel)
                .bind(heartbeat_message(beat))
                .execute(pool)
                .await?;
            Ok(())
        })
    }
}

/// The notifications of `listener` as revocation entries and heartbeats, until the first
/// error or lost connection (each ends the feed: the store reloads).
fn feed(listener: PgListener) -> ChangeStream {
    futures::stream::unfold(Some(listener), |listener| async move {
        let mut listener = listener?;
        let cause = match listener.try_recv().await {
            Ok(Some(notification)) => match decode_change(notification.payload().as_bytes()) {
                Ok(change) => return Some((Ok(change), Some(listener))),
                Err(err) => Cause::Invalid(format!("undecodable notification: {err}")),
            },
            Ok(None) => Cause::Invalid("the listening connection was lost".into()),
            Err(err) => Cause::Database(err),
        };
        Some((Err(sql::feed_gap(Pg::NAME, cause)), None))
    })
    .boxed()
}

/// A [`RevocationBackend`] in PostgreSQL, shared by every instance of an application.
///
/// Session records and deny-list entries are rows of two tables (`<prefix>sessions` and
/// `<prefix>entries`, prefix `tower_jwt_auth_` unless
/// [set](PostgresBackendBuilder::with_prefix)), DPoP proofs of a third
/// (`<prefix>dpop_proofs`, its [`ReplayCache`](crate::dpop::ReplayCache) implementation), which
/// [`build`](PostgresBackendBuilder::build) creates if they do not exist, with an index on the forget-after time for purging and one
/// on the subject and start time for listing a subject's sessions (the columns
/// `last_refreshed_ms` and `label` are added to a sessions table made without them).
/// A refresh is one `UPDATE … WHERE sid = $1 AND NOT revoked AND (current_token = $2 OR
/// <a retry inside the grace window>)`: under READ COMMITTED the row's lock decides, and
/// the affected-row count names the one winner among concurrent refreshes on any instance.
/// A loser that presented a superseded token revokes the session (reuse), exactly as
/// [`MemoryBackend`](super::MemoryBackend) does. Refresh tokens are kept as 64 bits of their
/// SHA-256 digest, never in clear.
///
/// Every revocation is written together with a `NOTIFY` on the channel `<prefix>changes`, in
/// one transaction; [`subscribe`](RevocationBackend::subscribe) `LISTEN`s on a connection of
/// a small pool of its own (up to four, with the application pool's connect options), so
/// the feed never takes a connection from the application. A lost listening connection ends
/// the feed, and the [`RevocationStore`](super::RevocationStore) reloads the state once it
/// can subscribe again.
///
/// Clones are cheap and share the pool and the change feed.
///
/// # Failures
///
/// An operation the database fails returns its error (as the source of the backend's own).
/// The [`RevocationStore`](super::RevocationStore) bounds every call with its time limit
/// ([`with_backend_timeout`](super::RevocationStoreBuilder::with_backend_timeout)), reports
/// each failure once, fails the write closed (HTTP 503) and keeps verifying from its local
/// deny-list; its [`run`](super::RevocationStore::run) task reloads and follows the feed
/// again when the database is back. Neither the errors nor `Debug` carry a token or the
/// connect options.
///
/// Times are stored as `BIGINT`; one beyond `i64::MAX` (such as `u64::MAX` for "forever")
/// is stored as `i64::MAX`.
///
/// # Example
///
/// ```no_run
/// use std::sync::Arc;
/// use tower_jwt_auth::store::{PostgresBackend, RevocationStore};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let backend = PostgresBackend::builder("postgres://auth@db.internal/app").build().await?;
/// let store = RevocationStore::builder().with_backend(Arc::new(backend)).build()?;
/// tokio::spawn(store.clone().run());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct PostgresBackend {
    core: SqlCore<Pg>,
}

impl fmt::Debug for PostgresBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.core.describe("PostgresBackend", f)
    }
}

impl PostgresBackend {
    /// A builder for a backend on the database at `url`
    /// (`postgres://user:password@host:port/database`), in a pool of up to 10 connections,
    /// without TLS. A URL that does not parse is reported by
    /// [`build`](PostgresBackendBuilder::build).
    ///
    /// ```no_run
    /// use tower_jwt_auth::store::PostgresBackend;
    ///
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let backend = PostgresBackend::builder("postgres://auth@127.0.0.1:5432/app").build().await?;
    /// # let _ = backend;
    /// # Ok(())
    /// # }
    /// ```
    pub fn builder(url: &str) -> PostgresBackendBuilder {
        PostgresBackendBuilder::new(Source::Url(url.to_owned()))
    }

    /// A builder for a backend on the application's pool. Set the pool's `acquire_timeout`
    /// no longer than the store's backend time limit.
    ///
    /// ```no_run
    /// use tower_jwt_auth::store::PostgresBackend;
    ///
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = sqlx::PgPool::connect("postgres://auth@127.0.0.1:5432/app").await?;
    /// let backend = PostgresBackend::builder_with_pool(pool).build().await?;
    /// # let _ = backend;
    /// # Ok(())
    /// # }
    /// ```
    pub fn builder_with_pool(pool: PgPool) -> PostgresBackendBuilder {
        PostgresBackendBuilder::new(Source::Pool(pool))
    }

    /// The pool the backend uses.
    ///
    /// ```no_run
    /// use tower_jwt_auth::store::PostgresBackend;
    ///
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let backend = PostgresBackend::builder("postgres://auth@db/app").build().await?;
    /// backend.pool().close().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn pool(&self) -> &PgPool {
        self.core.pool()
    }
}

impl RevocationBackend for PostgresBackend {
    fn create_session<'a>(
        &'a self,
        session: &'a NewSession<'a>,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(self.core.create_session(session))
    }

    fn rotate<'a>(
        &'a self,
        rotation: &'a Rotation<'a>,
    ) -> BoxFuture<'a, Result<RotateOutcome, BoxError>> {
        Box::pin(self.core.rotate(rotation))
    }

    fn revoke<'a>(&'a self, entry: &'a RevocationEntry) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(self.core.revoke(entry))
    }

    fn load(&self, now: u64) -> BoxFuture<'_, Result<Vec<RevocationEntry>, BoxError>> {
        Box::pin(self.core.load(now))
    }

    fn subscribe(&self) -> BoxFuture<'_, Result<ChangeStream, BoxError>> {
        Box::pin(self.core.subscribe())
    }

    fn purge(&self, now: u64) -> BoxFuture<'_, Result<u64, BoxError>> {
        Box::pin(self.core.purge(now))
    }

    fn heartbeat<'a>(&'a self, beat: &'a Heartbeat) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(self.core.heartbeat(beat))
    }

    fn list_sessions<'a>(
        &'a self,
        sub: &'a str,
        now: u64,
    ) -> BoxFuture<'a, Result<Vec<LiveSession>, BoxError>> {
        Box::pin(self.core.list_sessions(sub, now))
    }

    fn replay_cache(&self) -> Option<Arc<dyn ReplayCache>> {
        Some(Arc::new(self.clone()))
    }
}

/// The DPoP replay cache in the table `<prefix>dpop_proofs`: one row per proof, its 32-byte
/// [`ReplayKey`] and the time (ms) after which it can no longer be presented. A proof is
/// recorded by one `INSERT … ON CONFLICT (key) DO UPDATE … WHERE expires_at <= now`: the
/// affected-row count says whether this call recorded it (a first use, or a record that
/// had expired), atomically for every instance on the database. [`purge`](RevocationBackend::purge)
/// deletes the expired rows. Each check is bounded by the builder's
/// [time limit](PostgresBackendBuilder::with_timeout); an error or a late answer refuses the proof.
///
/// [`RevocationStore::replay_cache`](super::RevocationStore::replay_cache) hands it out
/// for a store over this backend; it can also be given to a verifier directly:
///
/// ```no_run
/// use std::sync::Arc;
/// use tower_jwt_auth::{dpop::ProofVerifier, store::PostgresBackend};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let backend = PostgresBackend::builder("postgres://auth@db/app").build().await?;
/// let verifier = ProofVerifier::builder("https://api.example.com")
///     .with_replay_cache(Arc::new(backend.clone()))
///     .build()?;
/// # let _ = verifier;
/// # Ok(())
/// # }
/// ```
impl ReplayCache for PostgresBackend {
    fn first_use<'a>(
        &'a self,
        key: &'a ReplayKey,
        now_millis: u64,
        expires_at_millis: u64,
    ) -> BoxFuture<'a, Result<bool, BoxError>> {
        Box::pin(self.core.first_use(key, now_millis, expires_at_millis))
    }
}

/// Where a [`PostgresBackendBuilder`] gets its pool.
enum Source {
    Url(String),
    Pool(PgPool),
}

/// Builds a [`PostgresBackend`]: [`PostgresBackend::builder`] (or
/// [`builder_with_pool`](PostgresBackend::builder_with_pool)), settings, then
/// [`build`](Self::build). `Debug` never shows the URL.
///
/// ```no_run
/// use std::time::Duration;
/// use tower_jwt_auth::store::PostgresBackend;
///
/// # async fn demo() -> Result<(), tower_jwt_auth::store::BackendError> {
/// let backend = PostgresBackend::builder("postgres://auth@db/app")
///     .with_prefix("billing_auth_")
///     .with_timeout(Duration::from_secs(10))
///     .build()
///     .await?;
/// # let _ = backend;
/// # Ok(())
/// # }
/// ```
#[must_use]
pub struct PostgresBackendBuilder {
    source: Source,
    prefix: String,
    timeout: Duration,
    migrate: bool,
}

impl fmt::Debug for PostgresBackendBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match self.source {
            Source::Url(_) => "URL",
            Source::Pool(_) => "pool",
        };
        f.debug_struct("PostgresBackendBuilder")
            .field("source", &source)
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("migrate", &self.migrate)
            .finish()
    }
}

impl PostgresBackendBuilder {
    fn new(source: Source) -> Self {
        Self {
            source,
            prefix: sql::DEFAULT_PREFIX.to_owned(),
            timeout: BUILD_TIMEOUT,
            migrate: true,
        }
    }

    /// Names the tables `<prefix>sessions`, `<prefix>entries` and `<prefix>dpop_proofs` and the channel
    /// `<prefix>changes` (default prefix `tower_jwt_auth_`), so that several applications
    /// share one database. The prefix is 1 to 39 of `a-z`, `0-9` and `_`, not starting with
    /// a digit; [`build`](Self::build) refuses any other with [`BackendError::Config`].
    ///
    /// ```
    /// use tower_jwt_auth::store::{BackendError, PostgresBackend};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// let refused = PostgresBackend::builder("postgres://auth@db/app")
    ///     .with_prefix("auth; DROP TABLE users")
    ///     .build()
    ///     .await;
    /// assert!(matches!(refused, Err(BackendError::Config(_))));
    /// # });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The time limit of [`build`](Self::build) (default 5 s, at least 10 ms): connecting
    /// and creating the tables. It is also the pools' `acquire_timeout` when the backend
    /// opens them. Each operation is bounded by the store instead
    /// ([`with_backend_timeout`](super::RevocationStoreBuilder::with_backend_timeout)).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_jwt_auth::store::PostgresBackend;
    ///
    /// let builder = PostgresBackend::builder("postgres://auth@db/app").with_timeout(Duration::from_secs(10));
    /// # let _ = builder;
    /// ```
    pub fn with_timeout(mut self, limit: Duration) -> Self {
        self.timeout = limit;
        self
    }

    /// Leaves the schema alone: [`build`](Self::build) creates no table or index and only
    /// checks that the three tables (sessions, entries, DPoP proofs) can be read, so that the backend can be built with a role
    /// that may only `SELECT` them, for a
    /// [read-only](super::RevocationStoreBuilder::read_only) store following the tables that
    /// another instance made.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use tower_jwt_auth::store::{PostgresBackend, RevocationStore};
    ///
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let backend = PostgresBackend::builder("postgres://follower@db/app")
    ///     .without_migration()
    ///     .build()
    ///     .await?;
    /// let store = RevocationStore::builder().with_backend(Arc::new(backend)).read_only().build()?;
    /// # let _ = store;
    /// # Ok(())
    /// # }
    /// ```
    pub fn without_migration(mut self) -> Self {
        self.migrate = false;
        self
    }

    /// Checks the settings, connects, and creates the tables and indexes if they do not
    /// exist (in one transaction; instances starting at once take turns on an advisory
    /// lock). Fails with [`BackendError::Config`] for a refused setting,
    /// [`BackendError::Url`] for a URL that does not parse, [`BackendError::Connect`],
    /// [`BackendError::Schema`], or [`BackendError::Timeout`] past the time limit.
    ///
    /// ```no_run
    /// use tower_jwt_auth::store::PostgresBackend;
    ///
    /// # async fn demo() -> Result<(), tower_jwt_auth::store::BackendError> {
    /// let backend = PostgresBackend::builder("postgres://auth@db/app").build().await?;
    /// # let _ = backend;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn build(self) -> Result<PostgresBackend, BackendError> {
        let Self {
            source,
            prefix,
            timeout,
            migrate,
        } = self;
        let connect = async move {
            match source {
                Source::Pool(pool) => Ok(pool),
                Source::Url(url) => {
                    let options = PgConnectOptions::from_str(&url)
                        .map_err(|err| BackendError::Url(Box::new(err)))?;
                    PgPoolOptions::new()
                        .acquire_timeout(timeout)
                        .connect_with(options)
                        .await
                        .map_err(|err| BackendError::Connect(Box::new(err)))
                }
            }
        };
        let core = sql::build::<Pg>(connect, &prefix, timeout, migrate).await?;
        Ok(PostgresBackend { core })
    }
}
