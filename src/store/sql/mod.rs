//! What the PostgreSQL and SQLite backends share: the schema and statements
//! (`statements`), and the backend's operations over one sqlx pool (`core`).
//!
//! A backend is a [`SqlCore`] over a [`Dialect`]: the few things that differ between the
//! databases (the name of the two-value maximum, how a write is published on the change
//! feed, how the feed is followed).

mod core;
mod statements;

use std::time::Duration;

use sqlx::{Database, Pool};

pub(crate) use self::core::{SqlCore, build};
pub(crate) use statements::DEFAULT_PREFIX;

use super::{BoxError, BoxFuture, ChangeStream, Heartbeat, RevocationEntry, error::OperationError};

/// The differences between the databases.
pub(crate) trait Dialect: Clone + Send + Sync + 'static {
    /// The sqlx database.
    type Db: Database;
    /// The backend's name in errors.
    const NAME: &'static str;
    /// The SQL function that returns the larger of two values.
    const GREATEST: &'static str;
    /// The type of a column of bytes.
    const BYTES: &'static str;
    /// A statement that the migration runs first in its transaction, with the table prefix
    /// as `$1`, so that instances migrating at once wait for each other.
    const MIGRATION_LOCK: Option<&'static str>;
    /// A query that counts the columns named `$2` of the table named `$1` (0 or 1), so that
    /// the migration adds a column a table made by an earlier version lacks.
    const COLUMN_COUNT: &'static str;

    /// The dialect's state for the tables named by `prefix` on `pool` (its change feed);
    /// `timeout` bounds the connections it opens.
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

    /// A new change feed.
    fn subscribe(&self) -> BoxFuture<'_, Result<ChangeStream, Cause>>;

    /// Publishes `beat` on the change feed, behind every write committed before.
    fn heartbeat<'a>(
        &'a self,
        pool: &'a Pool<Self::Db>,
        beat: &'a Heartbeat,
    ) -> BoxFuture<'a, Result<(), Cause>>;
}

/// Why an operation failed, before the backend and operation are known.
#[derive(Debug)]
pub(crate) enum Cause {
    Database(sqlx::Error),
    Invalid(String),
}

impl From<sqlx::Error> for Cause {
    fn from(err: sqlx::Error) -> Self {
        Self::Database(err)
    }
}

impl Cause {
    /// The failure of `operation` on `backend`.
    pub(crate) fn during(self, backend: &'static str, operation: &'static str) -> OperationError {
        match self {
            Self::Database(source) => OperationError::failed(backend, operation)(source),
            Self::Invalid(what) => OperationError::Unexpected {
                backend,
                operation,
                what: what.into(),
            },
        }
    }

    /// The cause itself, as the source of a construction error.
    fn into_source(self) -> BoxError {
        match self {
            Self::Database(err) => Box::new(err),
            Self::Invalid(what) => what.into(),
        }
    }
}

/// The `Err` item that ends a change feed at a gap.
pub(crate) fn feed_gap(backend: &'static str, cause: Cause) -> BoxError {
    Box::new(cause.during(backend, "change feed"))
}
