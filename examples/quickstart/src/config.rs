//! The configuration: environment variables, their defaults and their checks.

use std::{num::NonZeroUsize, path::PathBuf, sync::Arc, time::Duration};

use tower_jwt_auth::clock::Clock;

use crate::{
    MAX_CONNECTION_TIMEOUT, MAX_CONNECTIONS, MAX_HASH_CONCURRENCY, MAX_HASH_QUEUE,
    MAX_STORE_PREFIX_LEN,
};

/// The server's configuration: [`Config::from_env`] reads it, [`Default`] gives the documented
/// defaults.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on (`ADDR`).
    pub addr: String,
    /// The server's URL as its clients reach it (`PUBLIC_URL`): the `iss` of its tokens and
    /// the base of its metadata. `None` is `http://` followed by [`addr`](Self::addr).
    pub public_url: Option<String>,
    /// Access-token lifetime (`ACCESS_TTL_SECS`).
    pub access_ttl: Duration,
    /// Refresh-token idle lifetime (`REFRESH_TTL_SECS`).
    pub refresh_ttl: Duration,
    /// Absolute session lifetime (`SESSION_TTL_SECS`).
    pub session_ttl: Duration,
    /// Clock-skew leeway (`LEEWAY_SECS`).
    pub leeway: Duration,
    /// Refresh-retry grace window (`REUSE_GRACE_SECS`).
    pub reuse_grace: Duration,
    /// Ed25519 private key in PKCS#8 PEM (`SIGNING_KEY_FILE`); `None` generates a key.
    pub signing_key_file: Option<PathBuf>,
    /// Password hashes computed at once (`HASH_CONCURRENCY`).
    pub hash_concurrency: usize,
    /// How long a request waits for a free hasher before a 503 (`HASH_QUEUE_MS`).
    pub hash_queue: Duration,
    /// The store shared between instances (`REDIS_URL` or `DATABASE_URL`); `None` keeps
    /// everything in this process.
    pub store: Option<StoreUrl>,
    /// The prefix of the shared store's keys or tables (`STORE_PREFIX`).
    pub store_prefix: String,
    /// How long a connection may take to send a request's headers, its first one included
    /// (`HEADER_READ_TIMEOUT_SECS`).
    pub header_read_timeout: Duration,
    /// How long a connection may stay open without a request in progress before it is
    /// closed (`IDLE_TIMEOUT_SECS`).
    pub idle_timeout: Duration,
    /// The most connections served at once; one more is closed as soon as it is accepted
    /// (`MAX_CONNECTIONS`).
    pub max_connections: usize,
    /// How long a shutdown waits for requests in progress before it closes their
    /// connections (`SHUTDOWN_DRAIN_SECS`).
    pub shutdown_drain: Duration,
    /// The clock tokens are issued and checked with; `None` is the system clock. Tests put a
    /// mock clock here to move time forward instead of sleeping.
    pub clock: Option<Arc<dyn Clock>>,
}

/// Where a shared store is. Its `Debug` shows the kind only: a URL may hold a password.
#[derive(Clone)]
pub enum StoreUrl {
    /// `REDIS_URL`.
    Redis(String),
    /// `DATABASE_URL` `postgres://…` or `postgresql://…`.
    Postgres(String),
    /// `DATABASE_URL` `sqlite://PATH`: the path of the database file.
    Sqlite(String),
}

impl std::fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Redis(_) => "Redis",
            Self::Postgres(_) => "Postgres",
            Self::Sqlite(_) => "Sqlite",
        })
    }
}

impl StoreUrl {
    /// The store named by `REDIS_URL` and `DATABASE_URL`, if either is set.
    pub(crate) fn from_vars(
        redis: Option<String>,
        database: Option<String>,
    ) -> Result<Option<Self>, String> {
        let url = match (redis, database) {
            (Some(_), Some(_)) => return Err("set REDIS_URL or DATABASE_URL, not both".to_owned()),
            (Some(url), None) => Self::Redis(url.trim().to_owned()),
            (None, Some(url)) => {
                let url = url.trim();
                if url.starts_with("postgres://") || url.starts_with("postgresql://") {
                    Self::Postgres(url.to_owned())
                } else if let Some(path) = url.strip_prefix("sqlite://").filter(|p| !p.is_empty()) {
                    Self::Sqlite(path.to_owned())
                } else {
                    return Err(
                        "DATABASE_URL must be postgres://USER@HOST/DATABASE or sqlite://PATH"
                            .to_owned(),
                    );
                }
            }
            (None, None) => return Ok(None),
        };
        url.check_feature()?;
        Ok(Some(url))
    }

