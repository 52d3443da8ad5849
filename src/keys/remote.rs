//! [`RemoteJwks`]: the verify-only key set of a resource server, fetched from another issuer's
//! JWKS over HTTPS and kept fresh in the background (feature `remote-jwks`).

use std::{
    fmt,
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use reqwest::{
    Url,
    header::{ACCEPT, AGE, CACHE_CONTROL, HeaderMap},
    redirect,
};
use serde::Deserialize;
use tokio::{
    sync::Mutex,
    time::{Instant, sleep_until},
};

use super::{Jwk, KeySet, VerifyingKey, discovery, unknown_kid::UnknownKid};

/// The largest JWKS document read; a longer answer is refused (and the last good set kept).
const MAX_DOCUMENT_LEN: usize = 1024 * 1024;
/// Redirects followed, each to a URL the configured one's rules allow.
const MAX_REDIRECTS: usize = 5;
/// The first retry after a failed fetch; each further failure doubles it, up to the floor.
const FIRST_RETRY: Duration = Duration::from_secs(1);

/// Why a [`RemoteJwks`] could not be built, or a fetch of its document failed.
///
/// The build errors are [`InvalidUrl`](Self::InvalidUrl),
/// [`InsecureUrl`](Self::InsecureUrl), [`Interval`](Self::Interval) and
/// [`Client`](Self::Client); the others come from
/// [`refresh_now`](RemoteJwks::refresh_now), and leave the last good key set in place.
/// Messages never contain key material nor the URL's credentials or query.
///
/// ```
/// use tower_jwt_auth::keys::{RemoteJwks, RemoteJwksError};
///
/// let err = RemoteJwks::builder("http://auth.example/jwks.json").build().unwrap_err();
/// assert!(matches!(err, RemoteJwksError::InsecureUrl));
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "remote-jwks")))]
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteJwksError {
    /// The configured URL is not an absolute URL with a host, or its scheme is neither
    /// `https` nor `http`.
    #[error("invalid JWKS URL: {0}")]
    InvalidUrl(&'static str),
    /// An `http://` URL whose host is not a loopback address (or loopback without
    /// [`allow_http_loopback`](RemoteJwksBuilder::allow_http_loopback)).
    #[error(
        "the JWKS URL must use https (http only for a loopback host, with allow_http_loopback)"
    )]
    InsecureUrl,
    /// A duration of zero, or a floor above the ceiling.
    #[error("invalid interval: {0}")]
    Interval(&'static str),
    /// The HTTP client could not be built (on Linux: no CA certificate in the system's
    /// store, for an `https` URL).
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    /// The request failed: connection, TLS, timeout, or a refused redirect.
    #[error("the JWKS request failed: {0}")]
    Request(String),
    /// The endpoint answered with a status other than 2xx.
    #[error("the JWKS endpoint answered HTTP {0}")]
    Status(u16),
    /// The document is longer than the limit (1 MiB).
    #[error("the JWKS document is longer than {0} bytes")]
    TooLarge(usize),
    /// The document is not a JWK set (a JSON object with a `keys` array).
    #[error("the JWKS document is not a JWK set: {0}")]
    InvalidDocument(&'static str),
    /// Discovery ([`RemoteJwks::discover`]): the issuer's metadata document is not a JSON
    /// object with `issuer` and `jwks_uri` strings, `jwks_uri` being an absolute URL.
    #[error("the issuer's metadata is not usable: {0}")]
    InvalidMetadata(&'static str),
    /// Discovery ([`RemoteJwks::discover`]): the metadata document names another issuer than
    /// the configured one (compared character for character).
    #[error("the metadata document names another issuer")]
    IssuerMismatch,
}

/// A resource server's keys: another issuer's JWKS, fetched over HTTPS, cached and refreshed
/// in the background (feature `remote-jwks`).
///
/// [`keys`](Self::keys) is a verify-only [`KeySet`] to give to
/// [`Verifier::builder`](crate::Verifier::builder); each successful fetch replaces it
/// atomically, for every verifier and layer holding it.
///
/// - **First fetch**: [`refresh_now`](Self::refresh_now), awaited before serving. Until a
///   fetch succeeds the set is empty and every token is refused.
/// - **Schedule**: [`run`](Self::run), spawned, refetches when the document's
///   `Cache-Control: max-age` (less its `Age`) expires, clamped to
///   [the floor](RemoteJwksBuilder::with_min_refresh) and
///   [the ceiling](RemoteJwksBuilder::with_max_refresh); without `max-age`, at the ceiling;
///   with `no-cache` or `no-store`, at the floor.
/// - **Rotation at the issuer**: a token naming a `kid` the set lacks is refused (401) and
///   wakes the task, which refetches at most once per
///   [interval](RemoteJwksBuilder::with_unknown_kid_interval), counted from the last fetch:
///   a storm of forged `kid`s costs at most one fetch per interval, and the next token with
///   the new key verifies.
/// - **Outage**: an HTTP error, a timeout or a document that is not a JWK set keeps the last
///   good set; the task retries after 1 s, doubling up to the floor, and logs a `warn` event
///   per failure and an `info` event on recovery.
/// - **Keys it cannot use** (unsupported key type or algorithm, `alg: none`, an `RSA` key
///   without `alg`, bad base64url, a symmetric `oct` key, two keys with one `kid`) are skipped
///   with a `warn` event naming the `kid` and the reason, never the key; the others are used.
///   Keys whose `use` is not `sig` are skipped silently.
///
/// Keys and URLs are never taken from a token: the URL is the configured one, and a token's
/// `kid` only selects among the keys fetched from it. HTTPS is required (rustls, with the
/// platform's trusted roots), except for a loopback address with
/// [`allow_http_loopback`](RemoteJwksBuilder::allow_http_loopback); redirects are followed
/// only to URLs the same rules allow.
///
/// Cloning is cheap; the clones share one key set and one schedule.
///
/// # Example
///
/// ```no_run
/// use tower_jwt_auth::{BearerAuthLayer, Verifier, keys::RemoteJwks};
///
/// # async fn serve() -> Result<(), Box<dyn std::error::Error>> {
/// let jwks = RemoteJwks::builder("https://auth.example/.well-known/jwks.json").build()?;
/// jwks.refresh_now().await?; // the first fetch, before serving
/// let verifier = Verifier::builder(jwks.keys())
///     .with_issuer("https://auth.example")
///     .with_audience("api")
///     .build()?;
/// tokio::spawn(jwks.run()); // keeps the keys fresh
/// let auth = BearerAuthLayer::new(verifier);
/// # let _ = auth;
/// # Ok(())
/// # }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "remote-jwks")))]
#[derive(Clone)]
pub struct RemoteJwks {
    inner: Arc<Inner>,
}

struct Inner {
    source: Source,
    /// Whether `http://` to a loopback host is allowed (for a discovered `jwks_uri` too).
    allow_http_loopback: bool,
    /// The configured URL as logged: scheme, host, port and path only.
    shown: String,
    client: reqwest::Client,
    keys: KeySet,
    signal: Arc<UnknownKid>,
    min_refresh: Duration,
    max_refresh: Duration,
    unknown_kid_interval: Duration,
    /// Held for the whole of a fetch: fetches never overlap.
    state: Mutex<State>,
}

/// Where the key set comes from.
enum Source {
    /// A JWKS URL, configured.
    Jwks(Url),
    /// An issuer whose metadata names the JWKS URL.
    Issuer {
        /// The issuer as configured: the metadata's `issuer` must be exactly this.
        issuer: String,
        /// The metadata locations, tried in order.
        metadata: [Url; 2],
    },
}

#[derive(Debug, Default)]
struct State {
    /// The `jwks_uri` found by discovery; cleared by a failed fetch, so that the next one
    /// reads the metadata again (the issuer may have moved its keys).
    discovered: Option<Url>,
    /// When the last fetch started.
    last_fetch: Option<Instant>,
    /// When the next scheduled fetch is due; `None` before the first.
    next_due: Option<Instant>,
    /// Failures in a row.
    failures: u32,
}

impl State {
    /// When the task should fetch next: the schedule, or sooner for an unknown `kid`, but
    /// never within `interval` of the last fetch.
    fn due(&self, unknown_kid: bool, interval: Duration, now: Instant) -> Instant {
        let scheduled = self.next_due.unwrap_or(now);
        if !unknown_kid {
            return scheduled;
        }
        let earliest = self.last_fetch.map_or(now, |last| after(last, interval));
        scheduled.min(earliest)
    }
}

/// `start + delay`, without overflow: a delay too far out for the clock is a year.
fn after(start: Instant, delay: Duration) -> Instant {
    start
        .checked_add(delay)
        .or_else(|| start.checked_add(Duration::from_secs(365 * 24 * 3600)))
        .unwrap_or(start)
}

impl fmt::Debug for RemoteJwks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        f.debug_struct("RemoteJwks")
            .field("url", &inner.shown)
            .field("issuer", &self.issuer())
            .field("min_refresh", &inner.min_refresh)
            .field("max_refresh", &inner.max_refresh)
            .field("unknown_kid_interval", &inner.unknown_kid_interval)
            .field("keys", &inner.keys)
            .finish_non_exhaustive()
    }
}

