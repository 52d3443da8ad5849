//! What the PostgreSQL and SQLite backends share: the schema, the statements, and the
//! backend's operations over one sqlx pool, with the conversions between the crate's values
//! and SQL integers, the operation timeout, errors and health events.
//!
//! A backend is a [`SqlCore`] over a [`Dialect`]: the few things that differ between the
//! databases (the name of the two-value maximum, how a write is published on the change
//! feed, how the feed is followed).

use std::{
    error::Error as StdError,
    fmt,
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use sqlx::{
    AssertSqlSafe, ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Type,
};

use super::{
    BoxError, BoxFuture, ChangeStream, NewSession, RevocationEntry, RevocationError, RotateOutcome,
    Rotation, record::refresh_token_id,
};
use crate::ConfigError;

/// The table prefix of a backend built without one.
pub(super) const DEFAULT_PREFIX: &str = "tower_jwt_auth_";
/// The longest table prefix: PostgreSQL cuts identifiers at 63 bytes, and the longest name
/// made from a prefix (an index name) adds 24.
const MAX_PREFIX_LEN: usize = 39;
/// How long one operation may take before it fails closed, unless configured otherwise.
pub(super) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The values of the `kind` column of the entries table, and of the session entries that
/// [`load`](SqlCore::load) makes from revoked session records.
const TOKEN: &str = "token";
const SUBJECT: &str = "subject";
const SESSION: &str = "session";

/// The differences between the databases.
pub(super) trait Dialect: Clone + Send + Sync + 'static {
    /// The sqlx database.
    type Db: Database;
    /// The backend's name in errors and events.
    const NAME: &'static str;
    /// The SQL function that returns the larger of two values.
    const GREATEST: &'static str;
    /// A statement that the migration runs first in its transaction, with the table prefix
    /// as `$1`, so that instances migrating at once wait for each other.
    const MIGRATION_LOCK: Option<&'static str>;

    /// The dialect's state for the tables named by `prefix` on `pool` (its change feed).
    fn open(pool: &Pool<Self::Db>, prefix: &str, timeout: Duration) -> Self;

    /// How many rows a statement changed.
    fn rows_affected(result: &<Self::Db as Database>::QueryResult) -> u64;

    /// Publishes `entry` on the change feed as part of the transaction `conn` is in, so that
    /// it is published if and only if the write commits.
    fn notify<'a>(
        &'a self,
        conn: &'a mut <Self::Db as Database>::Connection,
        entry: &'a RevocationEntry,
    ) -> BoxFuture<'a, Result<(), Cause>>;

    /// Called once a write that published `entry` has committed.
    fn committed(&self, entry: &RevocationEntry);

    /// A new change feed; `health` hears of a lost feed.
    fn subscribe(&self, health: Arc<Health>) -> BoxFuture<'_, Result<ChangeStream, Cause>>;
}

/// Checks a table prefix: lower-case ASCII letters, digits and `_`, not starting with a
/// digit, at most 39 bytes. Table, index and channel names are made from it, so it is never
/// quoted and never needs to be.
pub(super) fn check_prefix(prefix: &str) -> Result<(), ConfigError> {
    let mut bytes = prefix.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b == b'_');
    let rest_ok = bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if first_ok && rest_ok && prefix.len() <= MAX_PREFIX_LEN {
        Ok(())
    } else {
        Err(ConfigError::Name(
            "a table prefix is 1 to 39 of a-z, 0-9 and _, not starting with a digit",
        ))
    }
}

