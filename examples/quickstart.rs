//! A complete account service on axum: signup and login with argon2 password hashes, then the
//! whole token life cycle over HTTP — refresh with rotation and reuse detection, logout of one
//! device or of every device, RFC 7009 revocation, the public key set, and routes protected by
//! a bearer token and by a scope. Users, sessions and revocations live in memory, or in Redis,
//! PostgreSQL or SQLite shared by several instances (see *A shared store* below).
//!
//! ```sh
//! cargo run --example quickstart
//! ```
//!
//! Once it listens it prints exactly one line on standard output:
//! `listening on http://ADDR`, with the address actually bound.
//!
//! # Configuration (environment)
//!
//! | variable | default | meaning |
//! | --- | --- | --- |
//! | `ADDR` | `127.0.0.1:3000` | address to listen on (port `0`: any free port) |
//! | `ACCESS_TTL_SECS` | `900` | access-token lifetime |
//! | `REFRESH_TTL_SECS` | `1209600` | refresh-token idle lifetime (renewed by each refresh) |
//! | `SESSION_TTL_SECS` | `2592000` | absolute session lifetime, counted from login |
//! | `LEEWAY_SECS` | `0` | clock-skew leeway of the time checks (at most 300) |
//! | `REUSE_GRACE_SECS` | `0` | window in which a client may retry its last refresh (at most 60) |
//! | `SIGNING_KEY_FILE` | none | Ed25519 private key, PKCS#8 PEM (`openssl genpkey -algorithm ed25519`) |
//! | `HASH_CONCURRENCY` | the number of cores | password hashes computed at once (1 to 512) |
//! | `HASH_QUEUE_MS` | `250` | how long a signup or login waits for a free hasher (at most 10000) |
//! | `REDIS_URL` | none | keep users, sessions and revocations in Redis (feature `redis`) |
//! | `DATABASE_URL` | none | keep them in `postgres://…` (feature `postgres`) or `sqlite://PATH` (feature `sqlite`) |
//! | `RUST_LOG` | `info` | log filter (`tracing-subscriber` directives); logs go to standard error, one line per request at `info` |
//! | `STORE_PREFIX` | `quickstart` | prefix of the shared store's keys or tables (`a-z`, `0-9`, `_`; at most 30) |
//!
//! Without `SIGNING_KEY_FILE` a new key is generated at every start (a line on standard error
//! says so), and tokens from an earlier run no longer verify. An empty variable counts as unset;
//! an invalid value stops the server with a message naming the variable and a non-zero exit.
//!
//! # A shared store
//!
//! With `REDIS_URL` (built with `--features redis`) or `DATABASE_URL` (`--features postgres` or
//! `--features sqlite`) the server keeps its users, session records and revocations there
//! instead of in memory: instances started with the same `SIGNING_KEY_FILE` over the same
//! store act as one service, and a restart forgets nothing. Each instance follows the others'
//! revocations on the store's change feed (Redis pub/sub, PostgreSQL LISTEN/NOTIFY). A
//! database gets its tables at start (`STORE_PREFIX` then `_sessions`, `_entries`, `_users`);
//! Redis keeps users in the hash `STORE_PREFIX:users`. Setting both variables, a URL of
//! another kind, or one whose feature is not built in stops the server with a message naming
//! the variable. When the store fails, the requests that need it are answered `503
//! temporarily_unavailable` (fail closed).
//!
//! Two instances over Redis, or over PostgreSQL:
//!
//! ```sh
//! openssl genpkey -algorithm ed25519 -out signing-key.pem
//!
//! # terminal 1
//! SIGNING_KEY_FILE=signing-key.pem REDIS_URL=redis://127.0.0.1:6379/ ADDR=127.0.0.1:3000 \
//!     cargo run --example quickstart --features redis
//! # terminal 2
//! SIGNING_KEY_FILE=signing-key.pem REDIS_URL=redis://127.0.0.1:6379/ ADDR=127.0.0.1:3001 \
//!     cargo run --example quickstart --features redis
//!
//! # or over PostgreSQL, in each terminal with its own ADDR:
//! SIGNING_KEY_FILE=signing-key.pem DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//!     ADDR=127.0.0.1:3000 cargo run --example quickstart --features postgres
//!
//! curl -s 127.0.0.1:3000/auth/signup -H 'content-type: application/json' \
//!      -d '{"username":"alice","password":"correct horse"}'     # on the first instance
//! curl -s 127.0.0.1:3001/auth/login -H 'content-type: application/json' \
//!      -d '{"username":"alice","password":"correct horse"}'     # works on the second
//! ```
//!
//! # Password hashing under load
//!
//! Each argon2 hash takes 19 MiB and a core for a few milliseconds, so signup and login
//! compute at most `HASH_CONCURRENCY` of them at once, on blocking threads, each in working
//! memory that is kept from one hash to the next: the server holds at most
//! `HASH_CONCURRENCY` × 19 MiB for hashing, whatever the load. A request that finds every
//! hasher busy waits up to `HASH_QUEUE_MS` for one; after that it is answered
//! `503 temporarily_unavailable` with `Retry-After: 1` instead of queueing without end. A login
//! for an unknown username hashes too, under the same bound, so that it costs what a wrong
//! password costs.
//!
//! # Usernames
//!
//! A username is normalised and checked as RFC 8265 says (the PRECIS `UsernameCaseMapped`
//! profile): full-width letters become their usual width, upper case becomes lower case, and
//! accents are composed (NFC), so `Alice`, `ALICE`, `ａlice` and `alice` are one account,
//! and so are an `é` sent composed or decomposed. The normalised name is the account and the
//! `sub` of its tokens. Letters and digits of any script and printable ASCII are allowed;
//! spaces, control characters, symbols and invisible or direction-changing characters (a
//! zero-width space, a soft hyphen, a byte order mark, a right-to-left override, …) are
//! refused: signup answers 400, and a login with such a name finds no account (401). At most
//! 64 characters once normalised.
//!
//! # Endpoints
//!
//! | route | auth | answer |
//! | --- | --- | --- |
//! | `GET /health` | none | 200 |
//! | `POST /auth/signup` `{"username","password"}` | none | 201 token response; 409 if the name is taken; 503 when busy |
//! | `POST /auth/login` `{"username","password"}` | none | 200 token response; 401 on bad credentials; 503 when busy |
//! | `POST /auth/refresh` `{"refresh_token"}` (or the RFC 6749 form) | none | 200 next token pair; 400 `invalid_grant` |
//! | `POST /auth/revoke` `{"token"}` (or the RFC 7009 form) | none | 200, also for unknown tokens |
//! | `POST /auth/logout` | bearer | 204: this session's tokens stop working |
//! | `POST /auth/logout-all` | bearer | 204: every session of the user stops |
//! | `GET /me` | bearer | 200 `{"sub","sid","scope","exp"}` |
//! | `GET /admin` | bearer, scope `admin` | 200; 403 `insufficient_scope` otherwise |
//! | `GET /.well-known/jwks.json` | none | the public key set |
//!
//! # The demo page
//!
//! `GET /` serves a small page (HTML and plain JavaScript, embedded in the binary) on which a
//! person signs up, logs in, sees `/me`, watches the access token refresh itself before it
//! expires, logs out and logs out everywhere. It uses the cookie transport
//! ([`CookieTransport`]) on routes of its own, so the routes above keep their JSON answers:
//!
//! | route | auth | answer |
//! | --- | --- | --- |
//! | `GET /`, `GET /demo/app.js` | none | the page and its script |
//! | `POST /browser/signup`, `POST /browser/login` | none | as `/auth/…`, with the tokens in cookies and `{"expires_in","refresh_expires_in","scope","csrf_token"}` |
//! | `GET /browser/me` | access cookie | as `/me` |
//! | `POST /browser/auth/refresh` | refresh cookie + `X-CSRF-Token` | the next pair, in cookies |
//! | `POST /browser/auth/logout`, `/browser/auth/logout-all` | access cookie + `X-CSRF-Token` | 204, cookies deleted |
//!
//! The quickstart serves plain http, so its cookies go without `Secure` (and without the
//! `__Host-` prefix, which needs it); a real deployment serves https and keeps the default.
//! Open `http://127.0.0.1:3000/` after `cargo run --example quickstart`; `ACCESS_TTL_SECS=10`
//! shows a refresh every few seconds.
//!
//! Access tokens are EdDSA-signed, with `iss` `quickstart` and `aud` `quickstart-api`. Signup
//! users get the scopes `read write`. Every token response carries `Cache-Control: no-store`;
//! every error is JSON `{"error": …, "error_description": …}`.
//!
//! # Try it
//!
//! ```sh
//! cargo run --example quickstart            # prints: listening on http://127.0.0.1:3000
//! B=http://127.0.0.1:3000
//!
//! curl -s $B/auth/signup -H 'content-type: application/json' \
//!      -d '{"username":"alice","password":"correct horse"}'          # 201 + token response
//! login() { curl -s $B/auth/login -H 'content-type: application/json' \
//!      -d '{"username":"alice","password":"correct horse"}'; }
//! field() { sed "s/.*\"$1\":\"\([^\"]*\)\".*/\1/"; }
//! LOGIN=$(login); AT=$(echo "$LOGIN" | field access_token); RT=$(echo "$LOGIN" | field refresh_token)
//!
//! curl -s $B/me -H "authorization: Bearer $AT"                      # {"sub":"alice",...}
//! curl -si $B/admin -H "authorization: Bearer $AT"                  # 403 insufficient_scope
//! curl -s $B/auth/refresh -d grant_type=refresh_token -d refresh_token=$RT   # the next pair
//! curl -s $B/auth/refresh -d grant_type=refresh_token -d refresh_token=$RT   # reuse: invalid_grant,
//! curl -si $B/me -H "authorization: Bearer $AT"                     # and the session is dead: 401
//!
//! AT=$(login | field access_token)                                   # a new session
//! curl -si -X POST $B/auth/logout -H "authorization: Bearer $AT"    # 204: this device only
//! AT=$(login | field access_token)
//! curl -si -X POST $B/auth/logout-all -H "authorization: Bearer $AT" # 204: every device
//! AT=$(login | field access_token)                                   # logging in again works
//! curl -s $B/auth/revoke -d token=$AT                                # 200 (RFC 7009)
//! curl -s $B/.well-known/jwks.json                                   # the public keys
//! ```