impl RemoteJwks {
    /// A builder for the JWKS at `url` (checked by [`build`](RemoteJwksBuilder::build)).
    ///
    /// Defaults: refresh between 60 s and 1 h, at most one refetch per 5 s for unknown
    /// `kid`s, 10 s timeout, HTTPS only.
    ///
    /// ```
    /// use tower_jwt_auth::keys::RemoteJwks;
    ///
    /// let jwks = RemoteJwks::builder("https://auth.example/.well-known/jwks.json").build()?;
    /// assert!(jwks.keys().verifying_keys().is_empty()); // nothing fetched yet
    /// # Ok::<(), tower_jwt_auth::keys::RemoteJwksError>(())
    /// ```
    pub fn builder(url: impl Into<String>) -> RemoteJwksBuilder {
        RemoteJwksBuilder {
            url: url.into(),
            discover: false,
            min_refresh: Duration::from_secs(60),
            max_refresh: Duration::from_secs(3600),
            unknown_kid_interval: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            allow_http_loopback: false,
        }
    }

    /// A builder for the key set of `issuer`, found through its metadata: the OpenID Connect
    /// discovery document (`{issuer}/.well-known/openid-configuration`) or, when that one is
    /// not found (404 or 410), the RFC 8414 authorization server metadata
    /// (`/.well-known/oauth-authorization-server` followed by the issuer's path). The
    /// document's `issuer` must equal `issuer` exactly, else the fetch fails with
    /// [`IssuerMismatch`](RemoteJwksError::IssuerMismatch); its `jwks_uri` must obey the same
    /// rules as a configured URL (`https`, or loopback `http` when allowed).
    ///
    /// The metadata is read at the first fetch and again after any failed fetch; the keys
    /// are then fetched and refreshed from the `jwks_uri` as described on [`RemoteJwks`].
    /// [`issuer`](Self::issuer) gives the issuer back, for
    /// [`VerifierBuilder::with_issuer`](crate::token::VerifierBuilder::with_issuer).
    ///
    /// ```no_run
    /// use tower_jwt_auth::{Verifier, keys::RemoteJwks};
    ///
    /// # async fn start() -> Result<(), Box<dyn std::error::Error>> {
    /// let jwks = RemoteJwks::discover("https://auth.example").build()?;
    /// jwks.refresh_now().await?; // reads the metadata, then the keys
    /// let verifier = Verifier::builder(jwks.keys())
    ///     .with_issuer("https://auth.example")
    ///     .with_audience("api")
    ///     .build()?;
    /// tokio::spawn(jwks.run());
    /// # let _ = verifier;
    /// # Ok(())
    /// # }
    /// ```
    pub fn discover(issuer: impl Into<String>) -> RemoteJwksBuilder {
        RemoteJwksBuilder {
            discover: true,
            ..Self::builder(issuer)
        }
    }

