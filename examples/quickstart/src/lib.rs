//! A complete account service on axum: signup and login with argon2 password hashes, then the
//! whole token life cycle over HTTP — refresh with rotation and reuse detection, logout of one
//! device or of every device, RFC 7009 revocation, the public key set, and routes protected by
//! a bearer token and by a scope. Users, sessions and revocations live in memory, or in Redis,
//! PostgreSQL or SQLite shared by several instances (see *A shared store* below).
//!
//! ```sh
//! cargo run -p quickstart
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
//! | `PUBLIC_URL` | `http://` and the address bound | the server's URL as clients reach it: the tokens' `iss` and the base of its metadata; `https://HOST[:PORT]`, or `http://` on a loopback address |
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
//! | `RUST_LOG` | `info` | log filter: a level, or `target=level` directives separated by commas; logs go to standard error, one line per request at `info` |
//! | `STORE_PREFIX` | `quickstart` | prefix of the shared store's keys or tables (`a-z`, `0-9`, `_`; at most 30) |
//! | `HEADER_READ_TIMEOUT_SECS` | `5` | a connection that has not sent a request's headers by then is closed (1 to 3600) |
//! | `IDLE_TIMEOUT_SECS` | `10` | a connection without a request in progress for that long is closed (1 to 3600) |
//! | `MAX_CONNECTIONS` | `1000` | connections served at once; one more is closed as soon as accepted |
//! | `SHUTDOWN_DRAIN_SECS` | `10` | on SIGINT or SIGTERM, how long requests in progress may take to finish |
//!
//! Without `SIGNING_KEY_FILE` a new key is generated at every start (a line on standard error
//! says so), and tokens from an earlier run no longer verify. An empty variable counts as unset;
//! an invalid value stops the server with a message naming the variable and a non-zero exit.
//!
//! # A shared store
//!
//! With `REDIS_URL` (built with `--features redis`) or `DATABASE_URL` (`--features postgres` or
//! `--features sqlite`) the server keeps its users, session records and revocations there
//! instead of in memory: instances started with the same `SIGNING_KEY_FILE` and `PUBLIC_URL`
//! over the same store act as one service, and a restart forgets nothing. Each instance follows the others'
//! revocations on the store's change feed (Redis pub/sub, PostgreSQL LISTEN/NOTIFY). A
//! database gets its tables at start (`STORE_PREFIX` then `_sessions`, `_entries`, `_users`);
//! Redis keeps users in the hash `STORE_PREFIX:users`. Setting both variables, a URL of
//! another kind, or one whose feature is not built in stops the server with a message naming
//! the variable. When the store fails, the requests that need it are answered `503
//! temporarily_unavailable` (fail closed).
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
//! profile). By default only its ASCII part: printable ASCII without spaces, upper case
//! mapped to lower case, so `Alice`, `ALICE` and `alice` are one account and
//! `dave.o'brien+test@example.com` is a name; a character outside ASCII is refused, and so
//! are look-alikes from other scripts. With the feature `unicode-usernames` the whole
//! profile: letters and digits of every script, full-width letters mapped (`ａlice` is
//! `alice`), accents composed (NFC). Either way spaces, control characters and invisible or
//! direction-changing characters (a zero-width space, a right-to-left override, …) are
//! refused: signup answers 400, and a login with such a name finds no account (401). At most
//! 64 characters once normalised. The normalised name is the account; its tokens carry it as
//! `preferred_username`.
//!
//! # User ids
//!
//! The `sub` of an account's tokens is not its name but a user id drawn at signup (128 random
//! bits, URL-safe base64), stored with the account: in memory, in the Redis hash
//! `STORE_PREFIX:user_ids`, or in the `user_id` column of the users table. A name signed up
//! again, in a new store or after a Redis restart, gets a new id, so tokens of the old account,
//! still validly signed by the same `SIGNING_KEY_FILE`, never pass for the new one. A users
//! table made before the user ids gets the column at start, and its accounts an id at their
//! next login (their earlier tokens keep the name as `sub`).
//!
//! # Sessions a user can see and end
//!
//! Signup and login label the new session with the request's `User-Agent` (cut to 256
//! bytes). `GET /auth/sessions` lists the caller's live sessions with their labels, its own
//! marked `current`; `DELETE /auth/sessions/{id}` ends one of them (another user's session is
//! `404`, as an unknown one). The demo page shows them as "where you are signed in".
//!
//! # Endpoints
//!
//! | route | auth | answer |
//! | --- | --- | --- |
//! | `GET /health` | none | 200 |
//! | `POST /auth/signup` `{"username","password"}` | none; optional `DPoP` proof | 201 token response; 409 if the name is taken; 503 when busy; 400 `invalid_dpop_proof` |
//! | `POST /auth/login` `{"username","password"}` | none; optional `DPoP` proof | 200 token response; 401 on bad credentials; 503 when busy; 400 `invalid_dpop_proof` |
//! | `POST /auth/refresh` `{"refresh_token"}` (or the RFC 6749 form) | none; a `DPoP` proof for a bound session | 200 next token pair; 400 `invalid_grant`, `invalid_dpop_proof` |
//! | `POST /auth/revoke` `{"token"}` (or the RFC 7009 form) | none | 200, also for unknown tokens |
//! | `POST /auth/logout` | bearer or DPoP | 204: this session's tokens stop working |
//! | `POST /auth/logout-all` | bearer or DPoP | 204: every session of the user stops |
//! | `GET /auth/sessions` | bearer or DPoP | 200 `{"sessions":[{"id","started_ms","last_refreshed_ms","label","current"}]}` |
//! | `DELETE /auth/sessions/{id}` | bearer or DPoP | 204: that session of the user ends; 404 for any other id |
//! | `GET /me` | bearer or DPoP | 200 `{"sub","preferred_username","sid","scope","exp"}` |
//! | `GET /admin` | bearer or DPoP, scope `admin` | 200; 403 `insufficient_scope` otherwise |
//! | `GET /.well-known/jwks.json`, `GET /auth/jwks.json` | none | the public key set |
//! | `GET /.well-known/oauth-authorization-server` | none | RFC 8414 metadata: `issuer`, `jwks_uri`, `token_endpoint`, `revocation_endpoint` |
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
//! | `GET /browser/auth/sessions` | access cookie | as `/auth/sessions` |
//! | `DELETE /browser/auth/sessions/{id}` | access cookie + `X-CSRF-Token` | as `/auth/sessions/{id}` (cookies deleted when it is the caller's own) |
//!
//! The quickstart serves plain http, so its cookies go without `Secure` (and without the
//! `__Host-` prefix, which needs it); a real deployment serves https and keeps the default.
//! Open `http://127.0.0.1:3000/` after `cargo run -p quickstart`; `ACCESS_TTL_SECS=10`
//! shows a refresh every few seconds.
//!
//! Access tokens are EdDSA-signed, with `iss` the `PUBLIC_URL` and `aud` `quickstart-api`. A
//! resource server given only that URL finds the keys through the metadata
//! (`RemoteJwks::discover`; the crate's `resource_server` example). Instances of one service
//! share one `PUBLIC_URL`. Signup
//! users get the scopes `read write`.
//!
//! A signup or login with a `DPoP` proof (RFC 9449, `htu` the `PUBLIC_URL` and the route's
//! path) starts a session bound to the proof's key: its token response says `token_type:
//! DPoP`, and each of its refreshes needs a new proof of the same key. Each proof is accepted
//! once, across every instance that shares the store (Redis or SQL; in memory, this instance
//! alone). A bound access token is accepted only as `Authorization: DPoP …` with a proof of
//! its key (`ath` its hash), never as a bearer token. Every token response carries `Cache-Control: no-store`;
//! every error is JSON `{"error": …, "error_description": …}`.
//!
//! # Try it
//!
//! The package's `README.md` walks through every endpoint with curl, and starts two instances
//! over one Redis or PostgreSQL.