use std::{
    cell::RefCell,
    future::Future,
    io,
    num::NonZeroUsize,
    path::PathBuf,
    process::ExitCode,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use argon2::{
    Algorithm as Argon2Algorithm, Argon2, Block, Params as Argon2Params, PasswordHash,
    PasswordHasher, PasswordVerifier, Version as Argon2Version,
    password_hash::{
        self, Decimal, Ident, Output, ParamsString, Salt, SaltString, rand_core::OsRng,
    },
};
use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, Request, State, rejection::JsonRejection as BodyRejection},
    http::{
        HeaderValue, StatusCode,
        header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, RETRY_AFTER},
    },
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, get_service, post},
};
use dashmap::{DashMap, mapref::entry::Entry};
use precis_profiles::{UsernameCaseMapped, precis_core::profile::PrecisFastInvocation};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::{
    net::TcpListener,
    sync::{Semaphore, watch},
};
#[cfg(feature = "postgres")]
use tower_jwt_auth::store::PostgresBackend;
#[cfg(feature = "redis")]
use tower_jwt_auth::store::RedisBackend;
#[cfg(feature = "sqlite")]
use tower_jwt_auth::store::SqliteBackend;
use tower_jwt_auth::{
    BearerAuthLayer, Claims, Issuer, KeySet, Sessions, SigningKey,
    axum::cookie_token_routes,
    bearer::{AuthError, JsonBodyRejection},
    clock::Clock,
    endpoints::{ErrorResponse, JwksService, token_response},
    keys::Algorithm,
    session::StartError,
    store::{
        BoxError, BoxFuture, Change, ChangeStream, Heartbeat, LiveSession, NewSession,
        RevocationBackend, RevocationEntry, RotateOutcome, Rotation,
    },
    token_routes,
    transport::CookieTransport,
};