    /// The issuer of a key set built by [`discover`](Self::discover), as configured; `None`
    /// for one built from a JWKS URL.
    ///
    /// ```
    /// use tower_jwt_auth::keys::RemoteJwks;
    ///
    /// let jwks = RemoteJwks::discover("https://auth.example").build()?;
    /// assert_eq!(jwks.issuer(), Some("https://auth.example"));
    /// let direct = RemoteJwks::builder("https://auth.example/jwks.json").build()?;
    /// assert_eq!(direct.issuer(), None);
    /// # Ok::<(), tower_jwt_auth::keys::RemoteJwksError>(())
    /// ```
    pub fn issuer(&self) -> Option<&str> {
        match &self.inner.source {
            Source::Jwks(_) => None,
            Source::Issuer { issuer, .. } => Some(issuer),
        }
    }

    /// The verify-only key set fed by this JWKS, for
    /// [`Verifier::builder`](crate::Verifier::builder). Every clone is the same set: each
    /// fetch replaces its keys, for all of them at once. Keys published on it by hand are
    /// dropped by the next fetch.
    ///
    /// ```
    /// use tower_jwt_auth::{Verifier, keys::RemoteJwks};
    ///
    /// let jwks = RemoteJwks::builder("https://auth.example/.well-known/jwks.json").build()?;
    /// let verifier = Verifier::builder(jwks.keys()).with_audience("api").build()?;
    /// assert_eq!(verifier.keys().signing_kid(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn keys(&self) -> KeySet {
        self.inner.keys.clone()
    }

    /// Fetches the document now and replaces the key set with its usable keys. On failure
    /// the last good set stays (empty before the first success) and the error says why; a
    /// `warn` event is logged as well.
    ///
    /// Await it at start, before serving, so that the first requests find the keys; it
    /// also moves the schedule of [`run`](Self::run). Concurrent calls wait for each other.
    ///
    /// ```no_run
    /// use tower_jwt_auth::keys::RemoteJwks;
    ///
    /// # async fn start() -> Result<(), Box<dyn std::error::Error>> {
    /// let jwks = RemoteJwks::builder("https://auth.example/.well-known/jwks.json").build()?;
    /// jwks.refresh_now().await?;
    /// println!("{} keys", jwks.keys().verifying_keys().len());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn refresh_now(&self) -> Result<(), RemoteJwksError> {
        let mut state = self.inner.state.lock().await;
        self.inner.fetch(&mut state).await
    }

    /// Keeps the key set fresh, until the future is dropped (spawn it): fetches per the
    /// schedule described on [`RemoteJwks`] — immediately if no fetch was made yet — and
    /// early, at most once per interval, when a verifier meets an unknown `kid`. Failures
    /// keep the last good set and are retried with backoff; each is logged (`warn`), and so
    /// is the recovery (`info`).
    ///
    /// ```no_run
    /// use tower_jwt_auth::keys::RemoteJwks;
    ///
    /// # async fn start() -> Result<(), Box<dyn std::error::Error>> {
    /// let jwks = RemoteJwks::builder("https://auth.example/.well-known/jwks.json").build()?;
    /// let keys = jwks.keys();
    /// let task = tokio::spawn(jwks.run());
    /// // ... serve with `keys`; at shutdown:
    /// task.abort();
    /// # let _ = keys;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn run(self) {
        let inner = &*self.inner;
        let mut unknown_kid = false;
        loop {
            let due = inner.state.lock().await.due(
                unknown_kid,
                inner.unknown_kid_interval,
                Instant::now(),
            );
            if due > Instant::now() {
                tokio::select! {
                    () = sleep_until(due) => {}
                    () = inner.signal.notify.notified() => unknown_kid = true,
                }
                continue;
            }
            let mut state = inner.state.lock().await;
            // `refresh_now` may have fetched while this task waited for the lock.
            let now = Instant::now();
            if state.due(unknown_kid, inner.unknown_kid_interval, now) > now {
                continue;
            }
            if unknown_kid {
                tracing::debug!(
                    url = %inner.shown,
                    "a token named an unknown kid: refetching the JWKS"
                );
            }
            // Tokens met from now on wake the task again; this fetch answers the earlier ones.
            unknown_kid = false;
            inner.signal.pending.store(false, Ordering::Release);
            // The error is logged by `fetch`; the schedule holds the retry.
            let _ = inner.fetch(&mut state).await;
        }
    }
}

