//! The users table of a database (features `postgres` and `sqlite`).

use std::sync::Arc;

use crate::users::Account;

/// The users table `<prefix>_users` of a database, on the revocation backend's pool.
pub(crate) struct SqlUsers<Db: sqlx::Database> {
    pool: sqlx::Pool<Db>,
    select: Arc<str>,
    insert: Arc<str>,
    select_id: Arc<str>,
    assign_id: Arc<str>,
}

// By hand: a derive would require `Db: Clone`.
impl<Db: sqlx::Database> Clone for SqlUsers<Db> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            select: self.select.clone(),
            insert: self.insert.clone(),
            select_id: self.select_id.clone(),
            assign_id: self.assign_id.clone(),
        }
    }
}

impl<Db: sqlx::Database> SqlUsers<Db>
where
    for<'c> &'c sqlx::Pool<Db>: sqlx::Executor<'c, Database = Db>,
    <Db as sqlx::Database>::Arguments: sqlx::IntoArguments<Db>,
    String: sqlx::Type<Db> + for<'r> sqlx::Decode<'r, Db>,
    for<'a> &'a str: sqlx::Type<Db> + sqlx::Encode<'a, Db>,
    usize: sqlx::ColumnIndex<<Db as sqlx::Database>::Row>,
    for<'r> (String, Option<String>): sqlx::FromRow<'r, <Db as sqlx::Database>::Row>,
{
    /// Creates the table if it does not exist, and gives a table made before the user ids
    /// its `user_id` column (its accounts get an id at their next login).
    pub(crate) async fn open(pool: sqlx::Pool<Db>, prefix: &str) -> Result<Self, sqlx::Error> {
        let table = format!("{prefix}_users");
        let create = format!(
            "CREATE TABLE IF NOT EXISTS {table} \
             (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, user_id TEXT)"
        );
        sqlx::query(sqlx::AssertSqlSafe(create))
            .execute(&pool)
            .await?;
        let probe = format!("SELECT user_id FROM {table} WHERE 1 = 0");
        let has_column = |pool: sqlx::Pool<Db>| {
            let probe = probe.clone();
            async move {
                sqlx::query(sqlx::AssertSqlSafe(probe))
                    .execute(&pool)
                    .await
                    .is_ok()
            }
        };
        if !has_column(pool.clone()).await {
            let alter = format!("ALTER TABLE {table} ADD COLUMN user_id TEXT");
            let altered = sqlx::query(sqlx::AssertSqlSafe(alter)).execute(&pool).await;
            // Another instance starting at the same time may have added it first.
            if let Err(err) = altered
                && !has_column(pool.clone()).await
            {
                return Err(err);
            }
        }
        Ok(Self {
            pool,
            select: format!("SELECT password_hash, user_id FROM {table} WHERE username = $1")
                .into(),
            insert: format!(
                "INSERT INTO {table} (username, password_hash, user_id) VALUES ($1, $2, $3) \
                 ON CONFLICT (username) DO NOTHING RETURNING username"
            )
            .into(),
            select_id: format!("SELECT user_id FROM {table} WHERE username = $1").into(),
            assign_id: format!(
                "UPDATE {table} SET user_id = $1 WHERE username = $2 AND user_id IS NULL"
            )
            .into(),
        })
    }

    pub(crate) async fn account(&self, username: &str) -> Result<Option<Account>, sqlx::Error> {
        let row: Option<(String, Option<String>)> =
            sqlx::query_as(sqlx::AssertSqlSafe(self.select.clone()))
                .bind(username)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(password_hash, user_id)| Account {
            password_hash,
            user_id,
        }))
    }

    /// `true` if the row was inserted: `RETURNING` yields nothing on a conflict.
    pub(crate) async fn create(
        &self,
        username: &str,
        user_id: &str,
        password_hash: &str,
    ) -> Result<bool, sqlx::Error> {
        let inserted: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(self.insert.clone()))
            .bind(username)
            .bind(password_hash)
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(inserted.is_some())
    }

    /// Stores `fresh` as the id of an account that has none, then reads the id back.
    pub(crate) async fn user_id(&self, username: &str, fresh: &str) -> Result<String, sqlx::Error> {
        sqlx::query(sqlx::AssertSqlSafe(self.assign_id.clone()))
            .bind(fresh)
            .bind(username)
            .execute(&self.pool)
            .await?;
        let user_id: Option<String> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(self.select_id.clone()))
                .bind(username)
                .fetch_one(&self.pool)
                .await?;
        user_id.ok_or(sqlx::Error::RowNotFound)
    }
}