/// The `iss` claim of every token.
pub const ISSUER: &str = "quickstart";
/// The `aud` claim of every token.
pub const AUDIENCE: &str = "quickstart-api";
/// The `realm` of every `WWW-Authenticate` challenge.
pub const REALM: &str = "quickstart";
/// The scopes a user gets at signup.
pub const USER_SCOPE: &str = "read write";
/// The largest request body the JSON handlers read.
pub const BODY_LIMIT: usize = 64 * 1024;
/// The longest username, in characters once normalised.
pub const MAX_USERNAME_CHARS: usize = 64;
/// The longest username a request may send, in bytes, before it is normalised: bounds the
/// work (a decomposed name is longer as sent than once normalised).
pub const MAX_USERNAME_BYTES: usize = 1024;
/// The shortest password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// The longest password, in characters (bounds the hashing work a request can ask for).
pub const MAX_PASSWORD_CHARS: usize = 1024;
/// The most password hashes `HASH_CONCURRENCY` may allow at once: tokio's default number of
/// blocking threads.
pub const MAX_HASH_CONCURRENCY: usize = 512;
/// The longest `HASH_QUEUE_MS` may be.
pub const MAX_HASH_QUEUE: Duration = Duration::from_secs(10);
/// The longest `STORE_PREFIX`: the table names made from it stay well within PostgreSQL's
/// limit on identifiers.
pub const MAX_STORE_PREFIX_LEN: usize = 30;
/// How long one operation on the user store may take before it fails (closed, with 503).
pub const STORE_TIMEOUT: Duration = Duration::from_secs(5);
/// The `Retry-After` of a 503 answered because every hasher was busy, in seconds.
pub const BUSY_RETRY_AFTER_SECS: u64 = 1;

/// The server's configuration: [`Config::from_env`] reads it, [`Default`] gives the documented
/// defaults.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on (`ADDR`).
    pub addr: String,
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
    fn from_vars(redis: Option<String>, database: Option<String>) -> Result<Option<Self>, String> {
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
    fn check_feature(&self) -> Result<(), String> {
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
            clock: None,
        }
    }
}