mod config;
mod demo;
mod feed;
mod hashing;
mod routes;
mod serve;
#[cfg(any(feature = "postgres", feature = "sqlite"))]
mod sql;
mod usernames;
mod users;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    extract::DefaultBodyLimit,
    middleware,
    routing::{get, get_service, post},
};
use tokio::sync::{Semaphore, watch};
use tower_jwt_auth::{
    BearerAuthLayer, Issuer, KeySet, Sessions, SigningKey,
    dpop::{DpopPolicy, ProofVerifier},
    endpoints::{JwksService, MetadataService},
    keys::Algorithm,
    token_routes,
    transport::CookieTransport,
};

pub use config::{Config, ENV_VARS, StoreUrl};
pub use demo::DEMO_PREFIX;
pub use hashing::Hasher;
pub use routes::Profile;
pub use serve::{Limits, serve};
pub use users::{Stores, open_stores};

use crate::{
    demo::demo_routes,
    feed::FeedCounted,
    hashing::Hashers,
    routes::{admin, health, log_request, login, me, signup},
    users::Users,
};

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
/// The longest session label, in bytes: a longer `User-Agent` is cut.
pub const MAX_LABEL_BYTES: usize = 256;
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
/// The longest `HEADER_READ_TIMEOUT_SECS`, `IDLE_TIMEOUT_SECS` and `SHUTDOWN_DRAIN_SECS`.
pub const MAX_CONNECTION_TIMEOUT: Duration = Duration::from_secs(3600);
/// The largest `MAX_CONNECTIONS`.
pub const MAX_CONNECTIONS: usize = 1 << 20;
/// The `Retry-After` of a 503 answered because every hasher was busy, in seconds.
pub const BUSY_RETRY_AFTER_SECS: u64 = 1;

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
    /// The bounds of serving: timeouts, connection cap, shutdown drain.
    pub limits: Limits,
}

