//! [`SqliteBackend`]: the revocation state in one SQLite file, for one node.

use std::{
    fmt,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, PoisonError, Weak},
    time::Duration,
};

use futures::StreamExt;
use sqlx::sqlite::{
    Sqlite, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool,
    SqlitePoolOptions, SqliteQueryResult,
};
use tokio::sync::broadcast::{self, error::RecvError};

use super::{
    BackendError, BoxError, BoxFuture, Change, ChangeStream, Heartbeat, LiveSession, NewSession,
    RevocationBackend, RevocationEntry, RotateOutcome, Rotation,
    error::BUILD_TIMEOUT,
    sql::{self, Cause, Dialect, SqlCore},
};
use crate::dpop::{ReplayCache, ReplayKey};

/// How long a connection waits for another's write lock before its statement fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How many changes a feed may fall behind before it has a gap (the store then reloads).
const FEED_CAPACITY: usize = 1024;

type Feed = broadcast::Sender<Change>;

/// The feed of the tables named by `prefix` in `file`, while a backend holds it.
struct SharedFeed {
    file: PathBuf,
    prefix: Box<str>,
    feed: Weak<Feed>,
}

/// The change feeds of this process, one per database file and table prefix, so that every
/// backend on one file (two pools, two stores) hears of every write made through any of them.
static FEEDS: Mutex<Vec<SharedFeed>> = Mutex::new(Vec::new());

/// The file a pool opens, as one name whichever path reached it; `None` for a database in
/// memory, which no other pool shares.
fn file_key(file: &Path) -> Option<PathBuf> {
    if file.as_os_str() == ":memory:" {
        return None;
    }
    if let Ok(path) = std::fs::canonicalize(file) {
        return Some(path);
    }
    // Not created yet (a lazy pool): the canonical directory and the name.
    let dir = file.parent().filter(|dir| !dir.as_os_str().is_empty());
    let dir = std::fs::canonicalize(dir.unwrap_or(Path::new("."))).ok()?;
    Some(dir.join(file.file_name()?))
}

/// The feed of the tables named by `prefix` in `file`: the one this process already has, or
/// a new one.
fn feed_of(file: Option<PathBuf>, prefix: &str) -> Arc<Feed> {
    let new = || Arc::new(broadcast::channel(FEED_CAPACITY).0);
    let Some(file) = file else {
        return new();
    };
    let mut feeds = FEEDS.lock().unwrap_or_else(PoisonError::into_inner);
    feeds.retain(|shared| shared.feed.strong_count() > 0);
    let existing = feeds
        .iter()
        .find(|shared| shared.file == file && *shared.prefix == *prefix)
        .and_then(|shared| shared.feed.upgrade());
    existing.unwrap_or_else(|| {
        let feed = new();
        feeds.push(SharedFeed {
            file,
            prefix: prefix.into(),
            feed: Arc::downgrade(&feed),
        });
        feed
    })
}

/// SQLite: `MAX`, no lock around the migration (SQLite serialises writers), and a change
/// feed in this process.
#[derive(Clone)]
struct Lite {
    feed: Arc<Feed>,
}

impl Dialect for Lite {
    type Db = Sqlite;
    const NAME: &'static str = "sqlite";
    const GREATEST: &'static str = "MAX";
    const BYTES: &'static str = "BLOB";
    const MIGRATION_LOCK: Option<&'static str> = None;
    const COLUMN_COUNT: &'static str = "SELECT COUNT(*) FROM pragma_table_info($1) WHERE name = $2";

    fn open(pool: &SqlitePool, prefix: &str, _: Duration) -> Self {
        let file = file_key(pool.connect_options().get_filename());
        Self {
            feed: feed_of(file, prefix),
        }
    }

    fn notify<'a>(
        &'a self,
        _: &'a mut SqliteConnection,
        _: &'a RevocationEntry,
    ) -> BoxFuture<'a, Result<(), Cause>> {
        Box::pin(async { Ok(()) })
    }

    fn rows_affected(result: &SqliteQueryResult) -> u64 {
        result.rows_affected()
    }

    fn committed(&self, entry: &RevocationEntry) {
        // An error only says that nobody follows the feed.
        let _ = self.feed.send(Change::Entry(entry.clone()));
    }

    fn subscribe(&self) -> BoxFuture<'_, Result<ChangeStream, Cause>> {
        let changes = self.feed.subscribe();
        Box::pin(async move { Ok(feed(changes)) })
    }

    /// On the in-process feed, whose channel orders every send.
    fn heartbeat<'a>(
        &'a self,
        _: &'a SqlitePool,
        beat: &'a Heartbeat,
    ) -> BoxFuture<'a, Result<(), Cause>> {
        Box::pin(async move {
            // An error only says that nobody follows the feed.
            let _ = self.feed.send(Change::Heartbeat(*beat));
            Ok(())
        })
    }
}