impl Inner {
    /// One fetch: replaces the keys on success, and sets the schedule either way.
    async fn fetch(&self, state: &mut State) -> Result<(), RemoteJwksError> {
        let started = Instant::now();
        state.last_fetch = Some(started);
        match self.download(state).await {
            Ok((keys, fresh_for)) => {
                let count = keys.len();
                self.keys.replace_verifying(keys);
                state.next_due = Some(after(started, fresh_for));
                if state.failures > 0 {
                    tracing::info!(
                        url = %self.shown,
                        keys = count,
                        failures = state.failures,
                        "the JWKS is reachable again"
                    );
                } else {
                    tracing::debug!(
                        url = %self.shown,
                        keys = count,
                        next_in_secs = fresh_for.as_secs(),
                        "fetched the JWKS"
                    );
                }
                if count == 0 {
                    tracing::warn!(
                        url = %self.shown,
                        "the JWKS has no usable key: every token is refused"
                    );
                }
                state.failures = 0;
                Ok(())
            }
            Err(err) => {
                state.discovered = None;
                state.failures = state.failures.saturating_add(1);
                let retry = backoff(state.failures, self.min_refresh);
                state.next_due = Some(after(Instant::now(), retry));
                tracing::warn!(
                    url = %self.shown,
                    error = %err,
                    failures = state.failures,
                    retry_in_ms = u64::try_from(retry.as_millis()).unwrap_or(u64::MAX),
                    "cannot refresh the JWKS: keeping the last good keys"
                );
                Err(err)
            }
        }
    }

    /// GETs the key set: its usable keys, and how long it is fresh. With discovery, reads
    /// the metadata first when no `jwks_uri` is known.
    async fn download(
        &self,
        state: &mut State,
    ) -> Result<(Vec<VerifyingKey>, Duration), RemoteJwksError> {
        let url = match &self.source {
            Source::Jwks(url) => url,
            Source::Issuer { issuer, metadata } => {
                if state.discovered.is_none() {
                    state.discovered = Some(self.discover(issuer, metadata).await?);
                }
                state
                    .discovered
                    .as_ref()
                    .ok_or(RemoteJwksError::InvalidMetadata("no `jwks_uri`"))?
            }
        };
        let (headers, body) = self
            .get(url, "application/jwk-set+json, application/json")
            .await?;
        let fresh_for = freshness(&headers, self.min_refresh, self.max_refresh);
        Ok((usable_keys(&body, &self.shown)?, fresh_for))
    }

    /// The `jwks_uri` of `issuer`, from the first of its metadata locations that exists.
    async fn discover(&self, issuer: &str, metadata: &[Url; 2]) -> Result<Url, RemoteJwksError> {
        let mut not_found = None;
        for location in metadata {
            match self.get(location, "application/json").await {
                Ok((_, body)) => {
                    let jwks_uri = discovery::jwks_uri(&body, issuer)?;
                    check_url(&jwks_uri, self.allow_http_loopback)?;
                    tracing::debug!(
                        issuer = %self.shown,
                        jwks_uri = %shown(&jwks_uri),
                        "discovered the issuer's JWKS"
                    );
                    return Ok(jwks_uri);
                }
                // Not at this location: try the next one.
                Err(err @ RemoteJwksError::Status(404 | 410)) => not_found = Some(err),
                Err(err) => return Err(err),
            }
        }
        Err(not_found.unwrap_or(RemoteJwksError::Status(404)))
    }