/// The environment variables [`Config::from_env`] reads.
pub const ENV_VARS: [&str; 12] = [
    "ADDR",
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
            clock: None,
        };
        config.check()?;
        Ok(config)
    }

    /// The rules of the issuer and sessions builders, stated with the variables' names.
    fn check(&self) -> Result<(), String> {
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

/// The application, ready to serve: its router and the parts around it.
#[derive(Debug)]
pub struct App {
    /// Every route of the service.
    pub router: Router,
    /// The issuer behind the routes (its key set, verifier and revocation store).
    pub issuer: Issuer,
    /// `true` when the signing key was generated at start rather than read from a file.
    pub key_generated: bool,
    /// The permits of password hashing: `HASH_CONCURRENCY` of them, one held by each hash
    /// being computed. Whoever holds permits (a test, say) takes hashers away from requests.
    pub hash_permits: Arc<Semaphore>,
    /// How many signups and logins are waiting for a hasher now (the hash queue's length).
    pub hash_queue: watch::Receiver<usize>,
    /// How many revocations from the shared store's change feed this instance has applied
    /// (its own come back on the feed too); always 0 without a shared store.
    pub feed_applied: watch::Receiver<u64>,
}

/// Where the users, sessions and revocations are kept: [`open_stores`] opens them.
#[derive(Clone, Default)]
pub struct Stores {
    /// The shared revocation backend; `None` keeps sessions and revocations in this process.
    backend: Option<Arc<dyn RevocationBackend>>,
    users: Users,
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
            Stores {
                backend: Some(Arc::new(backend)),
                users: Users::Redis {
                    connection,
                    key: format!("{prefix}:users").into(),
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
fn failed(var: &str, err: &dyn std::error::Error) -> String {
    let mut message = format!("cannot use {var}: {err}");
    let mut cause = err.source();
    while let Some(err) = cause {
        message.push_str(&format!(": {err}"));
        cause = err.source();
    }
    message
}

/// The accounts: username (normalised) → argon2 hash in PHC string format. Every account has
/// the scopes [`USER_SCOPE`].
#[derive(Clone)]
enum Users {
    Memory(Arc<DashMap<String, String>>),
    /// The hash `key`, a field per user.
    #[cfg(feature = "redis")]
    Redis {
        connection: ::redis::aio::ConnectionManager,
        key: Arc<str>,
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
struct StoreError;

impl Users {
    /// The password hash of `username`, if it has an account.
    async fn password_hash(&self, username: &str) -> Result<Option<String>, StoreError> {
        match self {
            Self::Memory(users) => Ok(users.get(username).map(|hash| hash.clone())),
            #[cfg(feature = "redis")]
            Self::Redis { connection, key } => {
                let query = ::redis::cmd("HGET").arg(&**key).arg(username).clone();
                timed(async move { query.query_async(&mut connection.clone()).await }).await
            }
            #[cfg(feature = "postgres")]
            Self::Postgres(users) => timed(users.password_hash(username)).await,
            #[cfg(feature = "sqlite")]
            Self::Sqlite(users) => timed(users.password_hash(username)).await,
        }
    }

    /// Creates the account unless the name is taken (`false`): of two signups of one name,
    /// wherever they run, one creates it and the other finds it taken.
    async fn create(&self, username: &str, password_hash: String) -> Result<bool, StoreError> {
        match self {
            // The entry holds its shard's lock while it decides.
            Self::Memory(users) => match users.entry(username.to_owned()) {
                Entry::Occupied(_) => Ok(false),
                Entry::Vacant(slot) => {
                    slot.insert(password_hash);
                    Ok(true)
                }
            },
            #[cfg(feature = "redis")]
            Self::Redis { connection, key } => {
                let query = ::redis::cmd("HSETNX")
                    .arg(&**key)
                    .arg(username)
                    .arg(password_hash)
                    .clone();
                timed(async move { query.query_async(&mut connection.clone()).await }).await
            }
            #[cfg(feature = "postgres")]
            Self::Postgres(users) => timed(users.create(username, &password_hash)).await,
            #[cfg(feature = "sqlite")]
            Self::Sqlite(users) => timed(users.create(username, &password_hash)).await,
        }
    }
}

/// Runs a user-store operation under [`STORE_TIMEOUT`]. A failure is reported on standard
/// error (never with a password hash: the errors name the operation, not its values).
#[cfg(any(feature = "redis", feature = "postgres", feature = "sqlite"))]
async fn timed<T, E: std::fmt::Display>(
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

/// The users table `<prefix>_users` of a database, on the revocation backend's pool.
#[cfg(any(feature = "postgres", feature = "sqlite"))]
struct SqlUsers<Db: sqlx::Database> {
    pool: sqlx::Pool<Db>,
    select: Arc<str>,
    insert: Arc<str>,
}

// By hand: a derive would require `Db: Clone`.
#[cfg(any(feature = "postgres", feature = "sqlite"))]
impl<Db: sqlx::Database> Clone for SqlUsers<Db> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            select: self.select.clone(),
            insert: self.insert.clone(),
        }
    }
}

#[cfg(any(feature = "postgres", feature = "sqlite"))]
impl<Db: sqlx::Database> SqlUsers<Db>
where
    for<'c> &'c sqlx::Pool<Db>: sqlx::Executor<'c, Database = Db>,
    <Db as sqlx::Database>::Arguments: sqlx::IntoArguments<Db>,
    String: sqlx::Type<Db> + for<'r> sqlx::Decode<'r, Db>,
    for<'a> &'a str: sqlx::Type<Db> + sqlx::Encode<'a, Db>,
    usize: sqlx::ColumnIndex<<Db as sqlx::Database>::Row>,
{
    /// Creates the table if it does not exist.
    async fn open(pool: sqlx::Pool<Db>, prefix: &str) -> Result<Self, sqlx::Error> {
        let table = format!("{prefix}_users");
        let create = format!(
            "CREATE TABLE IF NOT EXISTS {table} \
             (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL)"
        );
        sqlx::query(sqlx::AssertSqlSafe(create))
            .execute(&pool)
            .await?;
        Ok(Self {
            pool,
            select: format!("SELECT password_hash FROM {table} WHERE username = $1").into(),
            insert: format!(
                "INSERT INTO {table} (username, password_hash) VALUES ($1, $2) \
                 ON CONFLICT (username) DO NOTHING RETURNING username"
            )
            .into(),
        })
    }

    async fn password_hash(&self, username: &str) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar(sqlx::AssertSqlSafe(self.select.clone()))
            .bind(username)
            .fetch_optional(&self.pool)
            .await
    }

    /// `true` if the row was inserted: `RETURNING` yields nothing on a conflict.
    async fn create(&self, username: &str, password_hash: &str) -> Result<bool, sqlx::Error> {
        let inserted: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(self.insert.clone()))
            .bind(username)
            .bind(password_hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(inserted.is_some())
    }
}

#[derive(Clone)]
struct AppState {
    sessions: Sessions,
    users: Users,
    /// A hash to verify against when the user does not exist, so that a login for an unknown
    /// name takes as long as one with a wrong password.
    dummy_hash: Arc<str>,
    hashers: Hashers,
    /// The demo page's cookie transport.
    transport: CookieTransport,
}

/// Runs password hashes on blocking threads, at most as many at once as it has permits.
#[derive(Clone)]
struct Hashers {
    permits: Arc<Semaphore>,
    /// How long a request waits for a permit.
    queue: Duration,
    /// How many requests are waiting for a permit.
    waiting: watch::Sender<usize>,
    /// The hashers not in use: never more than there are permits, since a hash takes one
    /// (or makes one) while it holds a permit and puts it back before letting the permit go.
    idle: Arc<Mutex<Vec<Hasher>>>,
}

/// Why a hash was not computed.
enum HashError {
    /// No hasher became free in time: 503 with `Retry-After`.
    Busy,
    /// The hashing task failed (it panicked): 500.
    Failed,
}

impl Hashers {
    /// Runs `work` with a hasher on a blocking thread once a permit is free, or answers `Busy`
    /// if none frees up within the queue time.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Hasher) -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                // Counted in the queue while waiting, however the wait ends (even dropped).
                self.waiting.send_modify(|n| *n += 1);
                let _queued = Queued(&self.waiting);
                match tokio::time::timeout(self.queue, self.permits.clone().acquire_owned()).await {
                    Ok(Ok(permit)) => permit,
                    Err(_elapsed) => return Err(HashError::Busy),
                    // The semaphore is never closed.
                    Ok(Err(_closed)) => return Err(HashError::Failed),
                }
            }
        };
        // The blocking task owns the permit: if the client goes away, the request is dropped
        // but the hash runs on, and its permit stays taken until the hash is done.
        let idle = self.idle.clone();
        tokio::task::spawn_blocking(move || {
            let idle = || idle.lock().unwrap_or_else(PoisonError::into_inner);
            let hasher = idle().pop().unwrap_or_default();
            let result = work(&hasher);
            idle().push(hasher);
            drop(permit);
            result
        })
        .await
        .map_err(|_| HashError::Failed)
    }
}

