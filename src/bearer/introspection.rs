//! [`Introspector`]: the bearer layer's RFC 7662 client, for a resource server that cannot
//! follow the issuer's revocation store (feature `remote-jwks`).

use std::{fmt, sync::Arc, time::Duration};

use base64::{Engine, engine::general_purpose::STANDARD};
use reqwest::{
    Url,
    header::{ACCEPT, AUTHORIZATION, HeaderValue},
    redirect,
};
use serde::Deserialize;

use crate::{clock::Clock, crypto::digest, keys};

/// The default time an answer is kept: 5 s.
const DEFAULT_TTL: Duration = Duration::from_secs(5);
/// The longest time an answer may be kept: 5 min.
const MAX_TTL: Duration = Duration::from_secs(300);
/// The default number of answers kept.
const DEFAULT_CAPACITY: usize = 10_000;
/// The largest answer read.
const MAX_ANSWER_LEN: usize = 64 * 1024;

/// Why an [`Introspector`] could not be built, or why the issuer gave no usable answer (the
/// layer then answers 503: it never lets a token through unanswered). Messages never contain
/// a token, the client secret, or the URL's credentials or query.
///
/// ```
/// use tower_jwt_auth::bearer::{IntrospectionError, Introspector};
///
/// let err = Introspector::builder("http://auth.example/introspect", "api", "a secret of sixteen")
///     .build()
///     .unwrap_err();
/// assert!(matches!(err, IntrospectionError::InsecureUrl));
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "remote-jwks")))]
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IntrospectionError {
    /// The endpoint is not an absolute URL with a host, or its scheme is not `https`.
    #[error("invalid introspection URL: {0}")]
    InvalidUrl(&'static str),
    /// An `http://` endpoint whose host is not a loopback address (or loopback without
    /// [`allow_http_loopback`](IntrospectorBuilder::allow_http_loopback)).
    #[error("the introspection URL must use https (http only for a loopback host, when allowed)")]
    InsecureUrl,
    /// A setting out of range: an empty client id or one with `:`, an empty secret, a zero
    /// timeout or cache capacity, a cache TTL of zero or above 5 min.
    #[error("invalid introspection setting: {0}")]
    Config(&'static str),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    /// The request failed: connection, TLS, timeout.
    #[error("the introspection request failed: {0}")]
    Request(String),
    /// The endpoint answered with a status other than 2xx (401: wrong client credentials).
    #[error("the introspection endpoint answered HTTP {0}")]
    Status(u16),
    /// The answer is not an RFC 7662 answer about this token: not JSON with a boolean
    /// `active`, too long, or `active` with another `sub` or `jti` than the token's.
    #[error("unusable introspection answer: {0}")]
    InvalidAnswer(&'static str),
}

/// An RFC 7662 introspection client with a short, bounded cache of answers, for
/// [`BearerAuthLayer::with_introspection`](super::BearerAuthLayer::with_introspection)
/// (feature `remote-jwks`).
///
/// A token that verified locally is then also sent to the issuer's introspection endpoint
/// (`POST`, form `token=…`, HTTP Basic client credentials); the answer is kept for at most
/// the [TTL](IntrospectorBuilder::with_cache_ttl) (default 5 s) and never past the token's
/// `exp`, keyed by the token's SHA-256 digest (the token itself is not kept). A revocation at
/// the issuer is thus seen within the TTL. Times are read from the layer's verifier's
/// [`Clock`]. Cloning is cheap: clones share one client and one cache.
///
/// ```
/// use tower_jwt_auth::bearer::Introspector;
///
/// let introspector = Introspector::builder(
///     "https://auth.example/introspect",
///     "orders-api",
///     "the orders API's secret",
/// )
/// .build()?;
/// # let _ = introspector;
/// # Ok::<(), tower_jwt_auth::bearer::IntrospectionError>(())
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "remote-jwks")))]
#[derive(Clone)]
pub struct Introspector {
    inner: Arc<Inner>,
}

struct Inner {
    endpoint: Url,
    /// The endpoint as logged: no credentials, no query.
    shown: String,
    /// `Basic base64(id:secret)`, marked sensitive.
    authorization: HeaderValue,
    client: reqwest::Client,
    ttl_ms: u64,
    answers: quick_cache::sync::Cache<[u8; 32], Answer>,
}

/// A kept answer: active or not, until when (clock milliseconds, exclusive).
#[derive(Debug, Clone, Copy)]
struct Answer {
    active: bool,
    until_ms: u64,
}

impl fmt::Debug for Introspector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Introspector")
            .field("endpoint", &self.inner.shown)
            .field("ttl_ms", &self.inner.ttl_ms)
            .field("cached", &self.inner.answers.len())
            .finish_non_exhaustive()
    }
}

/// The members of an answer that are checked.
#[derive(Deserialize)]
struct Reply {
    active: bool,
    sub: Option<String>,
    jti: Option<String>,
}

/// What the layer knows of the token being introspected.
pub(crate) struct Subject<'a> {
    pub(crate) sub: &'a str,
    pub(crate) jti: &'a str,
    pub(crate) exp_secs: u64,
}

