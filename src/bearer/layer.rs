//! [`BearerAuthLayer`]: configuration of the bearer middleware.

use std::{fmt, sync::Arc};

use bytes::Bytes;
use tower_layer::Layer;

use super::{
    BearerAuth, DefaultRejection, Denied,
    cache::{CacheSettings, TokenCache},
    rules::{self, Rules},
    source::Sources,
};
use crate::{
    dpop::{DpopPolicy, ProofVerifier},
    endpoints::ProtectedResourceMetadata,
    token::{Claims, NoCustomClaims, Verifier},
};

/// A layer's DPoP settings.
#[derive(Clone)]
pub(crate) struct DpopSettings {
    pub(crate) verifier: ProofVerifier,
    pub(crate) policy: DpopPolicy,
    /// The `algs="…"` challenge parameter (RFC 9449 §7.1), built once.
    pub(crate) algs: Bytes,
}

pub(crate) struct Config<R> {
    pub(crate) verifier: Verifier,
    pub(crate) sources: Sources,
    pub(crate) realm: Option<Arc<str>>,
    /// The `resource_metadata="…"` challenge parameter (RFC 9728 §5.1), built once.
    pub(crate) resource_metadata: Option<Bytes>,
    pub(crate) optional: bool,
    pub(crate) on_rejection: R,
    pub(crate) cache: CacheSettings,
    /// Asks the issuer whether a verified token is still active.
    #[cfg(feature = "remote-jwks")]
    pub(crate) introspection: Option<super::Introspector>,
    /// Sender-constrained tokens (RFC 9449).
    pub(crate) dpop: Option<DpopSettings>,
}

/// A tower [`Layer`] that authenticates every request with its bearer access token.
///
/// On success the typed claims go into the request extensions as an
/// `Arc<`[`Claims<T>`](crate::Claims)`>` and the inner service is called; on failure the inner
/// service is never called and the client gets the RFC 6750 response (status,
/// `WWW-Authenticate` with `realm`, `error`, `error_description`). Verification includes
/// revocation and is synchronous: no box, no allocation beyond the claims, no lock held
/// across an `.await`.
///
/// The configuration is shared behind an `Arc`: cloning the layer or the service is a
/// reference-count bump.
///
/// # The verified-token cache
///
/// On by default: a token that verified once is recognised on later requests by its exact
/// bytes, and its claims are reused, so that the signature check and the JSON parse are
/// skipped (memory for CPU: about 1 KiB per kept 500-byte token; see BENCHMARKING.md in the
/// repository).
/// On every request, a kept token is still checked against the key set (any change —
/// [`publish`](crate::KeySet::publish), [`sign_with`](crate::KeySet::sign_with),
/// [`retire`](crate::KeySet::retire), a remote JWKS refresh — makes every kept token verify
/// again from its bytes), its `exp`, `nbf` and `iat` against the clock, the revocation store
/// (unavailable: 503, as without the cache) and the layer's rules. Failures are never kept.
/// Each layer value has its own cache, shared by its clones and the services it makes; see
/// [`with_cache_capacity`](Self::with_cache_capacity),
/// [`with_cache_max_token_len`](Self::with_cache_max_token_len) and
/// [`without_cache`](Self::without_cache).
///
/// # Example
///
/// ```
/// use tower_jwt_auth::{BearerAuthLayer, Claims, Issuer, KeySet, SigningKey};
///
/// #[derive(Clone, serde::Deserialize)]
/// struct Tenant { tenant: String }
///
/// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
/// let layer = BearerAuthLayer::new(&issuer)
///     .with_claims::<Tenant>()
///     .with_realm("api")
///     .with_cookie("access_token");
/// # let _ = layer;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct BearerAuthLayer<T = NoCustomClaims, R = DefaultRejection> {
    pub(crate) config: Arc<Config<R>>,
    /// `None` when the cache is off.
    pub(crate) cache: Option<Arc<TokenCache<T>>>,
    /// Scopes and checks beyond a valid token.
    pub(crate) rules: Arc<Rules<T>>,
}