    /// GETs `url`: the headers and the body of a 2xx answer of at most 1 MiB.
    async fn get(&self, url: &Url, accept: &str) -> Result<(HeaderMap, Vec<u8>), RemoteJwksError> {
        let mut response = self
            .client
            .get(url.clone())
            .header(ACCEPT, accept)
            .send()
            .await
            .map_err(request_error)?;
        let status = response.status();
        if !status.is_success() {
            return Err(RemoteJwksError::Status(status.as_u16()));
        }
        if response
            .content_length()
            .is_some_and(|len| len > MAX_DOCUMENT_LEN as u64)
        {
            return Err(RemoteJwksError::TooLarge(MAX_DOCUMENT_LEN));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(request_error)? {
            if body.len() + chunk.len() > MAX_DOCUMENT_LEN {
                return Err(RemoteJwksError::TooLarge(MAX_DOCUMENT_LEN));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((std::mem::take(response.headers_mut()), body))
    }
}

/// A request error as text: its chain of causes, without the URL.
fn request_error(err: reqwest::Error) -> RemoteJwksError {
    RemoteJwksError::Request(crate::redact::error_chain(&err.without_url()))
}

/// The retry delay after `failures` failures in a row: 1 s, doubling, at most `floor`.
fn backoff(failures: u32, floor: Duration) -> Duration {
    let doublings = failures.saturating_sub(1).min(20);
    FIRST_RETRY.saturating_mul(1 << doublings).min(floor)
}

/// How long a document stays fresh: `Cache-Control: max-age` less `Age`, clamped to
/// `[floor, ceiling]`; `no-cache` or `no-store` mean the floor, no `max-age` the ceiling.
fn freshness(headers: &HeaderMap, floor: Duration, ceiling: Duration) -> Duration {
    let mut max_age = None;
    let directives = headers
        .get_all(CACHE_CONTROL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','));
    for directive in directives {
        let (name, value) = directive.split_once('=').unwrap_or((directive, ""));
        let name = name.trim();
        if name.eq_ignore_ascii_case("no-cache") || name.eq_ignore_ascii_case("no-store") {
            return floor;
        }
        if name.eq_ignore_ascii_case("max-age") {
            // An invalid value makes the response stale; one too large to represent is
            // taken as very large (RFC 9111 §1.2.2, §4.2.1).
            let digits = value.trim().trim_matches('"');
            max_age = Some(
                if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                    digits.parse::<u64>().unwrap_or(u64::MAX)
                } else {
                    0
                },
            );
        }
    }
    let Some(max_age) = max_age else {
        return ceiling;
    };
    let age = headers
        .get(AGE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .unwrap_or(0);
    Duration::from_secs(max_age.saturating_sub(age))
        .max(floor)
        .min(ceiling)
}

/// The document as `{"keys": [...]}`, each key read on its own so that one that is not even
/// a JWK is skipped rather than failing the document.
#[derive(Deserialize)]
struct Document {
    keys: Vec<serde_json::Value>,
}

/// The keys of `body` that this crate can verify with; the others are skipped and logged.
/// A `kid` held by two different keys selects neither.
fn usable_keys(body: &[u8], url: &str) -> Result<Vec<VerifyingKey>, RemoteJwksError> {
    let document: Document = serde_json::from_slice(body)
        .map_err(|_| RemoteJwksError::InvalidDocument("not a JSON object with a `keys` array"))?;
    let mut keys: Vec<VerifyingKey> = Vec::with_capacity(document.keys.len());
    let mut conflicting: Vec<String> = Vec::new();
    for value in document.keys {
        let kid = value
            .get("kid")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned);
        let key = match load(value) {
            Ok(Some(key)) => key,
            Ok(None) => {
                tracing::debug!(
                    url,
                    kid = kid.as_deref(),
                    "skipping a JWKS key not meant for signatures"
                );
                continue;
            }
            Err(reason) => {
                tracing::warn!(
                    url,
                    kid = kid.as_deref(),
                    %reason,
                    "skipping a JWKS key this crate cannot use"
                );
                continue;
            }
        };
        match keys.iter().find(|known| known.kid() == key.kid()) {
            Some(known) if known.same_key(&key) => {}
            Some(_) => conflicting.push(key.kid().to_owned()),
            None => keys.push(key),
        }
    }
    if !conflicting.is_empty() {
        keys.retain(|key| {
            let shared = conflicting.iter().any(|kid| kid == key.kid());
            if shared {
                tracing::warn!(
                    url,
                    kid = key.kid(),
                    "skipping JWKS keys that share one kid"
                );
            }
            !shared
        });
    }
    Ok(keys)
}

/// Why a key of the document is skipped.
enum Skip {
    NotAJwk,
    KeyType,
    Symmetric,
    Key(super::KeyError),
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAJwk => f.write_str("not a JWK (a member is missing or of the wrong type)"),
            Self::KeyType => f.write_str("unsupported key type"),
            Self::Symmetric => f.write_str("a symmetric `oct` key has no place in a public JWKS"),
            Self::Key(err) => fmt::Display::fmt(err, f),
        }
    }
}

/// One key of the document, pinned to its algorithm; `None` for a key whose `use` is not
/// `sig` (an encryption key next to the signature keys).
fn load(value: serde_json::Value) -> Result<Option<VerifyingKey>, Skip> {
    let jwk: Jwk = serde_json::from_value(value).map_err(|_| Skip::NotAJwk)?;
    if jwk.key_use.as_deref().is_some_and(|u| u != "sig") {
        return Ok(None);
    }
    match jwk.kty.as_str() {
        "OKP" | "EC" | "RSA" => {}
        "oct" => return Err(Skip::Symmetric),
        _ => return Err(Skip::KeyType),
    }
    let algorithm = jwk.algorithm().map_err(Skip::Key)?;
    VerifyingKey::from_jwk(&jwk, algorithm)
        .map(Some)
        .map_err(Skip::Key)
}