impl Introspector {
    /// A builder for the endpoint `url`, authenticating as client `id` with `secret` (HTTP
    /// Basic). Defaults: cache TTL 5 s, 10 000 answers, 5 s timeout, HTTPS only.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_jwt_auth::bearer::Introspector;
    ///
    /// let introspector = Introspector::builder("https://auth.example/introspect", "api", "a secret of sixteen")
    ///     .with_cache_ttl(Duration::from_secs(2))
    ///     .build()?;
    /// # let _ = introspector;
    /// # Ok::<(), tower_jwt_auth::bearer::IntrospectionError>(())
    /// ```
    pub fn builder(
        url: impl Into<String>,
        id: impl Into<String>,
        secret: impl Into<String>,
    ) -> IntrospectorBuilder {
        IntrospectorBuilder {
            url: url.into(),
            id: id.into(),
            secret: zeroize::Zeroizing::new(secret.into()),
            ttl: DEFAULT_TTL,
            capacity: DEFAULT_CAPACITY,
            timeout: Duration::from_secs(5),
            allow_http_loopback: false,
        }
    }

    /// The cache key of `token`: its SHA-256 digest.
    pub(crate) fn key(token: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(digest::digest(&digest::SHA256, token.as_bytes()).as_ref());
        out
    }

    /// The kept answer for `key`, if any is still fresh at `now_ms`.
    pub(crate) fn cached(&self, key: &[u8; 32], now_ms: u64) -> Option<bool> {
        let answer = self.inner.answers.get(key)?;
        if now_ms < answer.until_ms {
            Some(answer.active)
        } else {
            self.inner.answers.remove(key);
            None
        }
    }

    /// Asks the endpoint about `token` and keeps the answer: `Ok(true)` when active and
    /// about this token. Failures are logged (`warn`) and never kept.
    pub(crate) async fn ask(
        &self,
        key: [u8; 32],
        token: &str,
        subject: Subject<'_>,
        clock: &dyn Clock,
    ) -> Result<bool, IntrospectionError> {
        let result = self.request(token, &subject).await;
        match result {
            Ok(active) => {
                let now = clock.now_millis();
                let mut until = now.saturating_add(self.inner.ttl_ms);
                if active {
                    until = until.min(subject.exp_secs.saturating_mul(1000));
                }
                if until > now {
                    self.inner.answers.insert(
                        key,
                        Answer {
                            active,
                            until_ms: until,
                        },
                    );
                }
                Ok(active)
            }
            Err(err) => {
                tracing::warn!(
                    target: "tower_jwt_auth::bearer",
                    endpoint = %self.inner.shown,
                    error = %err,
                    "token introspection failed: refusing the request (503)"
                );
                Err(err)
            }
        }
    }

    async fn request(
        &self,
        token: &str,
        subject: &Subject<'_>,
    ) -> Result<bool, IntrospectionError> {
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .append_pair("token_type_hint", "access_token")
            .finish();
        let mut response = self
            .inner
            .client
            .post(self.inner.endpoint.clone())
            .header(AUTHORIZATION, self.inner.authorization.clone())
            .header(ACCEPT, "application/json")
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await
            .map_err(request_error)?;
        let status = response.status();
        if !status.is_success() {
            return Err(IntrospectionError::Status(status.as_u16()));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(request_error)? {
            if bytes.len() + chunk.len() > MAX_ANSWER_LEN {
                return Err(IntrospectionError::InvalidAnswer("too long"));
            }
            bytes.extend_from_slice(&chunk);
        }
        let reply: Reply = serde_json::from_slice(&bytes).map_err(|_| {
            IntrospectionError::InvalidAnswer("not a JSON object with a boolean `active`")
        })?;
        if !reply.active {
            return Ok(false);
        }
        if reply.sub.as_deref().is_some_and(|sub| sub != subject.sub)
            || reply.jti.as_deref().is_some_and(|jti| jti != subject.jti)
        {
            return Err(IntrospectionError::InvalidAnswer(
                "`active` with another `sub` or `jti` than the token's",
            ));
        }
        Ok(true)
    }
}

fn request_error(err: reqwest::Error) -> IntrospectionError {
    IntrospectionError::Request(crate::redact::error_chain(&err.without_url()))
}

/// Builds an [`Introspector`]; see [`Introspector::builder`] for the defaults.
#[cfg_attr(docsrs, doc(cfg(feature = "remote-jwks")))]
#[must_use]
pub struct IntrospectorBuilder {
    url: String,
    id: String,
    secret: zeroize::Zeroizing<String>,
    ttl: Duration,
    capacity: usize,
    timeout: Duration,
    allow_http_loopback: bool,
}

impl fmt::Debug for IntrospectorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntrospectorBuilder")
            .field("id", &self.id)
            .field("ttl", &self.ttl)
            .field("capacity", &self.capacity)
            .field("allow_http_loopback", &self.allow_http_loopback)
            .finish_non_exhaustive()
    }
}