impl<T, R> Clone for BearerAuthLayer<T, R> {
    fn clone(&self) -> Self {
        Self {
            config: self.config.clone(),
            cache: self.cache.clone(),
            rules: self.rules.clone(),
        }
    }
}

impl<T, R> fmt::Debug for BearerAuthLayer<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerAuthLayer")
            .field("verifier", &self.config.verifier)
            .field("sources", &self.config.sources)
            .field("realm", &self.config.realm)
            .field("resource_metadata", &self.config.resource_metadata)
            .field("optional", &self.config.optional)
            .field(
                "dpop",
                &self.config.dpop.as_ref().map(|d| (&d.verifier, d.policy)),
            )
            .field("rules", &self.rules)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

impl BearerAuthLayer {
    /// A layer that requires a valid access token, read from the `Authorization: Bearer`
    /// header only, and answers rejections with a small JSON body
    /// ([`DefaultRejection`](super::DefaultRejection)). The claims carry no
    /// application claims until [`with_claims`](Self::with_claims) names their type.
    ///
    /// Takes the [`Issuer`](crate::Issuer) whose tokens it accepts (`&issuer`), or any
    /// [`Verifier`] (a resource server that only verifies).
    ///
    /// ```
    /// use tower_jwt_auth::{BearerAuthLayer, Issuer, KeySet, SigningKey, Verifier};
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let layer = BearerAuthLayer::new(&issuer);
    ///
    /// let verifier = Verifier::builder(issuer.keys().clone()).with_audience("api").build()?;
    /// let resource_server = BearerAuthLayer::new(verifier);
    /// # let _ = (layer, resource_server);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(verifier: impl Into<Verifier>) -> Self {
        let cache = CacheSettings::default();
        Self {
            config: Arc::new(Config {
                verifier: verifier.into(),
                sources: Sources::default(),
                realm: None,
                resource_metadata: None,
                optional: false,
                on_rejection: DefaultRejection,
                cache,
                #[cfg(feature = "remote-jwks")]
                introspection: None,
                dpop: None,
            }),
            cache: TokenCache::new(cache),
            rules: Arc::default(),
        }
    }
}