    /// Refuses a store whose feature this build lacks.
    pub(crate) fn check_feature(&self) -> Result<(), String> {
        let (var, feature, built) = match self {
            Self::Redis(_) => ("REDIS_URL", "redis", cfg!(feature = "redis")),
            Self::Postgres(_) => ("DATABASE_URL", "postgres", cfg!(feature = "postgres")),
            Self::Sqlite(_) => ("DATABASE_URL", "sqlite", cfg!(feature = "sqlite")),
        };
        if built {
            Ok(())
        } else {
            Err(format!(
                "{var} is set, but this quickstart was built without the {feature} feature: \
                 run it with --features {feature}"
            ))
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:3000".to_owned(),
            public_url: None,
            access_ttl: Duration::from_secs(900),
            refresh_ttl: Duration::from_secs(1_209_600),
            session_ttl: Duration::from_secs(2_592_000),
            leeway: Duration::ZERO,
            reuse_grace: Duration::ZERO,
            signing_key_file: None,
            hash_concurrency: std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
            hash_queue: Duration::from_millis(250),
            store: None,
            store_prefix: "quickstart".to_owned(),
            header_read_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(10),
            max_connections: 1000,
            shutdown_drain: Duration::from_secs(10),
            clock: None,
        }
    }
}

/// The environment variables [`Config::from_env`] reads.
pub const ENV_VARS: [&str; 17] = [
    "ADDR",
    "PUBLIC_URL",
    "ACCESS_TTL_SECS",
    "REFRESH_TTL_SECS",
    "SESSION_TTL_SECS",
    "LEEWAY_SECS",
    "REUSE_GRACE_SECS",
    "SIGNING_KEY_FILE",
    "HASH_CONCURRENCY",
    "HASH_QUEUE_MS",
    "REDIS_URL",
    "DATABASE_URL",
    "STORE_PREFIX",
    "HEADER_READ_TIMEOUT_SECS",
    "IDLE_TIMEOUT_SECS",
    "MAX_CONNECTIONS",
    "SHUTDOWN_DRAIN_SECS",
];

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, String> {
        let mut vars = Vec::new();
        for name in ENV_VARS {
            match std::env::var(name) {
                Ok(value) => vars.push((name, value)),
                Err(std::env::VarError::NotPresent) => {}
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(format!("{name} is not valid UTF-8"));
                }
            }
        }
        Self::from_lookup(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        })
    }

    /// Reads the configuration through `lookup` (variable name → value), so that it can be
    /// checked without touching the process environment. Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let defaults = Self::default();
        let number = |name: &str, unit: &str| -> Result<Option<u64>, String> {
            get(name)
                .map(|value| {
                    value.trim().parse::<u64>().map_err(|_| {
                        format!("{name} must be a whole number of {unit}, got {value:?}")
                    })
                })
                .transpose()
        };
        let secs = |name: &str, default: Duration| -> Result<Duration, String> {
            Ok(number(name, "seconds")?.map_or(default, Duration::from_secs))
        };
        let hash_concurrency = match number("HASH_CONCURRENCY", "hashes")? {
            None => defaults.hash_concurrency,
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        };
        let config = Self {
            addr: get("ADDR").map_or(defaults.addr, |a| a.trim().to_owned()),
            public_url: get("PUBLIC_URL").map(|url| url.trim().to_owned()),
            access_ttl: secs("ACCESS_TTL_SECS", defaults.access_ttl)?,
            refresh_ttl: secs("REFRESH_TTL_SECS", defaults.refresh_ttl)?,
            session_ttl: secs("SESSION_TTL_SECS", defaults.session_ttl)?,
            leeway: secs("LEEWAY_SECS", defaults.leeway)?,
            reuse_grace: secs("REUSE_GRACE_SECS", defaults.reuse_grace)?,
            signing_key_file: get("SIGNING_KEY_FILE").map(PathBuf::from),
            hash_concurrency,
            hash_queue: number("HASH_QUEUE_MS", "milliseconds")?
                .map_or(defaults.hash_queue, Duration::from_millis),
            store: StoreUrl::from_vars(get("REDIS_URL"), get("DATABASE_URL"))?,
            store_prefix: get("STORE_PREFIX")
                .map_or(defaults.store_prefix, |p| p.trim().to_owned()),
            header_read_timeout: secs("HEADER_READ_TIMEOUT_SECS", defaults.header_read_timeout)?,
            idle_timeout: secs("IDLE_TIMEOUT_SECS", defaults.idle_timeout)?,
            max_connections: match number("MAX_CONNECTIONS", "connections")? {
                None => defaults.max_connections,
                Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
            },
            shutdown_drain: secs("SHUTDOWN_DRAIN_SECS", defaults.shutdown_drain)?,
            clock: None,
        };
        config.check()?;
        Ok(config)
    }

    /// The issuer's URL: `PUBLIC_URL`, else `http://ADDR`. The binary puts the address
    /// actually bound in `addr` before it builds the app, so that `ADDR` with port `0` names
    /// the port chosen.
    pub fn issuer_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.addr))
    }

    /// The rules of the issuer and sessions builders, stated with the variables' names.
    pub(crate) fn check(&self) -> Result<(), String> {
        if let Some(url) = &self.public_url {
            check_public_url(url)?;
        }
        for (name, ttl) in [
            ("ACCESS_TTL_SECS", self.access_ttl),
            ("REFRESH_TTL_SECS", self.refresh_ttl),
            ("SESSION_TTL_SECS", self.session_ttl),
        ] {
            if ttl.is_zero() {
                return Err(format!("{name} must be at least 1"));
            }
        }
        if self.access_ttl > self.refresh_ttl {
            return Err("ACCESS_TTL_SECS must not exceed REFRESH_TTL_SECS".to_owned());
        }
        if self.refresh_ttl > self.session_ttl {
            return Err("REFRESH_TTL_SECS must not exceed SESSION_TTL_SECS".to_owned());
        }
        if self.leeway > Duration::from_secs(300) {
            return Err("LEEWAY_SECS must be at most 300".to_owned());
        }
        if self.reuse_grace > Duration::from_secs(60) {
            return Err("REUSE_GRACE_SECS must be at most 60".to_owned());
        }
        if !(1..=MAX_HASH_CONCURRENCY).contains(&self.hash_concurrency) {
            return Err(format!(
                "HASH_CONCURRENCY must be between 1 and {MAX_HASH_CONCURRENCY}"
            ));
        }
        if self.hash_queue > MAX_HASH_QUEUE {
            return Err(format!(
                "HASH_QUEUE_MS must be at most {}",
                MAX_HASH_QUEUE.as_millis()
            ));
        }
        for (name, timeout) in [
            ("HEADER_READ_TIMEOUT_SECS", self.header_read_timeout),
            ("IDLE_TIMEOUT_SECS", self.idle_timeout),
        ] {
            if timeout.is_zero() || timeout > MAX_CONNECTION_TIMEOUT {
                return Err(format!(
                    "{name} must be between 1 and {}",
                    MAX_CONNECTION_TIMEOUT.as_secs()
                ));
            }
        }
        if self.shutdown_drain > MAX_CONNECTION_TIMEOUT {
            return Err(format!(
                "SHUTDOWN_DRAIN_SECS must be at most {}",
                MAX_CONNECTION_TIMEOUT.as_secs()
            ));
        }
        if !(1..=MAX_CONNECTIONS).contains(&self.max_connections) {
            return Err(format!(
                "MAX_CONNECTIONS must be between 1 and {MAX_CONNECTIONS}"
            ));
        }
        let mut prefix = self.store_prefix.bytes();
        if !(prefix.next().is_some_and(|b| b.is_ascii_lowercase())
            && prefix.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && self.store_prefix.len() <= MAX_STORE_PREFIX_LEN)
        {
            return Err(format!(
                "STORE_PREFIX must be 1 to {MAX_STORE_PREFIX_LEN} of a-z, 0-9 and _, starting \
                 with a letter"
            ));
        }
        if let Some(store) = &self.store {
            store.check_feature()?;
        }
        Ok(())
    }
}

/// `PUBLIC_URL` is an origin: `https://HOST[:PORT]`, or `http://` on a loopback host (checked
/// when the metadata is built), with no path, query, fragment or credentials, so that the
/// `iss` of the tokens and the URLs of the metadata are written one way only.
fn check_public_url(url: &str) -> Result<(), String> {
    let authority = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match authority {
        Some(authority)
            if !authority.is_empty()
                && !authority.contains(['/', '?', '#', '@'])
                && !authority.contains(char::is_whitespace) =>
        {
            Ok(())
        }
        _ => Err(format!(
            "PUBLIC_URL must be https://HOST[:PORT] (or http:// on a loopback address), \
             without path or trailing slash, got {url:?}"
        )),
    }
}