/// A time as SQL stores it. `BIGINT` is signed: a time past `i64::MAX` (hundreds of
/// billions of years away) is stored as `i64::MAX`, still later than any real time.
fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A time as the crate has it; the backend never writes a negative one.
fn uint(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// A refresh token's `jti` as the session record keeps it: the 64 bits of its SHA-256
/// digest that every backend keeps ([`refresh_token_id`]), as a `BIGINT`.
fn token(jti: &str) -> i64 {
    i64::from_le_bytes(refresh_token_id(jti).to_le_bytes())
}

/// The SQL of every operation, for one table prefix and dialect.
#[derive(Debug)]
struct Statements {
    migration: Vec<Arc<str>>,
    create: Arc<str>,
    rotate: Arc<str>,
    reuse: Arc<str>,
    revoked: Arc<str>,
    revoke_session: Arc<str>,
    revoke_entry: Arc<str>,
    load: Arc<str>,
    purge: [Arc<str>; 2],
}

impl Statements {
    fn new(p: &str, greatest: &str) -> Self {
        let sql = |text: String| Arc::<str>::from(text);
        Self {
            migration: vec![
                // One record per session. A revoked session keeps its record (or gets a
                // record of its own, a tombstone without tokens) with `revoked` set and a
                // forget-after time that covers the revocation: the row's lock then decides
                // between a rotation and a revocation.
                sql(format!(
                    "CREATE TABLE IF NOT EXISTS {p}sessions (\
                        sid TEXT PRIMARY KEY, \
                        sub TEXT, \
                        started_ms BIGINT, \
                        current_token BIGINT, \
                        previous_token BIGINT, \
                        superseded_ms BIGINT, \
                        revoked BOOLEAN NOT NULL DEFAULT FALSE, \
                        forget_after BIGINT NOT NULL)"
                )),
                sql(format!(
                    "CREATE INDEX IF NOT EXISTS {p}sessions_forget_after \
                     ON {p}sessions (forget_after)"
                )),
                sql(format!(
                    "CREATE INDEX IF NOT EXISTS {p}sessions_revoked \
                     ON {p}sessions (forget_after) WHERE revoked"
                )),
                // Revoked tokens (`kind` 'token', `id` the jti, `cutoff_ms` 0) and "log out
                // everywhere" cut-offs (`kind` 'subject', `id` the subject).
                sql(format!(
                    "CREATE TABLE IF NOT EXISTS {p}entries (\
                        kind TEXT NOT NULL, \
                        id TEXT NOT NULL, \
                        cutoff_ms BIGINT NOT NULL, \
                        forget_after BIGINT NOT NULL, \
                        PRIMARY KEY (kind, id))"
                )),
                sql(format!(
                    "CREATE INDEX IF NOT EXISTS {p}entries_forget_after \
                     ON {p}entries (forget_after)"
                )),
            ],
            create: sql(format!(
                "INSERT INTO {p}sessions (sid, sub, started_ms, current_token, forget_after) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sid) DO NOTHING"
            )),
            // $1 sid, $2 presented, $3 next, $4 now_ms, $5 grace_ms, $6 forget_after. The
            // presented token is the current one, or the previous one retried inside the
            // window (then the successor replaces the current token and the window stays).
            // Under READ COMMITTED a concurrent update makes PostgreSQL wait for the row
            // and check the condition again on the row as committed: one winner.
            rotate: sql(format!(
                "UPDATE {p}sessions SET \
                    previous_token = CASE WHEN current_token = $2 \
                        THEN current_token ELSE previous_token END, \
                    superseded_ms = CASE WHEN current_token = $2 \
                        THEN $4 ELSE superseded_ms END, \
                    current_token = $3, \
                    forget_after = {greatest}(forget_after, $6) \
                 WHERE sid = $1 AND NOT revoked AND (current_token = $2 OR (\
                    $5 > 0 AND superseded_ms IS NOT NULL AND previous_token = $2 \
                    AND $4 - superseded_ms <= $5))"
            )),
            reuse: sql(format!(
                "UPDATE {p}sessions SET revoked = TRUE WHERE sid = $1 AND NOT revoked \
                 RETURNING forget_after"
            )),
            revoked: sql(format!(
                "SELECT forget_after FROM {p}sessions WHERE sid = $1 AND revoked"
            )),
            revoke_session: sql(format!(
                "INSERT INTO {p}sessions (sid, revoked, forget_after) VALUES ($1, TRUE, $2) \
                 ON CONFLICT (sid) DO UPDATE SET revoked = TRUE, \
                    forget_after = {greatest}({p}sessions.forget_after, excluded.forget_after)"
            )),
            revoke_entry: sql(format!(
                "INSERT INTO {p}entries (kind, id, cutoff_ms, forget_after) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (kind, id) DO UPDATE SET \
                    cutoff_ms = {greatest}({p}entries.cutoff_ms, excluded.cutoff_ms), \
                    forget_after = {greatest}({p}entries.forget_after, excluded.forget_after)"
            )),
            load: sql(format!(
                "SELECT kind, id, cutoff_ms, forget_after FROM {p}entries \
                 WHERE forget_after >= $1 \
                 UNION ALL \
                 SELECT '{SESSION}', sid, 0, forget_after FROM {p}sessions \
                 WHERE revoked AND forget_after >= $1"
            )),
            purge: [
                sql(format!("DELETE FROM {p}sessions WHERE forget_after < $1")),
                sql(format!("DELETE FROM {p}entries WHERE forget_after < $1")),
            ],
        }
    }
}

/// Why an operation failed, before the backend and operation are known.
#[derive(Debug)]
pub(super) enum Cause {
    Database(sqlx::Error),
    Timeout(Duration),
    Invalid(String),
}

impl From<sqlx::Error> for Cause {
    fn from(err: sqlx::Error) -> Self {
        Self::Database(err)
    }
}

/// An operation of a SQL backend failed.
#[derive(Debug)]
struct Failure {
    backend: &'static str,
    operation: &'static str,
    cause: Cause,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            backend,
            operation,
            cause,
        } = self;
        match cause {
            Cause::Database(_) => write!(f, "{backend} revocation backend: {operation} failed"),
            Cause::Timeout(after) => write!(
                f,
                "{backend} revocation backend: {operation} timed out after {after:?}"
            ),
            Cause::Invalid(what) => write!(f, "{backend} revocation backend: {operation}: {what}"),
        }
    }
}

