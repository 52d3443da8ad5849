//! [`SqlCore`]: the backend contract's operations over one sqlx pool, for a [`Dialect`];
//! and [`build`], what every SQL builder's `build` does.

use std::{fmt, future::Future, sync::Arc, time::Duration};

use sqlx::{
    AssertSqlSafe, ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Type,
};

use super::{
    Cause, Dialect,
    statements::{ACCESS, SESSION, SUBJECT, Statements, TOKEN, check_prefix, int, token, uint},
};
use crate::{
    dpop::ReplayKey,
    store::{
        BackendError, BoxError, ChangeStream, Heartbeat, LiveSession, NewSession, RevocationEntry,
        RotateOutcome, Rotation,
    },
};

/// A SQL backend: a pool, the statements for its tables, and its dialect. Clones share the
/// pool and the feed.
pub(crate) struct SqlCore<D: Dialect> {
    pool: Pool<D::Db>,
    dialect: D,
    prefix: Arc<str>,
    sql: Arc<Statements>,
    /// The builder's time limit, which also bounds each DPoP replay check.
    timeout: Duration,
}

impl<D: Dialect> Clone for SqlCore<D> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            dialect: self.dialect.clone(),
            prefix: self.prefix.clone(),
            sql: self.sql.clone(),
            timeout: self.timeout,
        }
    }
}

/// Checks the settings, opens the pool with `connect`, then creates the tables if needed
/// (`migrate`) or checks that they can be read (not `migrate`), all within `timeout`.
pub(crate) async fn build<D: Dialect>(
    connect: impl Future<Output = Result<Pool<D::Db>, BackendError>>,
    prefix: &str,
    timeout: Duration,
    migrate: bool,
) -> Result<SqlCore<D>, BackendError>
where
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
    for<'c> &'c Pool<D::Db>: Executor<'c, Database = D::Db>,
    <D::Db as Database>::Arguments: IntoArguments<D::Db>,
    i64: Type<D::Db> + for<'q> Encode<'q, D::Db> + for<'r> Decode<'r, D::Db>,
    String: Type<D::Db> + for<'r> Decode<'r, D::Db>,
    for<'a> &'a str: Type<D::Db> + Encode<'a, D::Db>,
    for<'a> &'a [u8]: Type<D::Db> + Encode<'a, D::Db>,
    usize: ColumnIndex<<D::Db as Database>::Row>,
{
    check_prefix(prefix).map_err(BackendError::Config)?;
    if timeout < Duration::from_millis(10) {
        return Err(BackendError::Config("the time limit is at least 10 ms"));
    }
    let ready = async {
        let pool = connect.await?;
        let core = SqlCore {
            dialect: D::open(&pool, prefix, timeout),
            sql: Arc::new(Statements::new(prefix, D::GREATEST, D::BYTES)),
            prefix: prefix.into(),
            pool,
            timeout,
        };
        let schema = if migrate {
            core.migrate().await
        } else {
            core.check_tables().await
        };
        schema.map_err(|cause| BackendError::Schema(cause.into_source()))?;
        Ok(core)
    };
    tokio::time::timeout(timeout, ready)
        .await
        .unwrap_or(Err(BackendError::Timeout { after: timeout }))
}

impl<D: Dialect> SqlCore<D> {
    /// The backend's `Debug` output, as `name`. Never the pool's connect options: they hold
    /// the credentials.
    pub(crate) fn describe(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(name)
            .field("table_prefix", &self.prefix)
            .field("connections", &self.pool.size())
            .field("idle", &self.pool.num_idle())
            .finish()
    }

    pub(crate) fn pool(&self) -> &Pool<D::Db> {
        &self.pool
    }

    /// Runs one operation, naming the backend and operation in its failure.
    async fn run<T>(
        &self,
        operation: &'static str,
        work: impl Future<Output = Result<T, Cause>>,
    ) -> Result<T, BoxError> {
        work.await
            .map_err(|cause| Box::new(cause.during(D::NAME, operation)) as BoxError)
    }

    pub(crate) async fn subscribe(&self) -> Result<ChangeStream, BoxError> {
        self.run("subscribe", self.dialect.subscribe()).await
    }