/// One request in the hash queue: leaves it when dropped.
struct Queued<'a>(&'a watch::Sender<usize>);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

/// The shared store's backend, counting the revocations that come in on its change feed: an
/// entry counts once the revocation store has applied it, that is when the store asks the
/// feed for the next one (it applies each entry before it polls the feed again).
#[derive(Debug)]
struct FeedCounted {
    inner: Arc<dyn RevocationBackend>,
    applied: watch::Sender<u64>,
}

impl RevocationBackend for FeedCounted {
    fn create_session<'a>(
        &'a self,
        session: &'a NewSession<'a>,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        self.inner.create_session(session)
    }

    fn rotate<'a>(
        &'a self,
        rotation: &'a Rotation<'a>,
    ) -> BoxFuture<'a, Result<RotateOutcome, BoxError>> {
        self.inner.rotate(rotation)
    }

    fn revoke<'a>(&'a self, entry: &'a RevocationEntry) -> BoxFuture<'a, Result<(), BoxError>> {
        self.inner.revoke(entry)
    }

    fn load(&self, now: u64) -> BoxFuture<'_, Result<Vec<RevocationEntry>, BoxError>> {
        self.inner.load(now)
    }

    fn subscribe(&self) -> BoxFuture<'_, Result<ChangeStream, BoxError>> {
        Box::pin(async move {
            let feed = self.inner.subscribe().await?;
            let applied = self.applied.clone();
            let counted = futures::stream::unfold((feed, false), move |(mut feed, delivered)| {
                let applied = applied.clone();
                async move {
                    if delivered {
                        applied.send_modify(|n| *n += 1);
                    }
                    let change = futures::StreamExt::next(&mut feed).await?;
                    let delivered = matches!(change, Ok(Change::Entry(_)));
                    Some((change, (feed, delivered)))
                }
            });
            Ok(Box::pin(counted) as ChangeStream)
        })
    }

    fn purge(&self, now: u64) -> BoxFuture<'_, Result<u64, BoxError>> {
        self.inner.purge(now)
    }

    fn heartbeat<'a>(&'a self, beat: &'a Heartbeat) -> BoxFuture<'a, Result<(), BoxError>> {
        self.inner.heartbeat(beat)
    }

    fn list_sessions<'a>(
        &'a self,
        sub: &'a str,
        now: u64,
    ) -> BoxFuture<'a, Result<Vec<LiveSession>, BoxError>> {
        self.inner.list_sessions(sub, now)
    }
}

/// Argon2 (argon2id, its default cost: 19 MiB, 2 passes, 1 lane) that hashes in working memory
/// of its own, kept from one hash to the next. `Argon2::hash_password` allocates 19 MiB per
/// hash, and the system allocator does not give all of that back: under a stream of logins a
/// server's memory kept growing to many times what the hashes in progress were using.
///
/// Its hashes are standard PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$…`); checking a
/// password is `PasswordVerifier::verify_password`, which compares in constant time. It checks
/// hashes of any argon2 cost, and keeps the memory of the largest it has met: every hash this
/// server checks is one it made.
#[derive(Debug, Default)]
pub struct Hasher {
    memory: RefCell<Vec<Block>>,
}

impl Hasher {
    /// Hashes with a random salt (CPU-bound: call it off the async threads).
    pub fn hash(&self, password: &[u8]) -> Result<String, password_hash::Error> {
        let salt = SaltString::generate(&mut OsRng);
        Ok(self.hash_password(password, &salt)?.to_string())
    }

    /// Checks a password against a PHC hash string (CPU-bound: call it off the async threads).
    pub fn verify(&self, password: &[u8], hash: &str) -> bool {
        PasswordHash::new(hash).is_ok_and(|parsed| self.verify_password(password, &parsed).is_ok())
    }
}

impl PasswordHasher for Hasher {
    type Params = Argon2Params;