/// The changes of `changes`, until it falls behind (a gap: the store reloads).
fn feed(changes: broadcast::Receiver<Change>) -> ChangeStream {
    futures::stream::unfold(Some(changes), |changes| async move {
        let mut changes = changes?;
        match changes.recv().await {
            Ok(change) => Some((Ok(change), Some(changes))),
            Err(RecvError::Lagged(skipped)) => {
                let cause = Cause::Invalid(format!("the feed fell {skipped} changes behind"));
                Some((Err(sql::feed_gap(Lite::NAME, cause)), None))
            }
            Err(RecvError::Closed) => None,
        }
    })
    .boxed()
}

/// A [`RevocationBackend`] in one SQLite file, for an application that runs as one process.
///
/// The tables, statements and rotation rules are those of
/// [`PostgresBackend`](super::PostgresBackend) (see there): one `UPDATE` whose affected-row
/// count names the one winner of concurrent refreshes, reuse detection that revokes the
/// session, exactly [`MemoryBackend`](super::MemoryBackend)'s semantics. Unlike the
/// in-process backend, the state survives a restart: a restarted instance loads every
/// earlier revocation.
///
/// # One node
///
/// The change feed is in this process: it carries the writes made through every
/// `SqliteBackend` of this process on the same file and table prefix (two pools on one file
/// share it). Another process writing the same file is not on it; its revocations reach
/// this process's store only when the store reloads. Run one process per file, or use
/// PostgreSQL.
///
/// Clones are cheap and share the pool and the change feed.
///
/// # Failures
///
/// As for PostgreSQL: an operation returns the database's error, and the store bounds,
/// reports and fails it closed. A feed that falls more than 1024 changes behind ends with a
/// gap, after which the store reloads.
///
/// # Example
///
/// ```no_run
/// use std::sync::Arc;
/// use tower_jwt_auth::store::{RevocationStore, SqliteBackend};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let backend = SqliteBackend::builder("/var/lib/app/revocation.db").build().await?;
/// let store = RevocationStore::builder().with_backend(Arc::new(backend)).build()?;
/// tokio::spawn(store.clone().run());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct SqliteBackend {
    core: SqlCore<Lite>,
}

impl fmt::Debug for SqliteBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.core.describe("SqliteBackend", f)
    }
}

impl SqliteBackend {
    /// A builder for a backend on the database file at `path`, created if needed, opened in
    /// WAL mode with a busy timeout of 5 s and `synchronous = FULL` (a revocation survives a
    /// power loss), in a pool of up to 10 connections.
    ///
    /// ```
    /// use tower_jwt_auth::store::SqliteBackend;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// let path = std::env::temp_dir().join(format!("tower-jwt-auth-doc-{}.db", std::process::id()));
    /// let backend = SqliteBackend::builder(&path).build().await?;
    /// # backend.pool().close().await;
    /// # for suffix in ["", "-wal", "-shm"] {
    /// #     let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder(path: impl AsRef<Path>) -> SqliteBackendBuilder {
        SqliteBackendBuilder::new(Source::Path(path.as_ref().to_owned()))
    }

    /// A builder for a backend on the application's pool. Open the database in WAL mode
    /// with a busy timeout, as [`builder`](Self::builder) does, and set the pool's
    /// `acquire_timeout` no longer than the store's backend time limit.
    ///
    /// ```no_run
    /// use tower_jwt_auth::store::SqliteBackend;
    ///
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = sqlx::SqlitePool::connect("sqlite://app.db?mode=rwc").await?;
    /// let backend = SqliteBackend::builder_with_pool(pool).build().await?;
    /// # let _ = backend;
    /// # Ok(())
    /// # }
    /// ```
    pub fn builder_with_pool(pool: SqlitePool) -> SqliteBackendBuilder {
        SqliteBackendBuilder::new(Source::Pool(pool))
    }

    /// The pool the backend uses.
    ///
    /// ```no_run
    /// use tower_jwt_auth::store::SqliteBackend;
    ///
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let backend = SqliteBackend::builder("app.db").build().await?;
    /// backend.pool().close().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn pool(&self) -> &SqlitePool {
        self.core.pool()
    }
}