impl StdError for Failure {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match &self.cause {
            Cause::Database(err) => Some(err),
            Cause::Timeout(_) | Cause::Invalid(_) => None,
        }
    }
}

/// A [`RevocationError`] for a failed set-up step (connecting, migrating).
pub(super) fn setup_error(
    backend: &'static str,
    operation: &'static str,
    cause: Cause,
) -> RevocationError {
    RevocationError::Backend(Box::new(Failure {
        backend,
        operation,
        cause,
    }))
}

/// The `Err` item that ends a change feed at a gap.
pub(super) fn feed_gap(backend: &'static str, cause: Cause) -> BoxError {
    Box::new(Failure {
        backend,
        operation: "change feed",
        cause,
    })
}

/// The pool `connecting` opens, or the failure to open it, for the backend `name`.
pub(super) async fn connected<P, E>(
    name: &'static str,
    connecting: impl Future<Output = Result<P, E>>,
) -> Result<P, RevocationError>
where
    E: Into<Cause>,
{
    connecting
        .await
        .map_err(|err| setup_error(name, "connect", err.into()))
}

/// An error with its sources, for an event.
fn chain(err: &dyn StdError) -> String {
    crate::redact::error_chain(err)
}

/// Whether the backend is failing, so that the failure and the recovery are each one event
/// at `warn` and `info` (repeated failures are `debug`).
#[derive(Debug, Default)]
pub(super) struct Health {
    failing: AtomicBool,
}

impl Health {
    pub(super) fn failed(
        &self,
        backend: &'static str,
        operation: &'static str,
        err: &dyn StdError,
    ) {
        let error = chain(err);
        if self.failing.swap(true, Ordering::AcqRel) {
            tracing::debug!(backend, operation, %error, "revocation backend still failing");
        } else {
            tracing::warn!(
                backend,
                operation,
                %error,
                "revocation backend failed: writes fail closed, verification serves the local state"
            );
        }
    }

    /// A change feed fell `skipped` changes behind and ends with a gap.
    #[cfg(feature = "sqlite")]
    pub(super) fn fell_behind(&self, backend: &'static str, skipped: u64) {
        tracing::warn!(
            backend,
            skipped,
            "revocation change feed fell behind: the store reloads the state"
        );
    }

    fn succeeded(&self, backend: &'static str, operation: &'static str) {
        if self.failing.load(Ordering::Acquire) && self.failing.swap(false, Ordering::AcqRel) {
            tracing::info!(backend, operation, "revocation backend recovered");
        }
    }
}