/// Builds a [`RemoteJwks`]; see [`RemoteJwks::builder`] for the defaults.
#[cfg_attr(docsrs, doc(cfg(feature = "remote-jwks")))]
#[must_use]
pub struct RemoteJwksBuilder {
    url: String,
    discover: bool,
    min_refresh: Duration,
    max_refresh: Duration,
    unknown_kid_interval: Duration,
    timeout: Duration,
    allow_http_loopback: bool,
}

impl fmt::Debug for RemoteJwksBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteJwksBuilder")
            .field(
                "url",
                &Url::parse(&self.url).map_or_else(|_| "[invalid]".to_owned(), |url| shown(&url)),
            )
            .field("discover", &self.discover)
            .field("allow_http_loopback", &self.allow_http_loopback)
            .finish_non_exhaustive()
    }
}

impl RemoteJwksBuilder {
    /// The floor: a document is never refetched on schedule sooner than this after a fetch,
    /// whatever its `max-age` (default 60 s). Also the longest delay between retries while
    /// the endpoint fails.
    ///
    /// ```
    /// # use tower_jwt_auth::keys::RemoteJwks;
    /// let builder = RemoteJwks::builder("https://auth.example/jwks.json");
    /// let builder = builder.with_min_refresh(std::time::Duration::from_secs(300));
    /// let jwks = builder.build()?;
    /// # let _ = jwks;
    /// # Ok::<(), tower_jwt_auth::keys::RemoteJwksError>(())
    /// ```
    pub fn with_min_refresh(mut self, value: Duration) -> Self {
        self.min_refresh = value;
        self
    }

    /// The ceiling: a document is refetched at the latest this long after a fetch, whatever
    /// its `max-age`, and this long after a fetch when it has none (default 1 h).
    ///
    /// ```
    /// # use tower_jwt_auth::keys::RemoteJwks;
    /// let builder = RemoteJwks::builder("https://auth.example/jwks.json");
    /// let builder = builder.with_max_refresh(std::time::Duration::from_secs(15 * 60));
    /// let jwks = builder.build()?;
    /// # let _ = jwks;
    /// # Ok::<(), tower_jwt_auth::keys::RemoteJwksError>(())
    /// ```
    pub fn with_max_refresh(mut self, value: Duration) -> Self {
        self.max_refresh = value;
        self
    }

    /// The shortest time between a fetch and a refetch for a token naming an unknown `kid`
    /// (default 5 s): however many such tokens arrive, they cause at most one fetch per
    /// interval.
    ///
    /// ```
    /// # use tower_jwt_auth::keys::RemoteJwks;
    /// let builder = RemoteJwks::builder("https://auth.example/jwks.json");
    /// let builder = builder.with_unknown_kid_interval(std::time::Duration::from_secs(10));
    /// let jwks = builder.build()?;
    /// # let _ = jwks;
    /// # Ok::<(), tower_jwt_auth::keys::RemoteJwksError>(())
    /// ```
    pub fn with_unknown_kid_interval(mut self, value: Duration) -> Self {
        self.unknown_kid_interval = value;
        self
    }

    /// The longest a fetch may take, connection and body included (default 10 s).
    ///
    /// ```
    /// # use tower_jwt_auth::keys::RemoteJwks;
    /// let builder = RemoteJwks::builder("https://auth.example/jwks.json");
    /// let builder = builder.with_timeout(std::time::Duration::from_secs(3));
    /// let jwks = builder.build()?;
    /// # let _ = jwks;
    /// # Ok::<(), tower_jwt_auth::keys::RemoteJwksError>(())
    /// ```
    pub fn with_timeout(mut self, value: Duration) -> Self {
        self.timeout = value;
        self
    }

    /// Allows an `http://` URL whose host is a loopback address (`127.0.0.0/8`, `::1`,
    /// `localhost`): an issuer on the same machine, or in tests. Any other `http://` URL is
    /// still refused. Such a client uses no proxy.
    ///
    /// ```
    /// use tower_jwt_auth::keys::{RemoteJwks, RemoteJwksError};
    ///
    /// let local = RemoteJwks::builder("http://127.0.0.1:3000/.well-known/jwks.json")
    ///     .allow_http_loopback()
    ///     .build();
    /// assert!(local.is_ok());
    /// let remote = RemoteJwks::builder("http://auth.example/jwks.json")
    ///     .allow_http_loopback()
    ///     .build();
    /// assert!(matches!(remote, Err(RemoteJwksError::InsecureUrl)));
    /// ```
    pub fn allow_http_loopback(mut self) -> Self {
        self.allow_http_loopback = true;
        self
    }