#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) sessions: Sessions,
    pub(crate) users: Users,
    /// A hash to verify against when the user does not exist, so that a login for an unknown
    /// name takes as long as one with a wrong password.
    pub(crate) dummy_hash: Arc<str>,
    pub(crate) hashers: Hashers,
    /// The demo page's cookie transport.
    pub(crate) transport: CookieTransport,
    /// Checks the DPoP proofs (RFC 9449) of signup, login and refresh.
    pub(crate) dpop: ProofVerifier,
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
    let issuer_url = config.issuer_url();
    let mut builder = Issuer::builder(KeySet::new(key))
        .with_issuer(&issuer_url)
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
    // RFC 8414 metadata, naming the token routes nested at `/auth`.
    let metadata = MetadataService::new(&issuer, "/auth").map_err(|_| {
        if config.public_url.is_some() {
            format!("PUBLIC_URL {issuer_url} must be https, or http on a loopback address")
        } else {
            format!(
                "{issuer_url} (from ADDR) is not a loopback address: set PUBLIC_URL to the \
                 https URL clients reach this server at"
            )
        }
    })?;
    let metadata_path = metadata.path().to_owned();
    // DPoP proofs name this server's public URL; each is accepted once, remembered where the
    // store keeps its state: in Redis or the database, which every instance shares, or in
    // this instance's memory (bounded) on the in-memory default.
    let mut dpop =
        ProofVerifier::builder(&issuer_url).with_replay_cache(issuer.revocation().replay_cache());
    if let Some(clock) = &config.clock {
        dpop = dpop.with_clock(clock.clone());
    }
    let dpop = dpop
        .build()
        .map_err(|err| format!("invalid DPoP origin {issuer_url}: {err}"))?;
    // The metadata tells clients the proof algorithms the token routes take.
    let metadata = metadata.with_dpop(&dpop);
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
        dpop: dpop.clone(),
    };

    // Bearer tokens, and DPoP-bound ones with a proof of their key on every request.
    let auth = BearerAuthLayer::new(&issuer)
        .with_claims::<Profile>()
        .with_realm(REALM)
        .with_dpop(dpop, DpopPolicy::Optional);
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
        .route_service(&metadata_path, metadata)
        .merge(demo_routes(&sessions, &auth, &transport))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(log_request))
        .with_state(state);
    Ok(App {
        limits: Limits {
            header_read_timeout: config.header_read_timeout,
            idle_timeout: config.idle_timeout,
            max_connections: config.max_connections,
            shutdown_drain: config.shutdown_drain,
        },
        router,
        issuer,
        key_generated,
        hash_permits,
        hash_queue,
        feed_applied,
    })
}