    /// What `Argon2`'s own implementation does, with `hash_password_into_with_memory`.
    fn hash_password_customized<'a>(
        &self,
        password: &[u8],
        algorithm: Option<Ident<'a>>,
        version: Option<Decimal>,
        params: Argon2Params,
        salt: impl Into<Salt<'a>>,
    ) -> password_hash::Result<PasswordHash<'a>> {
        let algorithm = algorithm
            .map(Argon2Algorithm::try_from)
            .transpose()?
            .unwrap_or_default();
        let version = version
            .map(Argon2Version::try_from)
            .transpose()?
            .unwrap_or_default();
        let salt = salt.into();
        let mut salt_bytes = [0; Salt::MAX_LENGTH];
        let salt_bytes = salt.decode_b64(&mut salt_bytes)?;
        let output_len = params
            .output_len()
            .unwrap_or(Argon2Params::DEFAULT_OUTPUT_LEN);
        let mut memory = self.memory.borrow_mut();
        memory.resize(params.block_count(), Block::default());
        let argon2 = Argon2::new(algorithm, version, params.clone());
        let output = Output::init_with(output_len, |out| {
            Ok(argon2.hash_password_into_with_memory(
                password,
                salt_bytes,
                out,
                memory.as_mut_slice(),
            )?)
        })?;
        Ok(PasswordHash {
            algorithm: algorithm.ident(),
            version: Some(version.into()),
            params: ParamsString::try_from(&params)?,
            salt: Some(salt),
            hash: Some(output),
        })
    }
}

/// The request body of signup and login.
#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

/// Builds the application with everything in memory: loads or generates the key, sets up
/// issuer and sessions, and the routes. A configuration with a shared store needs
/// [`open_stores`] and [`app_with`].
pub fn app(config: &Config) -> Result<App, String> {
    if let Some(store) = &config.store {
        return Err(format!(
            "the {store:?} store is opened with open_stores, then app_with"
        ));
    }
    app_with(config, Stores::default())
}

/// Builds the application over `stores` (from [`open_stores`]).
pub fn app_with(config: &Config, stores: Stores) -> Result<App, String> {
    config.check()?;
    let (key, key_generated) = match &config.signing_key_file {
        Some(path) => {
            let pem = std::fs::read(path)
                .map_err(|err| format!("cannot read SIGNING_KEY_FILE {}: {err}", path.display()))?;
            let key = SigningKey::from_pem(Algorithm::EdDSA, &pem).map_err(|err| {
                format!(
                    "SIGNING_KEY_FILE {} is not an Ed25519 private key in PKCS#8 PEM: {err}",
                    path.display()
                )
            })?;
            (key, false)
        }
        None => (
            SigningKey::generate_ed25519()
                .map_err(|err| format!("cannot generate a signing key: {err}"))?,
            true,
        ),
    };
    let mut builder = Issuer::builder(KeySet::new(key))
        .with_issuer(ISSUER)
        .with_audience(AUDIENCE)
        .with_access_ttl(config.access_ttl)
        .with_refresh_ttl(config.refresh_ttl)
        .with_session_ttl(config.session_ttl)
        .with_leeway(config.leeway);
    if let Some(clock) = &config.clock {
        builder = builder.with_clock(clock.clone());
    }
    let (feed_counter, feed_applied) = watch::channel(0);
    if let Some(inner) = stores.backend {
        builder = builder.with_revocation_backend(Arc::new(FeedCounted {
            inner,
            applied: feed_counter,
        }));
    }
    let issuer = builder
        .build()
        .map_err(|err| format!("invalid configuration: {err}"))?;
    let sessions = Sessions::builder(issuer.clone())
        .with_reuse_grace(config.reuse_grace)
        .build()
        .map_err(|err| format!("invalid configuration: {err}"))?;
    let hasher = Hasher::default();
    let dummy_hash = hasher
        .hash(b"not the password of anyone")
        .map_err(|err| format!("cannot hash a password: {err}"))?;
    let hash_permits = Arc::new(Semaphore::new(config.hash_concurrency));
    let (hash_waiting, hash_queue) = watch::channel(0);
    // The demo page's transport: plain http here, hence no `Secure` (a warning says so).
    let transport = CookieTransport::mounted_at(format!("{DEMO_PREFIX}/auth"))
        .allow_insecure_http()
        .build()
        .map_err(|err| format!("invalid cookie transport: {err}"))?;
    let state = AppState {
        sessions: sessions.clone(),
        users: stores.users,
        dummy_hash: dummy_hash.into(),
        hashers: Hashers {
            permits: hash_permits.clone(),
            queue: config.hash_queue,
            waiting: hash_waiting,
            idle: Arc::new(Mutex::new(vec![hasher])),
        },
        transport: transport.clone(),
    };

    let auth = BearerAuthLayer::new(&issuer)
        .with_realm(REALM)
        .on_rejection(JsonBodyRejection);
    let router = Router::new()
        .route("/me", get(me))
        // `route_layer`: only matched routes require a token, so unknown paths stay 404.
        .route_layer(auth.clone())
        // The same layer, requiring the `admin` scope too.
        .route(
            "/admin",
            get(admin).route_layer(auth.require_scope(["admin"])),
        )
        .route("/health", get(health))
        .route("/auth/signup", post(signup))
        .route("/auth/login", post(login))
        .nest("/auth", token_routes(sessions.clone(), &auth))
        .route(
            "/.well-known/jwks.json",
            get_service(JwksService::new(issuer.keys())),
        )
        .merge(demo_routes(&sessions, &auth, &transport))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(log_request))
        .with_state(state);
    Ok(App {
        router,
        issuer,
        key_generated,
        hash_permits,
        hash_queue,
        feed_applied,
    })
}

/// Serves `app` on `listener` until `shutdown` completes, then lets open requests finish.
/// Also runs the revocation store's background task, which purges what can no longer matter
/// every minute.
pub async fn serve(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let purge = tokio::spawn(app.issuer.revocation().clone().run());
    let served = axum::serve(listener, app.router)
        .with_graceful_shutdown(shutdown)
        .await;
    purge.abort();
    served
}