/// A SQL backend: a pool, the statements for its tables, and its dialect. Clones share the
/// pool, the feed and the health.
pub(super) struct SqlCore<D: Dialect> {
    pool: Pool<D::Db>,
    dialect: D,
    prefix: Arc<str>,
    sql: Arc<Statements>,
    timeout: Duration,
    health: Arc<Health>,
}

impl<D: Dialect> Clone for SqlCore<D> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            dialect: self.dialect.clone(),
            prefix: self.prefix.clone(),
            sql: self.sql.clone(),
            timeout: self.timeout,
            health: self.health.clone(),
        }
    }
}

impl<D: Dialect> SqlCore<D> {
    /// The backend's `Debug` output, as `name`. Never the pool's connect options: they hold
    /// the credentials.
    pub(super) fn describe(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(name)
            .field("table_prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("connections", &self.pool.size())
            .field("idle", &self.pool.num_idle())
            .field("failing", &self.health.failing.load(Ordering::Relaxed))
            .finish()
    }

    /// A backend on `pool` with the default table prefix.
    pub(super) fn new(pool: Pool<D::Db>) -> Self {
        Self::with(pool, DEFAULT_PREFIX, DEFAULT_TIMEOUT)
    }

    fn with(pool: Pool<D::Db>, prefix: &str, timeout: Duration) -> Self {
        Self {
            dialect: D::open(&pool, prefix, timeout),
            sql: Arc::new(Statements::new(prefix, D::GREATEST)),
            prefix: prefix.into(),
            pool,
            timeout,
            health: Arc::default(),
        }
    }

    /// The same pool with the tables named by `prefix`.
    pub(super) fn with_prefix(&self, prefix: &str) -> Result<Self, ConfigError> {
        check_prefix(prefix)?;
        Ok(Self::with(self.pool.clone(), prefix, self.timeout))
    }

    /// The same pool and tables with operations bounded by `timeout`.
    pub(super) fn with_timeout(&self, timeout: Duration) -> Self {
        Self::with(self.pool.clone(), &self.prefix, timeout)
    }

    pub(super) fn pool(&self) -> &Pool<D::Db> {
        &self.pool
    }

    /// Runs one operation under the timeout, and reports its failure or the recovery.
    async fn guarded<T>(
        &self,
        operation: &'static str,
        work: impl Future<Output = Result<T, Cause>>,
    ) -> Result<T, BoxError> {
        let result = tokio::time::timeout(self.timeout, work)
            .await
            .unwrap_or(Err(Cause::Timeout(self.timeout)));
        match result {
            Ok(value) => {
                self.health.succeeded(D::NAME, operation);
                Ok(value)
            }
            Err(cause) => {
                let failure = Failure {
                    backend: D::NAME,
                    operation,
                    cause,
                };
                self.health.failed(D::NAME, operation, &failure);
                Err(Box::new(failure))
            }
        }
    }

    pub(super) async fn subscribe(&self) -> Result<ChangeStream, BoxError> {
        self.guarded("subscribe", self.dialect.subscribe(self.health.clone()))
            .await
    }
}

impl<D: Dialect> SqlCore<D>
where
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
    for<'c> &'c Pool<D::Db>: Executor<'c, Database = D::Db>,
    <D::Db as Database>::Arguments: IntoArguments<D::Db>,
    i64: Type<D::Db> + for<'q> Encode<'q, D::Db> + for<'r> Decode<'r, D::Db>,
    String: Type<D::Db> + for<'r> Decode<'r, D::Db>,
    for<'a> &'a str: Type<D::Db> + Encode<'a, D::Db>,
    usize: ColumnIndex<<D::Db as Database>::Row>,
{
    /// Creates the tables and indexes if they do not exist, in one transaction.
    pub(super) async fn migrate(&self) -> Result<(), RevocationError> {
        self.guarded("migrate", async {
            let mut tx = self.pool.begin().await?;
            if let Some(lock) = D::MIGRATION_LOCK {
                sqlx::query(lock)
                    .bind(&*self.prefix)
                    .execute(&mut *tx)
                    .await?;
            }
            for statement in &self.sql.migration {
                sqlx::query(AssertSqlSafe(statement.clone()))
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        })
        .await
        .map_err(RevocationError::Backend)
    }

    pub(super) async fn create_session(&self, session: &NewSession<'_>) -> Result<(), BoxError> {
        self.guarded("create_session", async {
            sqlx::query(AssertSqlSafe(self.sql.create.clone()))
                .bind(session.sid)
                .bind(session.sub)
                .bind(int(session.started_ms))
                .bind(token(session.refresh_jti))
                .bind(int(session.forget_after))
                .execute(&self.pool)
                .await?;
            Ok(())
        })
        .await
    }

    /// The compare-and-swap decides the one winner; a loser that presented a token of a
    /// live session is reuse, which revokes the session (one presented token never becomes
    /// valid again, so the two steps need not be one).
    pub(super) async fn rotate(&self, rotation: &Rotation<'_>) -> Result<RotateOutcome, BoxError> {
        self.guarded("rotate", async {
            let swapped = sqlx::query(AssertSqlSafe(self.sql.rotate.clone()))
                .bind(rotation.sid)
                .bind(token(rotation.presented_jti))
                .bind(token(rotation.next_jti))
                .bind(int(rotation.now_ms))
                .bind(int(rotation.grace_ms))
                .bind(int(rotation.forget_after))
                .execute(&self.pool)
                .await?;
            if D::rows_affected(&swapped) > 0 {
                return Ok(RotateOutcome::Rotated);
            }
            let mut tx = self.pool.begin().await?;
            let reused: Option<i64> = sqlx::query_scalar(AssertSqlSafe(self.sql.reuse.clone()))
                .bind(rotation.sid)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(forget_after) = reused.map(uint) {
                let entry = RevocationEntry::Session {
                    sid: rotation.sid.to_owned(),
                    expires_at: forget_after,
                };
                self.dialect.notify(&mut *tx, &entry).await?;
                tx.commit().await?;
                self.dialect.committed(&entry);
                return Ok(RotateOutcome::Reused { forget_after });
            }
            tx.rollback().await?;
            let revoked: Option<i64> = sqlx::query_scalar(AssertSqlSafe(self.sql.revoked.clone()))
                .bind(rotation.sid)
                .fetch_optional(&self.pool)
                .await?;
            Ok(
                revoked.map_or(RotateOutcome::Unknown, |at| RotateOutcome::Revoked {
                    forget_after: uint(at),
                }),
            )
        })
        .await
    }

    pub(super) async fn revoke(&self, entry: &RevocationEntry) -> Result<(), BoxError> {
        self.guarded("revoke", async {
            let query = match entry {
                RevocationEntry::Session { sid, expires_at } => {
                    sqlx::query(AssertSqlSafe(self.sql.revoke_session.clone()))
                        .bind(sid.as_str())
                        .bind(int(*expires_at))
                }
                RevocationEntry::Token { jti, expires_at } => {
                    sqlx::query(AssertSqlSafe(self.sql.revoke_entry.clone()))
                        .bind(TOKEN)
                        .bind(jti.as_str())
                        .bind(0_i64)
                        .bind(int(*expires_at))
                }
                RevocationEntry::Subject {
                    sub,
                    cutoff_ms,
                    expires_at,
                } => sqlx::query(AssertSqlSafe(self.sql.revoke_entry.clone()))
                    .bind(SUBJECT)
                    .bind(sub.as_str())
                    .bind(int(*cutoff_ms))
                    .bind(int(*expires_at)),
            };
            let mut tx = self.pool.begin().await?;
            query.execute(&mut *tx).await?;
            self.dialect.notify(&mut *tx, entry).await?;
            tx.commit().await?;
            self.dialect.committed(entry);
            Ok(())
        })
        .await
    }

    pub(super) async fn load(&self, now: u64) -> Result<Vec<RevocationEntry>, BoxError> {
        self.guarded("load", async {
            let rows: Vec<(String, String, i64, i64)> =
                sqlx::query_as(AssertSqlSafe(self.sql.load.clone()))
                    .bind(int(now))
                    .fetch_all(&self.pool)
                    .await?;
            rows.into_iter()
                .map(|(kind, id, cutoff_ms, forget_after)| {
                    let expires_at = uint(forget_after);
                    match kind.as_str() {
                        TOKEN => Ok(RevocationEntry::Token {
                            jti: id,
                            expires_at,
                        }),
                        SESSION => Ok(RevocationEntry::Session {
                            sid: id,
                            expires_at,
                        }),
                        SUBJECT => Ok(RevocationEntry::Subject {
                            sub: id,
                            cutoff_ms: uint(cutoff_ms),
                            expires_at,
                        }),
                        // Fail closed: a row the backend cannot read may be a revocation.
                        _ => Err(Cause::Invalid(format!("unknown entry kind {kind:?}"))),
                    }
                })
                .collect()
        })
        .await
    }

    pub(super) async fn purge(&self, now: u64) -> Result<u64, BoxError> {
        self.guarded("purge", async {
            let mut purged = 0;
            for statement in &self.sql.purge {
                let result = sqlx::query(AssertSqlSafe(statement.clone()))
                    .bind(int(now))
                    .execute(&self.pool)
                    .await?;
                purged += D::rows_affected(&result);
            }
            Ok(purged)
        })
        .await
    }
}

/// Implements the shared methods, `Debug` and [`RevocationBackend`](super::RevocationBackend)
/// for a backend type whose `core` field is a [`SqlCore`] over a `$pool`; `$connect` opens
/// one in the doctests.
macro_rules! backend_via_core {
    ($backend:ident, $pool:ty, $connect:literal) => {
        impl $backend {
            /// A backend on the application's pool. Set the pool's `acquire_timeout` no
            /// longer than the backend's [timeout](Self::with_timeout) (and open a SQLite
            /// database in WAL mode with a busy timeout, as `connect` does).
            ///
            /// ```no_run
            #[doc = concat!("use tower_jwt_auth::store::", stringify!($backend), ";")]
            ///
            /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
            #[doc = concat!("let pool = ", $connect, ".await?.pool().clone();")]
            #[doc = concat!("let backend = ", stringify!($backend), "::from_pool(pool);")]
            /// # let _ = backend;
            /// # Ok(())
            /// # }
            /// ```
            pub fn from_pool(pool: $pool) -> Self {
                Self {
                    core: SqlCore::new(pool),
                }
            }

            /// Names the tables `<prefix>sessions` and `<prefix>entries` (and, on
            /// PostgreSQL, the channel `<prefix>changes`), so that several applications share
            /// one database. The prefix is 1 to 39 of `a-z`, `0-9` and `_`, not starting with
            /// a digit.
            ///
            /// ```no_run
            /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
            #[doc = concat!("use tower_jwt_auth::store::", stringify!($backend), ";")]
            ///
            #[doc = concat!("let backend = ", $connect, ".await?.with_table_prefix(\"billing_auth_\")?;")]
            /// assert!(backend.clone().with_table_prefix("auth; DROP TABLE users").is_err());
            /// backend.migrate().await?;
            /// # Ok(())
            /// # }
            /// ```
            pub fn with_table_prefix(self, prefix: &str) -> Result<Self, $crate::ConfigError> {
                Ok(Self {
                    core: self.core.with_prefix(prefix)?,
                })
            }

            /// How long one operation may take before it fails closed (default 5 s).
            ///
            /// ```no_run
            /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
            #[doc = concat!("use tower_jwt_auth::store::", stringify!($backend), ";")]
            ///
            #[doc = concat!("let backend = ", $connect, ".await?.with_timeout(std::time::Duration::from_secs(2));")]
            /// # let _ = backend;
            /// # Ok(())
            /// # }
            /// ```
            pub fn with_timeout(self, timeout: ::std::time::Duration) -> Self {
                Self {
                    core: self.core.with_timeout(timeout),
                }
            }

            /// Creates the tables and indexes if they do not exist: run it at start, before
            /// the store loads. Idempotent, in one transaction; on PostgreSQL safe when
            /// several instances start at once (they take turns on an advisory lock).
            ///
            /// ```no_run
            /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
            #[doc = concat!("use tower_jwt_auth::store::", stringify!($backend), ";")]
            ///
            #[doc = concat!("let backend = ", $connect, ".await?;")]
            /// backend.migrate().await?;
            /// # Ok(())
            /// # }
            /// ```
            pub async fn migrate(&self) -> Result<(), $crate::store::RevocationError> {
                self.core.migrate().await
            }

            /// The pool the backend uses.
            ///
            /// ```no_run
            /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
            #[doc = concat!("use tower_jwt_auth::store::", stringify!($backend), ";")]
            ///
            #[doc = concat!("let backend = ", $connect, ".await?;")]
            /// backend.pool().close().await;
            /// # Ok(())
            /// # }
            /// ```
            pub fn pool(&self) -> &$pool {
                self.core.pool()
            }
        }

        impl ::std::fmt::Debug for $backend {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                self.core.describe(stringify!($backend), f)
            }
        }

        impl $crate::store::RevocationBackend for $backend {
            fn create_session<'a>(
                &'a self,
                session: &'a $crate::store::NewSession<'a>,
            ) -> $crate::store::BoxFuture<'a, Result<(), $crate::store::BoxError>> {
                Box::pin(self.core.create_session(session))
            }

            fn rotate<'a>(
                &'a self,
                rotation: &'a $crate::store::Rotation<'a>,
            ) -> $crate::store::BoxFuture<
                'a,
                Result<$crate::store::RotateOutcome, $crate::store::BoxError>,
            > {
                Box::pin(self.core.rotate(rotation))
            }