    /// Checks the configuration and builds the [`RemoteJwks`]; fetches nothing.
    ///
    /// Fails on a URL that is not absolute `https` (or loopback `http` when allowed), a
    /// duration of zero, a floor above the ceiling, or an HTTP client that cannot be built.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_jwt_auth::keys::{RemoteJwks, RemoteJwksError};
    ///
    /// let err = RemoteJwks::builder("https://auth.example/jwks.json")
    ///     .with_min_refresh(Duration::from_secs(600))
    ///     .with_max_refresh(Duration::from_secs(60))
    ///     .build()
    ///     .unwrap_err();
    /// assert!(matches!(err, RemoteJwksError::Interval(_)));
    /// let relative = RemoteJwks::builder("jwks.json").build();
    /// assert!(matches!(relative, Err(RemoteJwksError::InvalidUrl(_))));
    /// ```
    pub fn build(self) -> Result<RemoteJwks, RemoteJwksError> {
        let url = Url::parse(&self.url)
            .map_err(|_| RemoteJwksError::InvalidUrl("not an absolute URL"))?;
        let loopback_http = check_url(&url, self.allow_http_loopback)?;
        let source = if self.discover {
            Source::Issuer {
                metadata: discovery::metadata_urls(&url)?,
                issuer: self.url,
            }
        } else {
            Source::Jwks(url.clone())
        };
        if self.min_refresh.is_zero()
            || self.max_refresh.is_zero()
            || self.unknown_kid_interval.is_zero()
            || self.timeout.is_zero()
        {
            return Err(RemoteJwksError::Interval("durations must not be zero"));
        }
        if self.min_refresh > self.max_refresh {
            return Err(RemoteJwksError::Interval(
                "the minimum refresh exceeds the maximum",
            ));
        }
        let allow_http_loopback = self.allow_http_loopback;
        let redirects = redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > MAX_REDIRECTS {
                attempt.error("too many redirects")
            } else if check_url(attempt.url(), allow_http_loopback).is_err() {
                attempt.error("a redirect to a URL that is not allowed")
            } else {
                attempt.follow()
            }
        });
        let mut client = reqwest::Client::builder()
            .user_agent(concat!("tower-jwt-auth/", env!("CARGO_PKG_VERSION")))
            .timeout(self.timeout)
            .connect_timeout(self.timeout)
            .redirect(redirects);
        if loopback_http {
            // Plain HTTP on this machine: no proxy, and no need for the system's CA store.
            client = client
                .no_proxy()
                .tls_certs_only(Vec::<reqwest::Certificate>::new());
        } else {
            client = client.https_only(true);
        }
        let client = client
            .build()
            .map_err(|err| RemoteJwksError::Client(err.without_url().to_string()))?;
        let signal = Arc::new(UnknownKid::default());
        Ok(RemoteJwks {
            inner: Arc::new(Inner {
                shown: shown(&url),
                source,
                allow_http_loopback,
                client,
                keys: KeySet::remote(signal.clone()),
                signal,
                min_refresh: self.min_refresh,
                max_refresh: self.max_refresh,
                unknown_kid_interval: self.unknown_kid_interval,
                state: Mutex::new(State::default()),
            }),
        })
    }
}

/// Checks a URL to fetch from (the configured one, or a redirect's target): `https` with a
/// host, or `http` to a loopback host when allowed. `Ok(true)` for loopback `http`.
pub(crate) fn check_url(url: &Url, allow_http_loopback: bool) -> Result<bool, RemoteJwksError> {
    let host = url
        .host_str()
        .filter(|host| !host.is_empty())
        .ok_or(RemoteJwksError::InvalidUrl("the URL has no host"))?;
    match url.scheme() {
        "https" => Ok(false),
        "http" => {
            if allow_http_loopback && super::is_loopback_host(host) {
                Ok(true)
            } else {
                Err(RemoteJwksError::InsecureUrl)
            }
        }
        _ => Err(RemoteJwksError::InvalidUrl("the scheme must be https")),
    }
}

