//! [`SqliteBackend`]: the revocation state in one SQLite file, for one node.

use std::{
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
    BoxFuture, ChangeStream, RevocationEntry, RevocationError,
    sql::{self, Cause, Dialect, Health, SqlCore},
};

/// How many changes a feed may fall behind before it has a gap (the store then reloads).
const FEED_CAPACITY: usize = 1024;

type Feed = broadcast::Sender<RevocationEntry>;

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
    const MIGRATION_LOCK: Option<&'static str> = None;

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
        let _ = self.feed.send(entry.clone());
    }

    fn subscribe(&self, health: Arc<Health>) -> BoxFuture<'_, Result<ChangeStream, Cause>> {
        let changes = self.feed.subscribe();
        Box::pin(async move { Ok(feed(changes, health)) })
    }
}

/// The entries of `changes`, until it falls behind (a gap: the store reloads).
fn feed(changes: broadcast::Receiver<RevocationEntry>, health: Arc<Health>) -> ChangeStream {
    futures::stream::unfold(Some(changes), move |changes| {
        let health = health.clone();
        async move {
            let mut changes = changes?;
            match changes.recv().await {
                Ok(entry) => Some((Ok(entry), Some(changes))),
                Err(RecvError::Lagged(skipped)) => {
                    health.fell_behind(Lite::NAME, skipped);
                    let cause = Cause::Invalid(format!("the feed fell {skipped} changes behind"));
                    Some((Err(sql::feed_gap(Lite::NAME, cause)), None))
                }
                Err(RecvError::Closed) => None,
            }
        }
    })
    .boxed()
}

/// A [`RevocationBackend`](super::RevocationBackend) in one SQLite file, for an application
/// that runs as one process.
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
/// As for PostgreSQL: every operation fails closed after the timeout (5 s unless
/// [set](Self::with_timeout)), the first failure and the recovery are `warn` and `info`
/// events, and a feed that falls more than 1024 changes behind ends with a `warn` event,
/// after which the store reloads.
///
/// # Example
///
/// ```no_run
/// use std::sync::Arc;
/// use tower_jwt_auth::store::{RevocationStore, SqliteBackend};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let backend = SqliteBackend::connect("/var/lib/app/revocation.db").await?;
/// backend.migrate().await?;
/// let store = RevocationStore::builder().with_backend(Arc::new(backend)).build()?;
/// tokio::spawn(store.clone().run());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct SqliteBackend {
    core: SqlCore<Lite>,
}

sql::backend_via_core!(
    SqliteBackend,
    SqlitePool,
    r#"SqliteBackend::connect("app.db")"#
);

impl SqliteBackend {
    /// Opens (and creates if needed) the database file at `path` in WAL mode, with a busy
    /// timeout of 5 s and `synchronous = FULL` (a revocation survives a power loss), in a
    /// pool of up to 10 connections.
    ///
    /// ```
    /// use tower_jwt_auth::store::SqliteBackend;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// let path = std::env::temp_dir().join(format!("tower-jwt-auth-doc-{}.db", std::process::id()));
    /// let backend = SqliteBackend::connect(&path).await?;
    /// backend.migrate().await?;
    /// # backend.pool().close().await;
    /// # for suffix in ["", "-wal", "-shm"] {
    /// #     let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn connect(path: impl AsRef<Path>) -> Result<Self, RevocationError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(sql::DEFAULT_TIMEOUT);
        let pool = SqlitePoolOptions::new().acquire_timeout(sql::DEFAULT_TIMEOUT);
        sql::connected(Lite::NAME, pool.connect_with(options))
            .await
            .map(Self::from_pool)
    }
}
