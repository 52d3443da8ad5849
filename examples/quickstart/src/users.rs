//! The accounts and the stores: users in memory, in Redis or in a database table, next to
//! the revocation backend of the same store.

#[cfg(any(feature = "redis", feature = "postgres", feature = "sqlite"))]
use std::future::Future;
use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use dashmap::{DashMap, mapref::entry::Entry};
#[cfg(feature = "postgres")]
use tower_jwt_auth::store::PostgresBackend;
#[cfg(feature = "redis")]
use tower_jwt_auth::store::RedisBackend;
use tower_jwt_auth::store::RevocationBackend;
#[cfg(feature = "sqlite")]
use tower_jwt_auth::store::SqliteBackend;

use crate::Config;
#[cfg(any(feature = "postgres", feature = "sqlite"))]
use crate::sql::SqlUsers;
#[cfg(any(feature = "redis", feature = "postgres", feature = "sqlite"))]
use crate::{STORE_TIMEOUT, StoreUrl};

/// Where the users, sessions and revocations are kept: [`open_stores`] opens them.
#[derive(Clone, Default)]
pub struct Stores {
    /// The shared revocation backend; `None` keeps sessions and revocations in this process.
    pub(crate) backend: Option<Arc<dyn RevocationBackend>>,
    pub(crate) users: Users,
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stores")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// Opens the store `config` names: connects, and creates the tables a database needs. Without
/// a shared store, everything stays in memory.
pub async fn open_stores(config: &Config) -> Result<Stores, String> {
    let stores = match &config.store {
        None => Stores::default(),
        #[cfg(feature = "redis")]
        Some(StoreUrl::Redis(url)) => {
            let redis = |err: &dyn std::error::Error| failed("REDIS_URL", err);
            let prefix = &config.store_prefix;
            let backend = RedisBackend::builder(url.as_str())
                .with_prefix(prefix.as_str())
                .build()
                .await
                .map_err(|err| redis(&err))?;
            let client = ::redis::Client::open(url.as_str()).map_err(|err| redis(&err))?;
            let connection = tokio::time::timeout(STORE_TIMEOUT, client.get_connection_manager())
                .await
                .map_err(|err| redis(&err))?
                .map_err(|err| redis(&err))?;
            if backend.persists() == Some(false) {
                eprintln!(
                    "REDIS_URL: this Redis persists nothing (no append-only file, no \
                     snapshots): a restart of it forgets every user, session and revocation"
                );
            }
            Stores {
                backend: Some(Arc::new(backend)),
                users: Users::Redis {
                    connection,
                    key: format!("{prefix}:users").into(),
                    ids: format!("{prefix}:user_ids").into(),
                },
            }
        }
        #[cfg(feature = "postgres")]
        Some(StoreUrl::Postgres(url)) => {
            let pg = |err: &dyn std::error::Error| failed("DATABASE_URL", err);
            let prefix = &config.store_prefix;
            let backend = PostgresBackend::builder(url)
                .with_prefix(format!("{prefix}_"))
                .build()
                .await
                .map_err(|err| pg(&err))?;
            let users = SqlUsers::open(backend.pool().clone(), prefix)
                .await
                .map_err(|err| pg(&err))?;
            Stores {
                backend: Some(Arc::new(backend)),
                users: Users::Postgres(users),
            }
        }
        #[cfg(feature = "sqlite")]
        Some(StoreUrl::Sqlite(path)) => {
            let lite = |err: &dyn std::error::Error| failed("DATABASE_URL", err);
            let prefix = &config.store_prefix;
            let backend = SqliteBackend::builder(path)
                .with_prefix(format!("{prefix}_"))
                .build()
                .await
                .map_err(|err| lite(&err))?;
            let users = SqlUsers::open(backend.pool().clone(), prefix)
                .await
                .map_err(|err| lite(&err))?;
            Stores {
                backend: Some(Arc::new(backend)),
                users: Users::Sqlite(users),
            }
        }
        // `Config::check` refused a store whose feature is off.
        #[allow(unreachable_patterns)]
        Some(store) => return Err(store.check_feature().err().unwrap_or_default()),
    };
    Ok(stores)
}

/// The startup error of a store: `var` and the error with its causes (they name what failed,
/// never the URL's password).
#[cfg(any(feature = "redis", feature = "postgres", feature = "sqlite"))]
pub(crate) fn failed(var: &str, err: &dyn std::error::Error) -> String {
    let mut message = format!("cannot use {var}: {err}");
    let mut cause = err.source();
    while let Some(err) = cause {
        message.push_str(&format!(": {err}"));
        cause = err.source();
    }
    message
}

/// The accounts: username (normalised) → the user's id and argon2 hash in PHC string format.
/// Every account has the scopes [`USER_SCOPE`].
#[derive(Clone)]
pub(crate) enum Users {
    Memory(Arc<DashMap<String, Account>>),
    /// The hash `key` (a field per user: the password hash) and the hash `ids` (a field per
    /// user: the user id).
    #[cfg(feature = "redis")]
    Redis {
        connection: ::redis::aio::ConnectionManager,
        key: Arc<str>,
        ids: Arc<str>,
    },
    #[cfg(feature = "postgres")]
    Postgres(SqlUsers<sqlx::Postgres>),
    #[cfg(feature = "sqlite")]
    Sqlite(SqlUsers<sqlx::Sqlite>),
}

impl Default for Users {
    fn default() -> Self {
        Self::Memory(Arc::default())
    }
}

/// A user store that failed or did not answer in time: 503.
pub(crate) struct StoreError;

/// What the user store keeps of an account besides its name.
#[derive(Clone)]
pub(crate) struct Account {
    pub(crate) password_hash: String,
    /// The `sub` of the account's tokens; `None` for an account stored before the user ids
    /// (it gets one at its next login).
    pub(crate) user_id: Option<String>,
}

/// A new user id: 128 random bits, URL-safe base64 (22 characters). It is the `sub` of the
/// account's tokens, never the username: a name signed up again in a new store gets a new
/// id, so tokens of the old account never pass for the new one.
pub(crate) fn new_user_id() -> String {
    use argon2::password_hash::rand_core::RngCore;
    use base64::Engine;
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl Users {
    /// The account of `username`, if it has one.
    pub(crate) async fn account(&self, username: &str) -> Result<Option<Account>, StoreError> {
        match self {
            Self::Memory(users) => Ok(users.get(username).map(|account| account.clone())),
            #[cfg(feature = "redis")]
            Self::Redis {
                connection,
                key,
                ids,
            } => {
                let query = ::redis::pipe()
                    .hget(&**key, username)
                    .hget(&**ids, username)
                    .clone();
                let (hash, user_id): (Option<String>, Option<String>) =
                    timed(async move { query.query_async(&mut connection.clone()).await }).await?;
                Ok(hash.map(|password_hash| Account {
                    password_hash,
                    user_id,
                }))
            }
            #[cfg(feature = "postgres")]
            Self::Postgres(users) => timed(users.account(username)).await,
            #[cfg(feature = "sqlite")]
            Self::Sqlite(users) => timed(users.account(username)).await,
        }
    }

    /// Creates the account with `user_id` unless the name is taken (`false`): of two signups
    /// of one name, wherever they run, one creates it and the other finds it taken.
    pub(crate) async fn create(
        &self,
        username: &str,
        user_id: &str,
        password_hash: String,
    ) -> Result<bool, StoreError> {
        match self {
            // The entry holds its shard's lock while it decides.
            Self::Memory(users) => match users.entry(username.to_owned()) {
                Entry::Occupied(_) => Ok(false),
                Entry::Vacant(slot) => {
                    slot.insert(Account {
                        password_hash,
                        user_id: Some(user_id.to_owned()),
                    });
                    Ok(true)
                }
            },
            // Both fields in one transaction: a name just created has no id yet, so its id
            // is this one. On a taken name the second `HSETNX` only gives an account stored
            // before the user ids one.
            #[cfg(feature = "redis")]
            Self::Redis {
                connection,
                key,
                ids,
            } => {
                let query = ::redis::pipe()
                    .atomic()
                    .hset_nx(&**key, username, password_hash)
                    .hset_nx(&**ids, username, user_id)
                    .clone();
                let (created, _): (bool, bool) =
                    timed(async move { query.query_async(&mut connection.clone()).await }).await?;
                Ok(created)
            }
            #[cfg(feature = "postgres")]
            Self::Postgres(users) => timed(users.create(username, user_id, &password_hash)).await,
            #[cfg(feature = "sqlite")]
            Self::Sqlite(users) => timed(users.create(username, user_id, &password_hash)).await,
        }
    }

    /// The user id of `username`: the one stored, or, for an account stored before the user
    /// ids, `fresh`, stored now. Of two logins giving one account an id at once, both get the
    /// same.
    pub(crate) async fn user_id(&self, username: &str, fresh: &str) -> Result<String, StoreError> {
        match self {
            Self::Memory(users) => match users.get_mut(username) {
                Some(mut account) => Ok(account
                    .user_id
                    .get_or_insert_with(|| fresh.to_owned())
                    .clone()),
                None => Err(StoreError),
            },
            #[cfg(feature = "redis")]
            Self::Redis {
                connection, ids, ..
            } => {
                let query = ::redis::pipe()
                    .atomic()
                    .hset_nx(&**ids, username, fresh)
                    .ignore()
                    .hget(&**ids, username)
                    .clone();
                let (user_id,): (String,) =
                    timed(async move { query.query_async(&mut connection.clone()).await }).await?;
                Ok(user_id)
            }
            #[cfg(feature = "postgres")]
            Self::Postgres(users) => timed(users.user_id(username, fresh)).await,
            #[cfg(feature = "sqlite")]
            Self::Sqlite(users) => timed(users.user_id(username, fresh)).await,
        }
    }
}

/// Runs a user-store operation under [`STORE_TIMEOUT`]. A failure is reported on standard
/// error (never with a password hash: the errors name the operation, not its values).
#[cfg(any(feature = "redis", feature = "postgres", feature = "sqlite"))]
pub(crate) async fn timed<T, E: std::fmt::Display>(
    op: impl Future<Output = Result<T, E>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(STORE_TIMEOUT, op).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => {
            eprintln!("quickstart: user store failed: {err}");
            Err(StoreError)
        }
        Err(_) => {
            eprintln!("quickstart: user store did not answer in time");
            Err(StoreError)
        }
    }
}