/// The URL as logged: no credentials, no query, no fragment.
pub(crate) fn shown(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{}://{host}:{port}{}", url.scheme(), url.path()),
        None => format!("{}://{host}{}", url.scheme(), url.path()),
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    const FLOOR: Duration = Duration::from_secs(60);
    const CEILING: Duration = Duration::from_secs(3600);

    fn fresh(headers: &[(&str, &str)]) -> Duration {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        freshness(&map, FLOOR, CEILING)
    }

    #[test]
    fn max_age_is_clamped_to_the_floor_and_the_ceiling() {
        let secs = Duration::from_secs;
        assert_eq!(fresh(&[("cache-control", "max-age=600")]), secs(600));
        assert_eq!(
            fresh(&[("cache-control", "public, MAX-AGE = 600 ")]),
            secs(600)
        );
        assert_eq!(fresh(&[("cache-control", "max-age=\"600\"")]), secs(600));
        assert_eq!(fresh(&[("cache-control", "max-age=5")]), FLOOR);
        assert_eq!(fresh(&[("cache-control", "max-age=86400")]), CEILING);
        assert_eq!(
            fresh(&[("cache-control", "max-age=99999999999999999999")]),
            CEILING
        );
        assert_eq!(fresh(&[("cache-control", "max-age=-1")]), FLOOR);
        assert_eq!(
            fresh(&[("cache-control", "max-age=600"), ("age", "500")]),
            secs(100)
        );
        assert_eq!(
            fresh(&[("cache-control", "max-age=600"), ("age", "900")]),
            FLOOR
        );
        assert_eq!(
            fresh(&[("cache-control", "max-age=600"), ("age", "x")]),
            secs(600)
        );
        // Stale at once, or not to be stored: the floor.
        assert_eq!(fresh(&[("cache-control", "no-cache, max-age=600")]), FLOOR);
        assert_eq!(
            fresh(&[
                ("cache-control", "max-age=600"),
                ("cache-control", "no-store")
            ]),
            FLOOR
        );
        assert_eq!(fresh(&[("cache-control", "max-age=soon")]), FLOOR);
        // No freshness information: the ceiling.
        assert_eq!(fresh(&[]), CEILING);
        assert_eq!(fresh(&[("cache-control", "public")]), CEILING);
        assert_eq!(fresh(&[("cache-control", "s-maxage=600")]), CEILING);
    }

    #[test]
    fn retries_double_from_a_second_up_to_the_floor() {
        let delays: Vec<u64> = (1..=9).map(|n| backoff(n, FLOOR).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(backoff(u32::MAX, FLOOR), FLOOR);
        let short = Duration::from_millis(300);
        assert_eq!(backoff(1, short), short);
    }

    #[test]
    fn only_https_or_loopback_http_is_fetched() {
        let check = |url: &str, loopback| check_url(&Url::parse(url).unwrap(), loopback);
        assert!(matches!(
            check("https://auth.example/jwks", false),
            Ok(false)
        ));
        assert!(matches!(check("https://127.0.0.1/jwks", false), Ok(false)));
        let loopback = [
            "http://127.0.0.1:3000/jwks",
            "http://127.1.2.3/jwks",
            "http://[::1]:8080/jwks",
            "http://localhost/jwks",
            "http://LOCALHOST:1/jwks",
        ];
        let elsewhere = [
            "http://auth.example/jwks",
            "http://10.0.0.1/jwks",
            "http://[::2]/jwks",
            "http://localhost.example/jwks",
            "http://127.0.0.1.example/jwks",
        ];
        let not_http = [
            "ftp://auth.example/jwks",
            "file:///etc/jwks.json",
            "data:,{}",
        ];
        let insecure =
            |url, allowed| matches!(check(url, allowed), Err(RemoteJwksError::InsecureUrl));
        for url in loopback {
            assert!(
                matches!(check(url, true), Ok(true)) && insecure(url, false),
                "{url}"
            );
        }
        for url in elsewhere {
            assert!(insecure(url, true) && insecure(url, false), "{url}");
        }
        for url in not_http {
            let invalid = matches!(check(url, true), Err(RemoteJwksError::InvalidUrl(_)));
            assert!(invalid, "{url}");
        }
    }

    #[test]
    fn logged_urls_have_no_credentials_query_or_fragment() {
        let url = Url::parse("https://user:secret@auth.example:8443/jwks?token=abc#x").unwrap();
        assert_eq!(shown(&url), "https://auth.example:8443/jwks");
        let builder = RemoteJwks::builder(url.as_str());
        assert!(!format!("{builder:?}").contains("secret"));
        let jwks = builder.build().unwrap();
        let debug = format!("{jwks:?}");
        assert!(
            !debug.contains("secret") && !debug.contains("abc"),
            "{debug}"
        );
    }

    #[test]
    fn the_builder_refuses_bad_settings() {
        let zero = Duration::ZERO;
        let url = "https://auth.example/jwks";
        for builder in [
            RemoteJwks::builder(url).with_min_refresh(zero),
            RemoteJwks::builder(url).with_max_refresh(zero),
            RemoteJwks::builder(url).with_unknown_kid_interval(zero),
            RemoteJwks::builder(url).with_timeout(zero),
            RemoteJwks::builder(url).with_min_refresh(CEILING + FLOOR),
        ] {
            assert!(matches!(builder.build(), Err(RemoteJwksError::Interval(_))));
        }
        assert!(matches!(
            RemoteJwks::builder("/jwks.json").build(),
            Err(RemoteJwksError::InvalidUrl(_))
        ));
        // Huge durations are accepted and never overflow the clock.
        let far = RemoteJwks::builder(url)
            .with_min_refresh(Duration::MAX)
            .with_max_refresh(Duration::MAX)
            .build();
        assert!(far.is_ok());
        let now = Instant::now();
        assert!(after(now, Duration::MAX) > now);
    }

    #[test]
    fn a_storm_of_pokes_notifies_once() {
        let signal = UnknownKid::default();
        for _ in 0..1000 {
            signal.poke();
        }
        assert!(signal.pending.load(Ordering::Acquire));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            // One stored permit...
            signal.notify.notified().await;
            // ...and no second one.
            let second = tokio::time::timeout(Duration::from_millis(10), signal.notify.notified());
            assert!(second.await.is_err());
        });
    }
}
