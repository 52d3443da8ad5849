//! [`PostgresBackend`]: the revocation state in PostgreSQL, with LISTEN/NOTIFY as the change
//! feed.

use std::{sync::Arc, time::Duration};

use futures::StreamExt;
use sqlx::postgres::{PgConnection, PgListener, PgPool, PgPoolOptions, PgQueryResult, Postgres};

use super::{
    BoxFuture, ChangeStream, RevocationEntry, RevocationError,
    sql::{self, Cause, Dialect, Health, SqlCore},
};

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
    const MIGRATION_LOCK: Option<&'static str> =
        Some("SELECT pg_advisory_xact_lock(hashtext('tower-jwt-auth ' || $1))");

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

    fn subscribe(&self, health: Arc<Health>) -> BoxFuture<'_, Result<ChangeStream, Cause>> {
        Box::pin(async move {
            let mut listener = PgListener::connect_with(&self.listeners).await?;
            // A lost connection ends the feed (a gap) instead of reconnecting silently.
            listener.eager_reconnect(false);
            listener.listen(&self.channel).await?;
            Ok(feed(listener, health))
        })
    }
}

/// The notifications of `listener` as revocation entries, until the first error or lost
/// connection (each ends the feed: the store reloads).
fn feed(listener: PgListener, health: Arc<Health>) -> ChangeStream {
    futures::stream::unfold(Some(listener), move |listener| {
        let health = health.clone();
        async move {
            let mut listener = listener?;
            let cause = match listener.try_recv().await {
                Ok(Some(notification)) => match serde_json::from_str(notification.payload()) {
                    Ok(entry) => return Some((Ok(entry), Some(listener))),
                    Err(err) => Cause::Invalid(format!("undecodable notification: {err}")),
                },
                Ok(None) => Cause::Invalid("the listening connection was lost".into()),
                Err(err) => Cause::Database(err),
            };
            let gap = sql::feed_gap(Pg::NAME, cause);
            health.failed(Pg::NAME, "change feed", &*gap);
            Some((Err(gap), None))
        }
    })
    .boxed()
}

/// A [`RevocationBackend`](super::RevocationBackend) in PostgreSQL, shared by every instance
/// of an application.
///
/// Session records and deny-list entries are rows of two tables (`<prefix>sessions` and
/// `<prefix>entries`, prefix `tower_jwt_auth_` unless [set](Self::with_table_prefix)) that
/// [`migrate`](Self::migrate) creates, with an index on the forget-after time for purging.
/// A refresh is one `UPDATE … WHERE sid = $1 AND NOT revoked AND (current_token = $2 OR
/// <a retry inside the grace window>)`: under READ COMMITTED the row's lock decides, and
/// the affected-row count names the one winner among concurrent refreshes on any instance.
/// A loser that presented a superseded token revokes the session (reuse), exactly as
/// [`MemoryBackend`](super::MemoryBackend) does. Refresh tokens are kept as 64 bits of their
/// SHA-256 digest, never in clear.
///
/// Every revocation is written together with a `NOTIFY` on the channel `<prefix>changes`, in
/// one transaction; [`subscribe`](super::RevocationBackend::subscribe) `LISTEN`s on a
/// connection of a small pool of its own (up to four, with the application pool's connect
/// options), so the feed never takes a connection from the application. A lost listening
/// connection ends the feed, and the [`RevocationStore`](super::RevocationStore) reloads the
/// state once it can subscribe again.
///
/// Clones are cheap and share the pool and the change feed.
///
/// # Failures
///
/// Every operation fails when the database does not answer within the timeout (5 s unless
/// [set](Self::with_timeout)): the store then fails the write closed (HTTP 503), keeps
/// verifying from its local deny-list, and its [`run`](super::RevocationStore::run) task
/// reloads and follows the feed again when the database is back. The first failure is a
/// `warn` event and the recovery an `info` event (target `tower_jwt_auth::store::sql`,
/// field `backend = "postgres"`); neither carries a token or the connect options, and
/// neither does `Debug`.
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
/// let backend = PostgresBackend::connect("postgres://auth@db.internal/app").await?;
/// backend.migrate().await?;
/// let store = RevocationStore::builder().with_backend(Arc::new(backend)).build()?;
/// tokio::spawn(store.clone().run());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct PostgresBackend {
    core: SqlCore<Pg>,
}

sql::backend_via_core!(
    PostgresBackend,
    PgPool,
    r#"PostgresBackend::connect("postgres://auth@db/app")"#
);

impl PostgresBackend {
    /// Connects a pool of up to 10 connections to the database at `url`
    /// (`postgres://user:password@host:port/database`), without TLS, waiting at most the
    /// default timeout (5 s) for a connection.
    ///
    /// ```no_run
    /// use tower_jwt_auth::store::PostgresBackend;
    ///
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let backend = PostgresBackend::connect("postgres://auth@127.0.0.1:5432/app").await?;
    /// backend.migrate().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(url: &str) -> Result<Self, RevocationError> {
        let options = PgPoolOptions::new().acquire_timeout(sql::DEFAULT_TIMEOUT);
        sql::connected(Pg::NAME, options.connect(url))
            .await
            .map(Self::from_pool)
    }
}