/// One `info` line per request: method, path (never the query, which may hold a token),
/// status and time taken, and why a request was refused: the reason the bearer layer, or the
/// error a token endpoint, put in the response's extensions.
async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    let extensions = response.extensions();
    if let Some(refused) = extensions.get::<AuthError>() {
        let reason = refused.reason();
        tracing::info!(%method, path, status, micros, reason, "request refused");
    } else if let Some(error) = extensions.get::<ErrorResponse>() {
        let (error, why) = (error.error(), error.description());
        tracing::info!(%method, path, status, micros, error, why, "request failed");
    } else {
        tracing::info!(%method, path, status, micros, "request");
    }
    response
}

// ----- handlers -----

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn signup(
    State(state): State<AppState>,
    body: Result<Json<Credentials>, BodyRejection>,
) -> Response {
    sign_up(&state, body, None).await
}

async fn login(
    State(state): State<AppState>,
    body: Result<Json<Credentials>, BodyRejection>,
) -> Response {
    log_in(&state, body, None).await
}

/// Signup, answered with the tokens in the body, or in the cookies of `transport`.
async fn sign_up(
    state: &AppState,
    body: Result<Json<Credentials>, BodyRejection>,
    transport: Option<&CookieTransport>,
) -> Response {
    let Credentials { username, password } = match body {
        Ok(Json(credentials)) => credentials,
        Err(rejection) => return body_error(&rejection),
    };
    let checked = normalise_username(&username).and_then(|username| {
        check_password(&password)?;
        Ok(username)
    });
    let username = match checked {
        Ok(username) => username,
        Err(why) => return error(StatusCode::BAD_REQUEST, "invalid_request", why),
    };
    // A cheap early answer; `create` below makes the decision.
    match state.users.password_hash(&username).await {
        Ok(Some(_)) => return username_taken(),
        Ok(None) => {}
        Err(StoreError) => return ErrorResponse::unavailable().into_response(),
    }
    let password_hash = match state
        .hashers
        .run(move |hasher| hasher.hash(password.as_bytes()))
        .await
    {
        Ok(Ok(hash)) => hash,
        Err(HashError::Busy) => return busy(),
        Ok(Err(_)) | Err(HashError::Failed) => return server_error(),
    };
    match state.users.create(&username, password_hash).await {
        Ok(true) => {}
        Ok(false) => return username_taken(),
        Err(StoreError) => return ErrorResponse::unavailable().into_response(),
    }
    issue(state, &username, USER_SCOPE, StatusCode::CREATED, transport).await
}

/// Login, answered with the tokens in the body, or in the cookies of `transport`.
async fn log_in(
    state: &AppState,
    body: Result<Json<Credentials>, BodyRejection>,
    transport: Option<&CookieTransport>,
) -> Response {
    let Credentials { username, password } = match body {
        Ok(Json(credentials)) => credentials,
        Err(rejection) => return body_error(&rejection),
    };
    // A name that cannot be a username names no account.
    let known = match normalise_username(&username) {
        Ok(username) => match state.users.password_hash(&username).await {
            Ok(hash) => hash.map(|hash| (username, hash)),
            Err(StoreError) => return ErrorResponse::unavailable().into_response(),
        },
        Err(_) => None,
    };
    let (account, hash) = match known {
        Some((username, hash)) => (Some((username, USER_SCOPE)), hash),
        // Unknown user: the same work as for a wrong password, then the same answer.
        None => (None, state.dummy_hash.to_string()),
    };
    let matches = state
        .hashers
        .run(move |hasher| hasher.verify(password.as_bytes(), &hash))
        .await;
    match (matches, account) {
        (Ok(true), Some((username, scope))) => {
            issue(state, &username, scope, StatusCode::OK, transport).await
        }
        (Ok(_), _) => error(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "unknown username or wrong password",
        ),
        (Err(HashError::Busy), _) => busy(),
        (Err(HashError::Failed), _) => server_error(),
    }
}

async fn me(claims: Claims) -> Json<Value> {
    Json(json!({
        "sub": claims.sub,
        "sid": claims.sid,
        "scope": claims.scope,
        "exp": claims.exp,
    }))
}

async fn admin(claims: Claims) -> Json<Value> {
    Json(json!({ "message": format!("hello, administrator {}", claims.sub) }))
}

// ----- the demo page -----

/// Where the demo page's cookie-transport routes are mounted.
pub const DEMO_PREFIX: &str = "/browser";

const DEMO_HTML: &str = include_str!("quickstart/index.html");
const DEMO_JS: &str = include_str!("quickstart/app.js");

/// The page, its script, and its routes under [`DEMO_PREFIX`]: signup and login answered
/// with cookies, `/me` and the token routes under the cookie transport.
fn demo_routes(
    sessions: &Sessions,
    auth: &BearerAuthLayer<tower_jwt_auth::token::NoCustomClaims, JsonBodyRejection>,
    transport: &CookieTransport,
) -> Router<AppState> {
    let browser_auth = auth.clone().with_cookie_transport(transport);
    let api = Router::new()
        .route("/me", get(me))
        .route_layer(browser_auth)
        .route("/signup", post(browser_signup))
        .route("/login", post(browser_login));
    Router::new()
        .route(
            "/",
            get(|| async { static_file(DEMO_HTML, "text/html; charset=utf-8") }),
        )
        .route(
            "/demo/app.js",
            get(|| async { static_file(DEMO_JS, "text/javascript; charset=utf-8") }),
        )
        .nest(DEMO_PREFIX, api)
        .merge(cookie_token_routes(sessions.clone(), auth, transport))
}