impl IntrospectorBuilder {
    /// How long an answer is kept (default 5 s, more than zero and at most 5 min): the
    /// longest a revocation at the issuer goes unseen, against one request to the issuer per
    /// token per TTL. An active answer is never kept past the token's `exp`.
    ///
    /// ```
    /// # use tower_jwt_auth::bearer::Introspector;
    /// let introspector = Introspector::builder("https://auth.example/introspect", "api", "a secret of sixteen")
    ///     .with_cache_ttl(std::time::Duration::from_secs(1))
    ///     .build()?;
    /// # let _ = introspector;
    /// # Ok::<(), tower_jwt_auth::bearer::IntrospectionError>(())
    /// ```
    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How many answers are kept at most (default 10 000, at least 1): the cache's memory
    /// is bounded by about 100 bytes per answer.
    ///
    /// ```
    /// # use tower_jwt_auth::bearer::Introspector;
    /// let introspector = Introspector::builder("https://auth.example/introspect", "api", "a secret of sixteen")
    ///     .with_cache_capacity(1_000)
    ///     .build()?;
    /// # let _ = introspector;
    /// # Ok::<(), tower_jwt_auth::bearer::IntrospectionError>(())
    /// ```
    pub fn with_cache_capacity(mut self, answers: usize) -> Self {
        self.capacity = answers;
        self
    }

    /// The longest an introspection request may take, connection included (default 5 s);
    /// past it the request is answered 503.
    ///
    /// ```
    /// # use tower_jwt_auth::bearer::Introspector;
    /// let introspector = Introspector::builder("https://auth.example/introspect", "api", "a secret of sixteen")
    ///     .with_timeout(std::time::Duration::from_secs(1))
    ///     .build()?;
    /// # let _ = introspector;
    /// # Ok::<(), tower_jwt_auth::bearer::IntrospectionError>(())
    /// ```
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Allows an `http://` endpoint whose host is a loopback address (an issuer on the same
    /// machine, or tests). Any other `http://` URL is still refused.
    ///
    /// ```
    /// # use tower_jwt_auth::bearer::Introspector;
    /// let local = Introspector::builder("http://127.0.0.1:3000/introspect", "api", "a secret of sixteen")
    ///     .allow_http_loopback()
    ///     .build();
    /// assert!(local.is_ok());
    /// ```
    pub fn allow_http_loopback(mut self) -> Self {
        self.allow_http_loopback = true;
        self
    }

    /// Checks the configuration and builds the [`Introspector`]; sends nothing.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_jwt_auth::bearer::{IntrospectionError, Introspector};
    ///
    /// let err = Introspector::builder("https://auth.example/introspect", "api", "a secret of sixteen")
    ///     .with_cache_ttl(Duration::from_secs(3600))
    ///     .build()
    ///     .unwrap_err();
    /// assert!(matches!(err, IntrospectionError::Config(_)));
    /// ```
    pub fn build(self) -> Result<Introspector, IntrospectionError> {
        let endpoint = Url::parse(&self.url)
            .map_err(|_| IntrospectionError::InvalidUrl("not an absolute URL"))?;
        let loopback_http =
            keys::check_url(&endpoint, self.allow_http_loopback).map_err(|err| match err {
                keys::RemoteJwksError::InsecureUrl => IntrospectionError::InsecureUrl,
                _ => IntrospectionError::InvalidUrl("an https URL with a host"),
            })?;
        if self.id.is_empty() || self.id.contains(':') || self.secret.is_empty() {
            return Err(IntrospectionError::Config(
                "a client id is not empty and has no `:`; a secret is not empty",
            ));
        }
        if self.ttl.is_zero() || self.ttl > MAX_TTL {
            return Err(IntrospectionError::Config(
                "the cache TTL is more than zero and at most 5 min",
            ));
        }
        if self.capacity == 0 {
            return Err(IntrospectionError::Config(
                "the cache keeps at least one answer",
            ));
        }
        if self.timeout.is_zero() {
            return Err(IntrospectionError::Config("the timeout is not zero"));
        }
        let credentials = zeroize::Zeroizing::new(format!("{}:{}", self.id, &*self.secret));
        let encoded = zeroize::Zeroizing::new(format!("Basic {}", STANDARD.encode(&*credentials)));
        let mut authorization = HeaderValue::from_str(&encoded)
            .map_err(|_| IntrospectionError::Config("the client credentials"))?;
        authorization.set_sensitive(true);
        let mut client = reqwest::Client::builder()
            .user_agent(concat!("tower-jwt-auth/", env!("CARGO_PKG_VERSION")))
            .timeout(self.timeout)
            .connect_timeout(self.timeout)
            // The token is in the body: never resent elsewhere.
            .redirect(redirect::Policy::none());
        if loopback_http {
            client = client
                .no_proxy()
                .tls_certs_only(Vec::<reqwest::Certificate>::new());
        } else {
            client = client.https_only(true);
        }
        let client = client
            .build()
            .map_err(|err| IntrospectionError::Client(err.without_url().to_string()))?;
        Ok(Introspector {
            inner: Arc::new(Inner {
                shown: keys::shown(&endpoint),
                endpoint,
                authorization,
                client,
                ttl_ms: u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX),
                answers: quick_cache::sync::Cache::new(self.capacity),
            }),
        })
    }
}