    pub(crate) async fn heartbeat(&self, beat: &Heartbeat) -> Result<(), BoxError> {
        self.run("heartbeat", self.dialect.heartbeat(&self.pool, beat))
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
    for<'a> &'a [u8]: Type<D::Db> + Encode<'a, D::Db>,
    usize: ColumnIndex<<D::Db as Database>::Row>,
{
    /// Creates the tables and indexes if they do not exist, in one transaction.
    async fn migrate(&self) -> Result<(), Cause> {
        {
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
            self.add_listing_columns(&mut tx).await?;
            tx.commit().await?;
            Ok(())
        }
    }

    /// Reads nothing from every table: fails when one is missing or cannot be read.
    async fn check_tables(&self) -> Result<(), Cause> {
        for table in ["sessions", "entries", "dpop_proofs"] {
            let prefix = &self.prefix;
            sqlx::query(AssertSqlSafe(format!(
                "SELECT 1 FROM {prefix}{table} WHERE 1 = 0"
            )))
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    /// Adds the columns of the session listing to a sessions table made without them, and
    /// their index, in the migration's transaction.
    async fn add_listing_columns(
        &self,
        tx: &mut sqlx::Transaction<'static, D::Db>,
    ) -> Result<(), Cause> {
        for (column, kind) in self.sql.listing_columns {
            let found: i64 = sqlx::query_scalar(D::COLUMN_COUNT)
                .bind(&*self.sql.sessions_table)
                .bind(column)
                .fetch_one(&mut **tx)
                .await?;
            if found == 0 {
                let table = &self.sql.sessions_table;
                sqlx::query(AssertSqlSafe(format!(
                    "ALTER TABLE {table} ADD COLUMN {column} {kind}"
                )))
                .execute(&mut **tx)
                .await?;
            }
        }
        sqlx::query(AssertSqlSafe(self.sql.listing_index.clone()))
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    pub(crate) async fn list_sessions(
        &self,
        sub: &str,
        now: u64,
    ) -> Result<Vec<LiveSession>, BoxError> {
        self.run("list_sessions", async {
            let rows: Vec<(String, i64, Option<i64>, Option<String>)> =
                sqlx::query_as(AssertSqlSafe(self.sql.list_sessions.clone()))
                    .bind(sub)
                    .bind(int(now))
                    .fetch_all(&self.pool)
                    .await?;
            let mut live: Vec<LiveSession> = rows
                .into_iter()
                .map(|(sid, started_ms, last_refreshed_ms, label)| {
                    LiveSession::new(sid, uint(started_ms))
                        .with_last_refreshed_ms(last_refreshed_ms.map(uint))
                        .with_label(label)
                })
                .collect();
            // Ordered here, by byte, whatever the database's collation.
            live.sort_by(|a, b| (a.started_ms, &a.sid).cmp(&(b.started_ms, &b.sid)));
            Ok(live)
        })
        .await
    }

    pub(crate) async fn create_session(&self, session: &NewSession<'_>) -> Result<(), BoxError> {
        self.run("create_session", async {
            sqlx::query(AssertSqlSafe(self.sql.create.clone()))
                .bind(session.sid)
                .bind(session.sub)
                .bind(int(session.started_ms))
                .bind(token(session.refresh_jti))
                .bind(int(session.forget_after))
                // No label is an empty one, stored as NULL.
                .bind(session.label.unwrap_or_default())
                .execute(&self.pool)
                .await?;
            Ok(())
        })
        .await
    }

    /// The compare-and-swap decides the one winner; a loser that presented a token of a
    /// live session is reuse, which revokes the session (one presented token never becomes
    /// valid again, so the two steps need not be one).
    pub(crate) async fn rotate(&self, rotation: &Rotation<'_>) -> Result<RotateOutcome, BoxError> {
        self.run("rotate", async {
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

    pub(crate) async fn revoke(&self, entry: &RevocationEntry) -> Result<(), BoxError> {
        self.run("revoke", async {
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
                RevocationEntry::Access {
                    sid,
                    seq,
                    expires_at,
                } => sqlx::query(AssertSqlSafe(self.sql.revoke_entry.clone()))
                    .bind(ACCESS)
                    .bind(sid.as_str())
                    .bind(int(*seq))
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

    pub(crate) async fn load(&self, now: u64) -> Result<Vec<RevocationEntry>, BoxError> {
        self.run("load", async {
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
                        ACCESS => Ok(RevocationEntry::Access {
                            sid: id,
                            seq: uint(cutoff_ms),
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

    pub(crate) async fn purge(&self, now: u64) -> Result<u64, BoxError> {
        self.run("purge", async {
            let mut purged = 0;
            for statement in &self.sql.purge {
                let result = sqlx::query(AssertSqlSafe(statement.clone()))
                    .bind(int(now))
                    .execute(&self.pool)
                    .await?;
                purged += D::rows_affected(&result);
            }
            let proofs = sqlx::query(AssertSqlSafe(self.sql.purge_proofs.clone()))
                .bind(int(now.saturating_mul(1000)))
                .execute(&self.pool)
                .await?;
            Ok(purged + D::rows_affected(&proofs))
        })
        .await
    }

    /// Records the DPoP proof `key` until `expires_at_ms` unless a live record of it exists:
    /// `true` when this call recorded it. Bounded by the builder's time limit; an answer
    /// lost or late is an error (the proof is refused), never retried.
    pub(crate) async fn first_use(
        &self,
        key: &ReplayKey,
        now_ms: u64,
        expires_at_ms: u64,
    ) -> Result<bool, BoxError> {
        let operation = "dpop_first_use";
        let insert = async {
            let result = sqlx::query(AssertSqlSafe(self.sql.first_use.clone()))
                .bind(&key.as_bytes()[..])
                .bind(int(expires_at_ms))
                .bind(int(now_ms))
                .execute(&self.pool)
                .await?;
            Ok(D::rows_affected(&result) == 1)
        };
        let late = || Cause::Invalid(format!("no answer within {:?}", self.timeout));
        self.run(operation, async {
            tokio::time::timeout(self.timeout, insert)
                .await
                .unwrap_or_else(|_| Err(late()))
        })
        .await
    }
}