/// An embedded file; the page loads scripts from its own origin only.
fn static_file(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'self'",
        ),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

async fn browser_signup(
    State(state): State<AppState>,
    body: Result<Json<Credentials>, BodyRejection>,
) -> Response {
    sign_up(&state, body, Some(&state.transport)).await
}

async fn browser_login(
    State(state): State<AppState>,
    body: Result<Json<Credentials>, BodyRejection>,
) -> Response {
    log_in(&state, body, Some(&state.transport)).await
}

// ----- helpers -----

/// The account a username names: its RFC 8265 form (PRECIS `UsernameCaseMapped`: width
/// mapping, lower case, NFC, then the checks of the profile), which is also the `sub` of the
/// account's tokens. Refuses what the profile refuses and names over the length limits.
fn normalise_username(username: &str) -> Result<String, &'static str> {
    const TOO_LONG: &str = "username must be at most 64 characters";
    if username.is_empty() {
        return Err("username must not be empty");
    }
    if username.len() > MAX_USERNAME_BYTES {
        return Err(TOO_LONG);
    }
    let normalised = UsernameCaseMapped::enforce(username).map_err(|_| {
        "username must be letters, digits and printable ASCII, without spaces, control or \
         invisible characters (RFC 8265)"
    })?;
    if normalised.chars().count() > MAX_USERNAME_CHARS {
        return Err(TOO_LONG);
    }
    Ok(normalised.into_owned())
}

fn check_password(password: &str) -> Result<(), &'static str> {
    let password_chars = password.chars().count();
    if password_chars < MIN_PASSWORD_CHARS {
        return Err("password must be at least 8 characters");
    }
    if password_chars > MAX_PASSWORD_CHARS {
        return Err("password must be at most 1024 characters");
    }
    Ok(())
}

/// A new session for `username`: the token response with `status`, or the cookies of
/// `transport`.
async fn issue(
    state: &AppState,
    username: &str,
    scope: &str,
    status: StatusCode,
    transport: Option<&CookieTransport>,
) -> Response {
    match state.sessions.start_with_scope(username, scope).await {
        Ok(pair) => match transport {
            Some(transport) => transport.token_response(status, &pair).into_response(),
            None => token_response(status, &pair).into_response(),
        },
        Err(StartError::Store(_)) => ErrorResponse::unavailable().into_response(),
        Err(_) => server_error(),
    }
}

/// An OAuth-style JSON error `{"error", "error_description"}`.
fn error(status: StatusCode, code: &'static str, description: &'static str) -> Response {
    ErrorResponse::new(status, code, description).into_response()
}

fn username_taken() -> Response {
    error(
        StatusCode::CONFLICT,
        "username_taken",
        "that username is already registered",
    )
}

fn server_error() -> Response {
    ErrorResponse::server_error().into_response()
}

/// 503 `temporarily_unavailable` with `Retry-After`: every hasher stayed busy.
fn busy() -> Response {
    let mut response = ErrorResponse::unavailable().into_response();
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(BUSY_RETRY_AFTER_SECS));
    response
}

/// The JSON error for a body the `Json` extractor refused (always a 4xx).
fn body_error(rejection: &BodyRejection) -> Response {
    let status = rejection.status();
    let description = match rejection {
        BodyRejection::JsonDataError(_) => {
            "body must be a JSON object with the string fields username and password"
        }
        BodyRejection::JsonSyntaxError(_) => "body is not valid JSON",
        BodyRejection::MissingJsonContentType(_) => "send Content-Type: application/json",
        _ if status == StatusCode::PAYLOAD_TOO_LARGE => "request body too large",
        _ => "request body could not be read",
    };
    error(status, "invalid_request", description)
}

// ----- main -----

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("quickstart: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    init_logging()?;
    let config = Config::from_env()?;
    let app = app_with(&config, open_stores(&config).await?)?;
    let listener = TcpListener::bind(&config.addr)
        .await
        .map_err(|err| format!("cannot listen on ADDR={}: {err}", config.addr))?;
    if app.key_generated {
        eprintln!(
            "no SIGNING_KEY_FILE: generated an Ed25519 signing key (kid {}); tokens will not \
             survive a restart",
            app.issuer.keys().signing_kid().unwrap_or_default()
        );
    }
    let shutdown = shutdown_signal()?;
    let addr = listener
        .local_addr()
        .map_err(|err| format!("cannot read the bound address: {err}"))?;
    println!("listening on http://{addr}");
    serve(listener, app, shutdown)
        .await
        .map_err(|err| format!("server failed: {err}"))
}

/// Logs to standard error (standard output carries only the "listening" line) at the level
/// of `RUST_LOG`, by default `info`.
fn init_logging() -> Result<(), String> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.is_empty() => {
            tracing_subscriber::EnvFilter::try_new(&directives)
                .map_err(|err| format!("RUST_LOG={directives:?} is invalid: {err}"))?
        }
        _ => tracing_subscriber::EnvFilter::new("info"),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(false)
        .try_init()
        .map_err(|err| format!("cannot install the logger: {err}"))
}

/// Completes on Ctrl-C (or, on Unix, SIGTERM). The handlers are in place when this returns,
/// so a signal sent as soon as the "listening" line is out is not missed.
fn shutdown_signal() -> Result<impl Future<Output = ()>, String> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let listen = |kind| signal(kind).map_err(|err| format!("cannot handle signals: {err}"));
        let mut interrupt = listen(SignalKind::interrupt())?;
        let mut terminate = listen(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            // If the handler cannot be installed, serve on rather than stop at once.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}