impl<T, R: Clone> BearerAuthLayer<T, R> {
    /// Deserialises the application's claims of every token as `U` (a token whose claims do
    /// not fit `U` is `invalid_token`). Handlers then extract `Claims<U>`.
    ///
    /// Call it before [`require`](Self::require) and [`check`](Self::check): their closures
    /// read the claims type of the layer they were added to, so a layer that had some refuses
    /// every token once its claims type changes (fail closed, logged as an error). Scope rules
    /// carry over.
    ///
    /// ```
    /// # use tower_jwt_auth::{BearerAuthLayer, Issuer, KeySet, SigningKey};
    /// #[derive(Clone, serde::Deserialize)]
    /// struct Tenant { tenant: String }
    ///
    /// # let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let layer = BearerAuthLayer::new(&issuer).with_claims::<Tenant>();
    /// # let _ = layer;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_claims<U>(self) -> BearerAuthLayer<U, R> {
        BearerAuthLayer {
            cache: TokenCache::new(self.config.cache),
            rules: Arc::new(self.rules.retyped()),
            config: self.config,
        }
    }

    /// A new layer value: changed configuration, and its own (empty) cache.
    fn map(self, f: impl FnOnce(&mut Config<R>)) -> Self {
        let mut config = Arc::unwrap_or_clone(self.config);
        f(&mut config);
        Self {
            cache: TokenCache::new(config.cache),
            config: Arc::new(config),
            rules: self.rules,
        }
    }

    /// A new layer value with `rules`: a token is required, and the layer has its own cache.
    fn with_rules(&self, rules: Rules<T>) -> Self {
        let mut layer = self.clone().map(|c| c.optional = false);
        layer.rules = Arc::new(rules);
        layer
    }

    /// Keeps up to `tokens` verified tokens (default 4096); 0 turns the cache off. A kept
    /// token costs about its length plus 500 bytes (its claims and the cache's own share), so
    /// the cache's memory is bounded by about `tokens` × (the longest kept token + 500 bytes).
    ///
    /// ```
    /// # use tower_jwt_auth::{BearerAuthLayer, Issuer, KeySet, SigningKey};
    /// # let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// // About one token per active user of this instance over a token's lifetime.
    /// let layer = BearerAuthLayer::new(&issuer).with_cache_capacity(50_000);
    /// # let _ = layer;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_cache_capacity(self, tokens: usize) -> Self {
        self.map(|c| c.cache.capacity = tokens)
    }

    /// Keeps only tokens up to `bytes` long (default 2048); longer ones are verified on every
    /// request. Bounds each entry's memory.
    ///
    /// ```
    /// # use tower_jwt_auth::{BearerAuthLayer, Issuer, KeySet, SigningKey};
    /// # let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let layer = BearerAuthLayer::new(&issuer).with_cache_max_token_len(1024);
    /// # let _ = layer;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_cache_max_token_len(self, bytes: usize) -> Self {
        self.map(|c| c.cache.max_token_len = bytes)
    }

    /// Turns the verified-token cache off: every request verifies the signature and parses
    /// the claims.
    ///
    /// ```
    /// # use tower_jwt_auth::{BearerAuthLayer, Issuer, KeySet, SigningKey};
    /// # let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let layer = BearerAuthLayer::new(&issuer).without_cache();
    /// # let _ = layer;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn without_cache(self) -> Self {
        self.with_cache_capacity(0)
    }

    /// The `realm` of every `WWW-Authenticate` challenge.
    ///
    /// ```
    /// # use tower_jwt_auth::{BearerAuthLayer, Issuer, KeySet, SigningKey};
    /// # let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let layer = BearerAuthLayer::new(&issuer).with_realm("example");
    /// # let _ = layer;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_realm(self, realm: impl Into<String>) -> Self {
        let realm: Arc<str> = realm.into().into();
        self.map(|c| c.realm = Some(realm))
    }

    /// Names the resource's RFC 9728 metadata in every `WWW-Authenticate: Bearer` challenge
    /// the layer sends (401, and 403 `insufficient_scope`): `resource_metadata="` the
    /// document's [`url`](ProtectedResourceMetadata::url) `"` (RFC 9728 §5.1), so that a client
    /// refused for want of a token finds the authorization servers that issue one. Whatever
    /// the rejection handler, a response whose challenge is `Bearer` gets the parameter; the
    /// parameter is built once, here. The 401 of axum's `Claims` extractor, for an anonymous
    /// request through an [`optional`](Self::optional) layer, gets the same challenge.
    ///
    /// ```
    /// use http::Request;
    /// use tower::{ServiceBuilder, ServiceExt, service_fn};
    /// use tower_jwt_auth::{BearerAuthLayer, Issuer, KeySet, SigningKey, endpoints::ProtectedResourceMetadata};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let metadata = ProtectedResourceMetadata::builder("https://api.example")
    ///     .with_authorization_server("https://auth.example")
    ///     .build()?;
    /// let auth = BearerAuthLayer::new(&issuer).with_resource_metadata(&metadata);
    /// let service = ServiceBuilder::new().layer(auth).service(service_fn(|_: Request<()>| async {
    ///     Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
    /// }));
    /// let refused = service.oneshot(Request::get("/").body(())?).await?;
    /// assert_eq!(
    ///     refused.headers()["www-authenticate"],
    ///     r#"Bearer resource_metadata="https://api.example/.well-known/oauth-protected-resource""#
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_resource_metadata(self, metadata: &ProtectedResourceMetadata) -> Self {
        let param = metadata.challenge_param();
        self.map(|c| c.resource_metadata = Some(param))
    }

    /// Also reads the token from the cookie `name` (for browser clients).
    ///
    /// Risk: cookies are sent by the browser on cross-site requests; protect state-changing
    /// routes against CSRF (`SameSite=Strict` or `Lax` cookies, or a CSRF token), or use
    /// [`with_cookie_transport`](Self::with_cookie_transport), which checks a CSRF value
    /// bound to the session.
    ///
    /// ```
    /// # use tower_jwt_auth::{BearerAuthLayer, Issuer, KeySet, SigningKey};
    /// # let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let layer = BearerAuthLayer::new(&issuer).with_cookie("access_token");
    /// # let _ = layer;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_cookie(self, name: impl Into<String>) -> Self {
        let name = name.into().into_boxed_str();
        self.map(|c| c.sources.cookie = Some(name))
    }

    /// Authenticates browser requests of a [`CookieTransport`]: also reads the access token
    /// from the transport's access cookie (unless the access token goes in the body), and
    /// refuses a request that changes state (any method but `GET`, `HEAD`, `OPTIONS` and
    /// `TRACE`) with a token from that cookie unless the transport's CSRF header carries the
    /// token's `csrf` value: 403, [`AuthError::Csrf`](super::AuthError::Csrf). A token sent in
    /// the `Authorization` header needs no CSRF value.
    ///
    /// ```
    /// use tower_jwt_auth::{BearerAuthLayer, Issuer, KeySet, SigningKey, transport::CookieTransport};
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let transport = CookieTransport::mounted_at("/auth").build()?;
    /// let layer = BearerAuthLayer::new(&issuer).with_cookie_transport(&transport);
    /// # let _ = layer;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// [`CookieTransport`]: crate::transport::CookieTransport
    #[must_use]
    pub fn with_cookie_transport(self, transport: &crate::transport::CookieTransport) -> Self {
        let cookie = transport.access_cookie_name().map(Box::from);
        let header = transport.csrf_header().clone();
        self.map(|c| {
            if cookie.is_some() {
                c.sources.cookie = cookie;
            }
            c.sources.csrf_header = Some(header);
        })
    }

    /// Also reads the token from the `access_token` query parameter (RFC 6750 §2.3).
    ///
    /// Risk: URLs end up in logs, browser history and `Referer` headers; RFC 6750 advises
    /// against this method unless no other is possible (server-sent events, say).
    ///
    /// ```
    /// # use tower_jwt_auth::{BearerAuthLayer, Issuer, KeySet, SigningKey};
    /// # let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// // For an `EventSource`, which cannot send headers: `GET /events?access_token=…`.
    /// let layer = BearerAuthLayer::new(&issuer).with_query_parameter();
    /// # let _ = layer;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_query_parameter(self) -> Self {
        self.map(|c| c.sources.query = true)
    }

    /// A layer that also requires every scope of `scopes` (in addition to any required
    /// already: `require_scope` twice requires both sets), answering 403 `insufficient_scope`
    /// naming them otherwise. It is this layer with one more rule — same verifier, claims
    /// type, token sources, realm and rejection — so it cannot disagree with it, and it
    /// authenticates on its own: put it on the routes that need the scopes, in place of the
    /// plain layer (axum: `route_layer` on the route, after the plain layer's `route_layer`,
    /// so that no route is verified twice). A token is always required, even if this layer
    /// is [`optional`](Self::optional).
    ///
    /// # Rules
    ///
    /// `require_scope`, [`require_any_scope`](Self::require_any_scope),
    /// [`require`](Self::require) and [`check`](Self::check) each return a layer with one
    /// more rule; a token must pass every rule of the layer. They are checked on every
    /// request after the token is verified, tokens served by the verified-token cache
    /// included, in this order: the scopes of `require_scope`, each `require_any_scope`,
    /// then `require` and `check` in the order they were added; the first that fails
    /// answers.
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// use tower_jwt_auth::{BearerAuthLayer, Issuer, KeySet, SigningKey};
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let auth = BearerAuthLayer::new(&issuer).with_realm("api");
    /// let app: Router = Router::new()
    ///     .route("/me", get(|| async { "hello" }))
    ///     .route_layer(auth.clone())
    ///     .route("/admin", get(|| async { "hello, admin" }).route_layer(auth.require_scope(["admin"])));
    /// # let _ = app;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn require_scope<I, S>(&self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.with_rules(self.rules.with_all(scopes.into_iter().map(Into::into)))
    }

    /// A layer that also requires at least one scope of `scopes`, answering 403
    /// `insufficient_scope` otherwise, whose `scope` lists them (any one of them suffices).
    /// Each call adds one such rule: `require_any_scope(["a", "b"])` then
    /// `require_any_scope(["c", "d"])` requires (a or b) and (c or d). An empty list is a rule
    /// no token passes. See [`require_scope`](Self::require_scope) for where to put the layer
    /// and how rules combine.
    ///
    /// ```
    /// use axum::{Router, routing::{get, post}};
    /// use tower_jwt_auth::{BearerAuthLayer, Issuer, KeySet, SigningKey};
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let auth = BearerAuthLayer::new(&issuer);
    /// let app: Router = Router::new()
    ///     .route("/reports", get(|| async { "the reports" }))
    ///     .route_layer(auth.require_any_scope(["reports:read", "admin"]))
    ///     .route(
    ///         "/reports/new",
    ///         post(|| async { "filed" }).route_layer(auth.require_any_scope(["reports:write", "admin"])),
    ///     );
    /// # let _ = app;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn require_any_scope<I, S>(&self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.with_rules(self.rules.with_any(scopes.into_iter().map(Into::into)))
    }

    /// A layer that also requires `predicate` to hold for the token's claims, typed with the
    /// layer's claims type (call [`with_claims`](Self::with_claims) first), answering 403
    /// `insufficient_scope` (naming no scope) otherwise. The predicate is stored once, shared
    /// by the layer's clones, and runs on every request, also for tokens served by the
    /// verified-token cache; it must be quick and must not block. See
    /// [`require_scope`](Self::require_scope) for how rules combine, and [`check`](Self::check)
    /// to answer with the application's own error.
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// use tower_jwt_auth::{BearerAuthLayer, Claims, Issuer, KeySet, SigningKey};
    ///
    /// #[derive(Clone, serde::Deserialize)]
    /// struct Staff { tenant: String, role: String }
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let auth = BearerAuthLayer::new(&issuer).with_claims::<Staff>();
    /// let acme_admins = auth.require(|claims: &Claims<Staff>| {
    ///     claims.custom.tenant == "acme" && claims.custom.role == "admin"
    /// });
    /// let app: Router = Router::new()
    ///     .route("/acme/billing", get(|| async { "the invoices" }))
    ///     .route_layer(acme_admins);
    /// # let _ = app;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn require<F>(&self, predicate: F) -> Self
    where
        F: Fn(&Claims<T>) -> bool + Send + Sync + 'static,
    {
        self.with_rules(self.rules.with_check(rules::predicate(predicate)))
    }

    /// A layer that also runs `check` on the token's claims, typed with the layer's claims
    /// type, and refuses the request with the application's own error when it fails: the
    /// error becomes a [`Denied`] (403 unless [`Denied::with_status`] says otherwise, no
    /// challenge), which the rejection handler gets as
    /// [`AuthError::Denied`](super::AuthError::Denied) and renders. Like
    /// [`require`](Self::require), it runs on every request, cache hits included; see
    /// [`require_scope`](Self::require_scope) for how rules combine.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use http::StatusCode;
    /// use tower_jwt_auth::{
    ///     BearerAuthLayer, Claims, Issuer, KeySet, SigningKey,
    ///     bearer::{AuthError, Denied},
    /// };
    ///
    /// #[derive(Clone, serde::Deserialize)]
    /// struct Tenant { tenant: String }
    ///
    /// #[derive(Debug, thiserror::Error)]
    /// #[error("this account belongs to another tenant")]
    /// struct WrongTenant;
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let acme = BearerAuthLayer::new(&issuer)
    ///     .with_claims::<Tenant>()
    ///     .on_rejection(|err: &AuthError, realm: Option<&str>| match err {
    ///         // The application renders its own error…
    ///         AuthError::Denied(denied) if denied.downcast_ref::<WrongTenant>().is_some() => {
    ///             err.to_response(realm, Bytes::from_static(b"wrong tenant"))
    ///         }
    ///         // …and the crate's RFC 6750 responses the rest.
    ///         _ => err.to_response(realm, Bytes::new()),
    ///     })
    ///     .check(|claims: &Claims<Tenant>| {
    ///         if claims.custom.tenant == "acme" {
    ///             Ok(())
    ///         } else {
    ///             Err(Denied::new(WrongTenant).with_status(StatusCode::NOT_FOUND))
    ///         }
    ///     });
    /// # let _ = acme;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn check<F, E>(&self, check: F) -> Self
    where
        F: Fn(&Claims<T>) -> Result<(), E> + Send + Sync + 'static,
        E: Into<Denied>,
    {
        self.with_rules(self.rules.with_check(rules::check(check)))
    }

    /// Also asks the issuer, through `introspector` (RFC 7662), whether each token that
    /// verified here is still active: for a resource server that cannot follow the issuer's
    /// revocation store (feature `remote-jwks`). The question comes last, after the
    /// signature, times, issuer, audience, type and the layer's rules; its answers are kept
    /// for the introspector's TTL, so a logout at the issuer is seen within it.
    ///
    /// A kept answer is read synchronously; a miss waits for the issuer before the inner
    /// service is called. Active: the request goes on. Inactive: 401 `invalid_token`, as for
    /// a revoked token. No usable answer (unreachable, timeout, non-2xx status such as 401
    /// for wrong client credentials, malformed answer, an answer about another `sub` or
    /// `jti`): 503, logged as a `warn` event; never let through.
    ///
    /// ```
    /// use tower_jwt_auth::{BearerAuthLayer, Issuer, KeySet, SigningKey, Verifier, bearer::Introspector};
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let verifier = Verifier::builder(issuer.keys().clone()).build()?;
    /// let introspector = Introspector::builder(
    ///     "https://auth.example/introspect",
    ///     "orders-api",
    ///     "the orders API's secret",
    /// )
    /// .build()?;
    /// let layer = BearerAuthLayer::new(verifier).with_introspection(introspector);
    /// # let _ = layer;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "remote-jwks")]
    #[cfg_attr(docsrs, doc(cfg(feature = "remote-jwks")))]
    #[must_use]
    pub fn with_introspection(self, introspector: super::Introspector) -> Self {
        self.map(|c| c.introspection = Some(introspector))
    }

    /// Accepts DPoP-bound access tokens (RFC 9449 §7): `Authorization: DPoP <token>` with
    /// exactly one `DPoP` header, the proof of possession of the token's key.
    ///
    /// The token is verified as a bearer token is (the verified-token cache still serves
    /// it) and must carry `cnf.jkt`; then `verifier` checks the proof, on every request: its
    /// method and URI (`htu`: the verifier's public origin and the request's path), the hash
    /// of the token (`ath`), its age, the server nonce when the verifier requires one; the
    /// proof's key must be the token's (`cnf.jkt`, compared in constant time). Last, after the
    /// layer's rules, the verifier's replay cache records the proof: a replay is refused,
    /// also on another instance sharing the cache. A replay cache that cannot answer is a
    /// 503, as an unreadable revocation store is.
    ///
    /// Refusals: a bad proof is 401 `WWW-Authenticate: DPoP error="invalid_dpop_proof",
    /// algs="…"`; a missing or stale nonce is 401 `DPoP error="use_dpop_nonce"` with a fresh
    /// nonce in `DPoP-Nonce`; when the proof's nonce is about to expire, the inner service's
    /// answer gets a fresh one in `DPoP-Nonce`. A token with `cnf` is refused as a bearer
    /// token (401 `invalid_token`) even on a layer without DPoP: that is how a stolen one is
    /// presented. `policy` says whether tokens without `cnf` are still accepted as bearer
    /// tokens ([`DpopPolicy::Optional`]) or not ([`DpopPolicy::Required`]).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tower_jwt_auth::{
    ///     BearerAuthLayer, Issuer, KeySet, SigningKey,
    ///     dpop::DpopPolicy,
    ///     dpop::{DpopNonces, MemoryReplayCache, ProofVerifier},
    /// };
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let proofs = ProofVerifier::builder("https://api.example.com")
    ///     .with_nonces(DpopNonces::new(&[7; 32])?)
    ///     // One cache for every instance of the API (or a RedisBackend).
    ///     .with_replay_cache(Arc::new(MemoryReplayCache::new(100_000)))
    ///     .build()?;
    /// let layer = BearerAuthLayer::new(&issuer).with_dpop(proofs, DpopPolicy::Required);
    /// # let _ = layer;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_dpop(self, verifier: ProofVerifier, policy: DpopPolicy) -> Self {
        let mut algs = String::from("algs=\"");
        for (i, alg) in verifier.algorithms().iter().enumerate() {
            if i > 0 {
                algs.push(' ');
            }
            algs.push_str(alg.as_str());
        }
        algs.push('"');
        let settings = DpopSettings {
            verifier,
            policy,
            algs: Bytes::from(algs),
        };
        self.map(|c| {
            c.sources.dpop = true;
            c.dpop = Some(settings);
        })
    }

    /// Lets requests without any token through without claims (a handler may then behave
    /// differently for anonymous users). A token that is present must still be valid.
    ///
    /// One optional layer serves a whole router: with axum, a handler that takes
    /// `Option<Claims>` sees `None` for an anonymous request, and one that takes `Claims`
    /// answers it 401 with the `Bearer` challenge, so routes that require a token need no
    /// second layer.
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// use tower_jwt_auth::{BearerAuthLayer, Claims, Issuer, KeySet, SigningKey};
    ///
    /// async fn feed(claims: Option<Claims>) -> String {
    ///     claims.map_or("the public feed".into(), |c| format!("{}'s feed", c.sub))
    /// }
    /// async fn settings(claims: Claims) -> String {
    ///     format!("{}'s settings", claims.sub)
    /// }
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let app: Router = Router::new()
    ///     .route("/feed", get(feed))
    ///     .route("/settings", get(settings))
    ///     .route_layer(BearerAuthLayer::new(&issuer).optional());
    /// # let _ = app;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn optional(self) -> Self {
        self.map(|c| c.optional = true)
    }

    /// Replaces how rejections are turned into responses:
    /// [`EmptyBodyRejection`](super::EmptyBodyRejection) for an empty body, or any
    /// `Fn(&AuthError, Option<&str>) -> Response<Bytes>` (see [`OnRejection`](super::OnRejection)).
    ///
    /// ```
    /// # use tower_jwt_auth::{BearerAuthLayer, Issuer, KeySet, SigningKey, bearer::EmptyBodyRejection};
    /// # let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let layer = BearerAuthLayer::new(&issuer).on_rejection(EmptyBodyRejection);
    /// # let _ = layer;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn on_rejection<R2>(self, on_rejection: R2) -> BearerAuthLayer<T, R2> {
        let config = Arc::unwrap_or_clone(self.config);
        BearerAuthLayer {
            cache: TokenCache::new(config.cache),
            config: Arc::new(Config {
                verifier: config.verifier,
                sources: config.sources,
                realm: config.realm,
                resource_metadata: config.resource_metadata,
                optional: config.optional,
                on_rejection,
                cache: config.cache,
                #[cfg(feature = "remote-jwks")]
                introspection: config.introspection,
                dpop: config.dpop,
            }),
            rules: self.rules,
        }
    }
}

impl<R: Clone> Clone for Config<R> {
    fn clone(&self) -> Self {
        Self {
            verifier: self.verifier.clone(),
            sources: self.sources.clone(),
            realm: self.realm.clone(),
            resource_metadata: self.resource_metadata.clone(),
            optional: self.optional,
            on_rejection: self.on_rejection.clone(),
            cache: self.cache,
            #[cfg(feature = "remote-jwks")]
            introspection: self.introspection.clone(),
            dpop: self.dpop.clone(),
        }
    }
}

impl<S, T, R> Layer<S> for BearerAuthLayer<T, R> {
    type Service = BearerAuth<S, T, R>;

    fn layer(&self, inner: S) -> Self::Service {
        BearerAuth {
            inner,
            config: self.config.clone(),
            cache: self.cache.clone(),
            rules: self.rules.clone(),
        }
    }
}