impl RevocationBackend for SqliteBackend {
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
/// had expired), atomically for every instance on the file. [`purge`](RevocationBackend::purge)
/// deletes the expired rows. Each check is bounded by the builder's
/// [time limit](SqliteBackendBuilder::with_timeout); an error or a late answer refuses the proof.
///
/// [`RevocationStore::replay_cache`](super::RevocationStore::replay_cache) hands it out
/// for a store over this backend; it can also be given to a verifier directly:
///
/// ```no_run
/// use std::sync::Arc;
/// use tower_jwt_auth::{dpop::ProofVerifier, store::SqliteBackend};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let backend = SqliteBackend::builder("/var/lib/app/revocation.db").build().await?;
/// let verifier = ProofVerifier::builder("https://api.example.com")
///     .with_replay_cache(Arc::new(backend.clone()))
///     .build()?;
/// # let _ = verifier;
/// # Ok(())
/// # }
/// ```
impl ReplayCache for SqliteBackend {
    fn first_use<'a>(
        &'a self,
        key: &'a ReplayKey,
        now_millis: u64,
        expires_at_millis: u64,
    ) -> BoxFuture<'a, Result<bool, BoxError>> {
        Box::pin(self.core.first_use(key, now_millis, expires_at_millis))
    }
}

/// Where a [`SqliteBackendBuilder`] gets its pool.
enum Source {
    Path(PathBuf),
    Pool(SqlitePool),
}

/// Builds a [`SqliteBackend`]: [`SqliteBackend::builder`] (or
/// [`builder_with_pool`](SqliteBackend::builder_with_pool)), settings, then
/// [`build`](Self::build).
///
/// ```no_run
/// use std::time::Duration;
/// use tower_jwt_auth::store::SqliteBackend;
///
/// # async fn demo() -> Result<(), tower_jwt_auth::store::BackendError> {
/// let backend = SqliteBackend::builder("app.db")
///     .with_prefix("billing_auth_")
///     .with_timeout(Duration::from_secs(10))
///     .build()
///     .await?;
/// # let _ = backend;
/// # Ok(())
/// # }
/// ```
#[must_use]
pub struct SqliteBackendBuilder {
    source: Source,
    prefix: String,
    timeout: Duration,
}

impl fmt::Debug for SqliteBackendBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = f.debug_struct("SqliteBackendBuilder");
        match &self.source {
            Source::Path(path) => shown.field("path", path),
            Source::Pool(_) => shown.field("path", &"(the application's pool)"),
        };
        shown
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl SqliteBackendBuilder {
    fn new(source: Source) -> Self {
        Self {
            source,
            prefix: sql::DEFAULT_PREFIX.to_owned(),
            timeout: BUILD_TIMEOUT,
        }
    }

    /// Names the tables `<prefix>sessions`, `<prefix>entries` and `<prefix>dpop_proofs` (default prefix
    /// `tower_jwt_auth_`), so that several applications share one file. The prefix is 1 to
    /// 39 of `a-z`, `0-9` and `_`, not starting with a digit; [`build`](Self::build)
    /// refuses any other with [`BackendError::Config`].
    ///
    /// ```
    /// use tower_jwt_auth::store::{BackendError, SqliteBackend};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// let refused = SqliteBackend::builder("app.db").with_prefix("Billing").build().await;
    /// assert!(matches!(refused, Err(BackendError::Config(_))));
    /// # });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The time limit of [`build`](Self::build) (default 5 s, at least 10 ms): opening the
    /// file and creating the tables. It is also the pool's `acquire_timeout` when the
    /// backend opens it. Each operation is bounded by the store instead
    /// ([`with_backend_timeout`](super::RevocationStoreBuilder::with_backend_timeout)).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_jwt_auth::store::SqliteBackend;
    ///
    /// let builder = SqliteBackend::builder("app.db").with_timeout(Duration::from_secs(10));
    /// # let _ = builder;
    /// ```
    pub fn with_timeout(mut self, limit: Duration) -> Self {
        self.timeout = limit;
        self
    }

    /// Checks the settings, opens the file, and creates the tables and indexes if they do
    /// not exist (in one transaction). Fails with [`BackendError::Config`] for a refused
    /// setting, [`BackendError::Connect`] when the file cannot be opened,
    /// [`BackendError::Schema`], or [`BackendError::Timeout`] past the time limit.
    ///
    /// ```no_run
    /// use tower_jwt_auth::store::SqliteBackend;
    ///
    /// # async fn demo() -> Result<(), tower_jwt_auth::store::BackendError> {
    /// let backend = SqliteBackend::builder("app.db").build().await?;
    /// # let _ = backend;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn build(self) -> Result<SqliteBackend, BackendError> {
        let Self {
            source,
            prefix,
            timeout,
        } = self;
        let connect = async move {
            match source {
                Source::Pool(pool) => Ok(pool),
                Source::Path(path) => {
                    let options = SqliteConnectOptions::new()
                        .filename(path)
                        .create_if_missing(true)
                        .journal_mode(SqliteJournalMode::Wal)
                        .busy_timeout(BUSY_TIMEOUT);
                    SqlitePoolOptions::new()
                        .acquire_timeout(timeout)
                        .connect_with(options)
                        .await
                        .map_err(|err| BackendError::Connect(Box::new(err)))
                }
            }
        };
        let core = sql::build::<Lite>(connect, &prefix, timeout, true).await?;
        Ok(SqliteBackend { core })
    }
}