            fn revoke<'a>(
                &'a self,
                entry: &'a $crate::store::RevocationEntry,
            ) -> $crate::store::BoxFuture<'a, Result<(), $crate::store::BoxError>> {
                Box::pin(self.core.revoke(entry))
            }

            fn load(
                &self,
                now: u64,
            ) -> $crate::store::BoxFuture<
                '_,
                Result<Vec<$crate::store::RevocationEntry>, $crate::store::BoxError>,
            > {
                Box::pin(self.core.load(now))
            }

            fn subscribe(
                &self,
            ) -> $crate::store::BoxFuture<
                '_,
                Result<$crate::store::ChangeStream, $crate::store::BoxError>,
            > {
                Box::pin(self.core.subscribe())
            }

            fn purge(
                &self,
                now: u64,
            ) -> $crate::store::BoxFuture<'_, Result<u64, $crate::store::BoxError>> {
                Box::pin(self.core.purge(now))
            }
        }
    };
}

pub(super) use backend_via_core;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_plain_lower_case_identifiers() {
        for good in ["a", "_", "app_1_", DEFAULT_PREFIX, &"x".repeat(39)] {
            assert!(check_prefix(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "1a",
            "A",
            "a-b",
            "a b",
            "a;drop",
            "é",
            "a\"",
            &"x".repeat(40),
        ] {
            assert!(check_prefix(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn times_past_the_sql_range_stay_later_than_any_real_time() {
        assert_eq!(int(u64::MAX), i64::MAX);
        assert_eq!(int(4_000_000_000), 4_000_000_000);
        assert_eq!(uint(-1), 0);
        assert_eq!(uint(i64::MAX), i64::MAX as u64);
    }

    #[test]
    fn tokens_are_kept_as_memory_backend_keeps_them() {
        assert_eq!(
            token("a").to_le_bytes(),
            refresh_token_id("a").to_le_bytes()
        );
        assert_ne!(token("a"), token("b"));
    }

    #[test]
    fn a_failure_names_the_backend_and_operation_and_keeps_the_cause() {
        let failure = Failure {
            backend: "postgres",
            operation: "rotate",
            cause: Cause::Database(sqlx::Error::PoolTimedOut),
        };
        assert_eq!(
            failure.to_string(),
            "postgres revocation backend: rotate failed"
        );
        assert!(chain(&failure).starts_with("postgres revocation backend: rotate failed: "));
        let timeout = Failure {
            backend: "sqlite",
            operation: "revoke",
            cause: Cause::Timeout(Duration::from_secs(5)),
        };
        assert_eq!(
            timeout.to_string(),
            "sqlite revocation backend: revoke timed out after 5s"
        );
    }
}
