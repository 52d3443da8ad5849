//! axum integration (feature `axum`): `Claims<T>` and [`SharedClaims<T>`] as extractors,
//! responses for the crate's types, and a router of the token endpoints.
//!
//! # Per-route rules
//!
//! One layer authenticates the router; each route that needs more gets, with `route_layer`,
//! the same layer with its rules ([`BearerAuthLayer::require_scope`],
//! [`require_any_scope`](BearerAuthLayer::require_any_scope),
//! [`require`](BearerAuthLayer::require), [`check`](BearerAuthLayer::check)), so that the
//! handlers only read the claims:
//!
//! ```
//! use axum::{Router, routing::{delete, get}};
//! use tower_jwt_auth::{BearerAuthLayer, Claims, Issuer, KeySet, SigningKey};
//!
//! #[derive(Clone, serde::Deserialize)]
//! struct Member { tenant: String, role: String }
//!
//! async fn projects(claims: Claims<Member>) -> String {
//!     format!("the projects of {}", claims.custom.tenant)
//! }
//!
//! let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
//! let auth = BearerAuthLayer::new(&issuer).with_claims::<Member>();
//! let app: Router = Router::new()
//!     // Any valid token.
//!     .route("/me", get(|claims: Claims<Member>| async move { claims.sub }))
//!     .route_layer(auth.clone())
//!     // Either scope.
//!     .route("/projects", get(projects).route_layer(auth.require_any_scope(["projects:read", "admin"])))
//!     // A rule on the typed claims.
//!     .route(
//!         "/projects/{id}",
//!         delete(|| async { "deleted" })
//!             .route_layer(auth.require(|c: &Claims<Member>| c.custom.role == "owner")),
//!     );
//! # let _ = app;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::{ops::Deref, sync::Arc};

use axum::{
    Router,
    extract::{FromRequestParts, OptionalFromRequestParts, Path},
    response::{IntoResponse, Response},
    routing::{delete, get, get_service, post, post_service},
};
use http::{StatusCode, request::Parts};
use serde::de::DeserializeOwned;

use crate::{
    bearer::{
        AnonymousRefused, AuthError, Authenticated, BearerAuthLayer, DefaultRejection, OnRejection,
    },
    dpop::ProofVerifier,
    endpoints::{ErrorResponse, JwksService, RefreshService, RevocationService, token_response},
    issuer::{IssueError, TokenPair},
    keys::KeyError,
    session::{RefreshError, SessionInfo, Sessions, StartError},
    store::RevocationError,
    token::{Claims, NoCustomClaims},
    transport::{CookieTransport, response::json_response},
};

/// Why the `Claims<T>` extractor failed.
///
/// ```
/// use axum::response::IntoResponse;
/// use tower_jwt_auth::axum::ClaimsRejection;
///
/// let response = ClaimsRejection::MissingLayer.into_response();
/// assert_eq!(response.status(), 500);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClaimsRejection {
    /// The request passed an optional `BearerAuthLayer` without a token, but the handler
    /// requires claims: 401 with the layer's `Bearer` challenge (its realm and resource
    /// metadata, which the layer sets on the way out).
    MissingToken,
    /// No `BearerAuthLayer` (with the same claims type) ran for this route: a programming
    /// error, answered 500.
    MissingLayer,
}

impl ClaimsRejection {
    /// The response status.
    ///
    /// ```
    /// use tower_jwt_auth::axum::ClaimsRejection;
    ///
    /// assert_eq!(ClaimsRejection::MissingToken.status(), 401);
    /// ```
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingToken => StatusCode::UNAUTHORIZED,
            Self::MissingLayer => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The response body text.
    ///
    /// ```
    /// use tower_jwt_auth::axum::ClaimsRejection;
    ///
    /// assert!(ClaimsRejection::MissingLayer.body_text().contains("BearerAuthLayer"));
    /// ```
    pub fn body_text(&self) -> &'static str {
        match self {
            Self::MissingToken => "a bearer token is required",
            Self::MissingLayer => {
                "no claims in the request: is `BearerAuthLayer` installed on this route, with the \
                 same claims type as the extractor?"
            }
        }
    }
}

impl std::fmt::Display for ClaimsRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.body_text())
    }
}

impl std::error::Error for ClaimsRejection {}

impl IntoResponse for ClaimsRejection {
    fn into_response(self) -> Response {
        match self {
            Self::MissingToken => {
                let mut response = AuthError::MissingToken.into_response();
                // The optional layer the request passed puts its own challenge here.
                response.extensions_mut().insert(AnonymousRefused);
                response
            }
            Self::MissingLayer => (self.status(), self.body_text()).into_response(),
        }
    }
}

fn lookup<T>(parts: &Parts) -> Result<Option<Arc<Claims<T>>>, ClaimsRejection>
where
    T: Send + Sync + 'static,
{
    if let Some(claims) = parts.extensions.get::<Arc<Claims<T>>>() {
        return Ok(Some(claims.clone()));
    }
    if parts.extensions.get::<Authenticated>().is_some() {
        Ok(None)
    } else {
        tracing::error!(
            claims = std::any::type_name::<Arc<Claims<T>>>(),
            path = parts.uri.path(),
            "{}",
            ClaimsRejection::MissingLayer.body_text()
        );
        Err(ClaimsRejection::MissingLayer)
    }
}

/// The verified claims put in the request by [`BearerAuthLayer`](crate::BearerAuthLayer),
/// as an owned copy (the layer keeps them behind an `Arc`: [`SharedClaims`] takes them
/// without copying a string).
///
/// ```
/// use axum::{Json, Router, routing::get};
/// use tower_jwt_auth::{BearerAuthLayer, Claims, Issuer, KeySet, SigningKey};
///
/// async fn me(claims: Claims) -> Json<String> {
///     Json(claims.sub)
/// }
///
/// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
/// let app: Router = Router::new()
///     .route("/me", get(me))
///     .route_layer(BearerAuthLayer::new(&issuer));
/// # let _ = app;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl<S, T> FromRequestParts<S> for Claims<T>
where
    S: Send + Sync,
    T: Clone + Send + Sync + 'static,
{
    type Rejection = ClaimsRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        lookup(parts)?
            .map(Arc::unwrap_or_clone)
            .ok_or(ClaimsRejection::MissingToken)
    }
}

/// `Option<Claims<T>>`: `None` for an anonymous request through an optional
/// [`BearerAuthLayer`](crate::BearerAuthLayer); still a 500 when no layer ran.
impl<S, T> OptionalFromRequestParts<S> for Claims<T>
where
    S: Send + Sync,
    T: Clone + Send + Sync + 'static,
{
    type Rejection = ClaimsRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(lookup(parts)?.map(Arc::unwrap_or_clone))
    }
}

/// The verified claims put in the request by [`BearerAuthLayer`],
/// shared rather than copied: the extractor is a reference-count bump, and the claims are
/// read through `Deref`. Rejections are those of the [`Claims`] extractor;
/// `Option<SharedClaims<T>>` is `None` for an anonymous request through an optional layer.
///
/// ```
/// use axum::{Router, routing::get};
/// use tower_jwt_auth::{BearerAuthLayer, Issuer, KeySet, SigningKey, axum::SharedClaims};
///
/// async fn me(claims: SharedClaims) -> String {
///     format!("hello, {}", claims.sub)
/// }
///
/// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
/// let app: Router = Router::new()
///     .route("/me", get(me))
///     .route_layer(BearerAuthLayer::new(&issuer));
/// # let _ = app;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct SharedClaims<T = NoCustomClaims>(pub Arc<Claims<T>>);

impl<T> Deref for SharedClaims<T> {
    type Target = Claims<T>;

    fn deref(&self) -> &Claims<T> {
        &self.0
    }
}

impl<S, T> FromRequestParts<S> for SharedClaims<T>
where
    S: Send + Sync,
    T: Send + Sync + 'static,
{
    type Rejection = ClaimsRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        lookup(parts)?
            .map(SharedClaims)
            .ok_or(ClaimsRejection::MissingToken)
    }
}

impl<S, T> OptionalFromRequestParts<S> for SharedClaims<T>
where
    S: Send + Sync,
    T: Send + Sync + 'static,
{
    type Rejection = ClaimsRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(lookup(parts)?.map(SharedClaims))
    }
}

/// The RFC 6750 response with a JSON body.
impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        DefaultRejection
            .on_rejection(&self, None)
            .map(axum::body::Body::from)
    }
}

/// 200 with the token response and `Cache-Control: no-store`; use
/// `(StatusCode::CREATED, pair)` for a signup.
impl IntoResponse for TokenPair {
    fn into_response(self) -> Response {
        token_response(StatusCode::OK, &self).into_response()
    }
}

/// The [`ErrorResponse`] of the error: 503 `temporarily_unavailable` when the session could
/// not be recorded (the client may retry), 400 `invalid_dpop_proof` when a required DPoP
/// proof was missing, 500 `server_error` otherwise; the cause is logged, never sent.
impl IntoResponse for StartError {
    fn into_response(self) -> Response {
        ErrorResponse::from(self).into_response()
    }
}

/// The [`ErrorResponse`] of the error: 400 `invalid_grant` for the client's bad refresh
/// token, 503 `temporarily_unavailable` when the state could not be read, 500 otherwise.
///
/// ```
/// use axum::{Json, extract::State, response::Result};
/// use tower_jwt_auth::{Sessions, TokenPair};
///
/// #[derive(serde::Deserialize)]
/// struct Grant {
///     refresh_token: String,
/// }
///
/// async fn refresh(State(sessions): State<Sessions>, Json(grant): Json<Grant>) -> Result<TokenPair> {
///     Ok(sessions.refresh(&grant.refresh_token).await?)
/// }
/// # let _: axum::Router = axum::Router::new()
/// #     .route("/refresh", axum::routing::post(refresh))
/// #     .with_state(tower_jwt_auth::Sessions::new(tower_jwt_auth::Issuer::builder(
/// #         tower_jwt_auth::KeySet::new(tower_jwt_auth::SigningKey::generate_ed25519()?)).build()?));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl IntoResponse for RefreshError {
    fn into_response(self) -> Response {
        ErrorResponse::from(self).into_response()
    }
}

/// The [`ErrorResponse`] of the error: 500 `server_error`; the cause is logged, never sent.
impl IntoResponse for IssueError {
    fn into_response(self) -> Response {
        ErrorResponse::from(self).into_response()
    }
}

/// The [`ErrorResponse`] of the error: 503 `temporarily_unavailable` with `Retry-After: 1`.
impl IntoResponse for RevocationError {
    fn into_response(self) -> Response {
        ErrorResponse::from(self).into_response()
    }
}

/// The [`ErrorResponse`] of the error: 500 `server_error`; the cause is logged, never sent.
impl IntoResponse for KeyError {
    fn into_response(self) -> Response {
        ErrorResponse::from(self).into_response()
    }
}

impl IntoResponse for ErrorResponse {
    fn into_response(self) -> Response {
        self.into_http_response().into_response()
    }
}

/// A router with the token endpoints of `sessions`, to `nest` under a prefix:
///
/// | route | answer |
/// | --- | --- |
/// | `POST /refresh` | the next pair ([`RefreshService`]) |
/// | `POST /revoke` | RFC 7009 revocation ([`RevocationService`]) |
/// | `GET /jwks.json` | the public keys ([`JwksService`]) |
/// | `POST /logout` | bearer: 204, the token's session ends (this device) |
/// | `POST /logout-all` | bearer: 204, every session of the token's subject ends |
/// | `GET /sessions` | bearer: 200, the live sessions of the token's subject ([`SessionInfo`], oldest first, the token's own marked `current`) as `{"sessions":[…]}` |
/// | `DELETE /sessions/{id}` | bearer: 204, the session `id` of the token's subject ends; 404 for any other id (unknown, ended, or another subject's) |
///
/// The logout and session routes authenticate with `auth`, the application's bearer layer,
/// so that they answer with its realm and rejection; a revocation state that cannot be read
/// or written is 503 `temporarily_unavailable`.
///
/// When `auth` takes DPoP ([`BearerAuthLayer::with_dpop`]), `POST /refresh` checks DPoP
/// proofs (RFC 9449) with the same verifier ([`RefreshService::with_dpop`]): a DPoP-bound
/// session refreshes only with a proof of its key, and the proof's `htu` is the URL the
/// client called, prefix included.
///
/// ```
/// use axum::Router;
/// use tower_jwt_auth::{BearerAuthLayer, Issuer, KeySet, Sessions, SigningKey, token_routes};
///
/// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
/// let auth = BearerAuthLayer::new(&issuer);
/// let app: Router = Router::new().nest("/auth", token_routes(Sessions::new(issuer), &auth));
/// # let _ = app;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn token_routes<U, R, S>(sessions: Sessions, auth: &BearerAuthLayer<U, R>) -> Router<S>
where
    U: DeserializeOwned + Clone + Send + Sync + 'static,
    R: OnRejection,
    S: Clone + Send + Sync + 'static,
{
    routes(sessions, auth.clone(), None, layer_dpop(auth))
}

/// The DPoP proof verifier of `auth`, if it takes DPoP.
fn layer_dpop<U, R>(auth: &BearerAuthLayer<U, R>) -> Option<&ProofVerifier> {
    auth.config.dpop.as_ref().map(|dpop| &dpop.verifier)
}

/// [`token_routes`] for browser apps under the cookie transport `transport`, already at the
/// transport's [mount path](CookieTransport::mount_path): merge them into the application's
/// router with [`Router::merge`]. Routes, under the mount path:
///
/// | route | answer |
/// | --- | --- |
/// | `POST /refresh` | the next pair: from the refresh cookie (with the CSRF header) as cookies, or from the body as JSON ([`RefreshService::with_cookie_transport`]) |
/// | `POST /revoke` | RFC 7009 revocation ([`RevocationService`]) |
/// | `GET /jwks.json` | the public keys ([`JwksService`]) |
/// | `POST /logout` | 204, the token's session ends and the cookies are deleted |
/// | `POST /logout-all` | 204, every session of the token's subject ends and the cookies are deleted |
/// | `GET /sessions` | 200, the live sessions of the token's subject ([`SessionInfo`], oldest first, the token's own marked `current`) as `{"sessions":[…]}` |
/// | `DELETE /sessions/{id}` | 204, the session `id` of the token's subject ends (the cookies are deleted when it is the caller's own); 404 for any other id |
///
/// The logout and session routes authenticate with `auth` under the transport
/// ([`BearerAuthLayer::with_cookie_transport`]): from the access cookie with the CSRF
/// header, or from the `Authorization` header. The application's login and signup answer
/// with [`CookieTransport::token_response`].
///
/// The refresh cookie's `Path` is the refresh route by construction: the routes come back as
/// [`CookieTokenRoutes`], which [`Router::merge`] takes and [`Router::nest`] does not, so they
/// cannot be mounted under another prefix by mistake. An application that serves everything
/// under a prefix (`/app`) gives the transport the full path the browser sees
/// (`/app/auth`) and merges these routes beside its nested router.
///
/// ```
/// use axum::Router;
/// use tower_jwt_auth::{BearerAuthLayer, Issuer, KeySet, Sessions, SigningKey, axum::cookie_token_routes, transport::CookieTransport};
///
/// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
/// let transport = CookieTransport::mounted_at("/auth").build()?;
/// let auth = BearerAuthLayer::new(&issuer);
/// // POST /auth/refresh, POST /auth/logout, …
/// let app: Router = Router::new().merge(cookie_token_routes(Sessions::new(issuer), &auth, &transport));
/// # let _ = app;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Nesting them, which would move the refresh route away from the cookie's `Path`, does not
/// compile:
///
/// ```compile_fail
/// use axum::Router;
/// use tower_jwt_auth::{BearerAuthLayer, Issuer, KeySet, Sessions, SigningKey, axum::cookie_token_routes, transport::CookieTransport};
///
/// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
/// let transport = CookieTransport::mounted_at("/auth").build()?;
/// let auth = BearerAuthLayer::new(&issuer);
/// let app: Router = Router::new().nest("/api", cookie_token_routes(Sessions::new(issuer), &auth, &transport));
/// # let _ = app;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn cookie_token_routes<U, R, S>(
    sessions: Sessions,
    auth: &BearerAuthLayer<U, R>,
    transport: &CookieTransport,
) -> CookieTokenRoutes<S>
where
    U: DeserializeOwned + Clone + Send + Sync + 'static,
    R: OnRejection,
    S: Clone + Send + Sync + 'static,
{
    let routes = routes(
        sessions,
        auth.clone().with_cookie_transport(transport),
        Some(transport),
        layer_dpop(auth),
    );
    CookieTokenRoutes {
        router: match transport.mount_path() {
            "/" => routes,
            mount => Router::new().nest(mount, routes),
        },
    }
}

/// The token routes of a [`CookieTransport`], already at its
/// [mount path](CookieTransport::mount_path) (see [`cookie_token_routes`]): a router that
/// [`Router::merge`] takes (through `Into<Router<S>>`) and [`Router::nest`] does not, so that
/// the refresh route stays where the refresh cookie is sent.
///
/// ```
/// use axum::Router;
/// use tower_jwt_auth::{BearerAuthLayer, Issuer, KeySet, Sessions, SigningKey, axum::cookie_token_routes, transport::CookieTransport};
///
/// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
/// let transport = CookieTransport::mounted_at("/auth").build()?;
/// let routes = cookie_token_routes(Sessions::new(issuer.clone()), &BearerAuthLayer::new(&issuer), &transport);
/// let app: Router = Router::new().merge(routes);
/// # let _ = app;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "merge the routes into the application's router"]
pub struct CookieTokenRoutes<S = ()> {
    router: Router<S>,
}

impl<S> std::fmt::Debug for CookieTokenRoutes<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CookieTokenRoutes").finish_non_exhaustive()
    }
}

impl<S> From<CookieTokenRoutes<S>> for Router<S> {
    fn from(routes: CookieTokenRoutes<S>) -> Self {
        routes.router
    }
}

/// The token routes, authenticated by `auth`; under a cookie transport, the refresh route
/// also reads the refresh cookie and the logout routes delete the cookies.
fn routes<U, R, S>(
    sessions: Sessions,
    auth: BearerAuthLayer<U, R>,
    transport: Option<&CookieTransport>,
    dpop: Option<&ProofVerifier>,
) -> Router<S>
where
    U: DeserializeOwned + Clone + Send + Sync + 'static,
    R: OnRejection,
    S: Clone + Send + Sync + 'static,
{
    let jwks = JwksService::new(sessions.issuer().keys());
    let ended = move |transport: Option<&CookieTransport>, result: Result<(), RevocationError>| {
        let mut response = ended(result);
        if let Some(transport) = transport
            && response.status().is_success()
        {
            transport.clear_cookies(response.headers_mut());
        }
        response
    };
    let logout = {
        let sessions = sessions.clone();
        let transport = transport.cloned();
        move |claims: SharedClaims<U>| async move {
            ended(transport.as_ref(), sessions.logout(&claims.sid).await)
        }
    };
    let logout_all = {
        let sessions = sessions.clone();
        let transport = transport.cloned();
        move |claims: SharedClaims<U>| async move {
            ended(transport.as_ref(), sessions.logout_all(&claims.sub).await)
        }
    };
    let list = {
        let sessions = sessions.clone();
        move |claims: SharedClaims<U>| async move {
            listed(sessions.list_sessions(&claims.sub, Some(&claims.sid)).await)
        }
    };
    let end_one = {
        let sessions = sessions.clone();
        let transport = transport.cloned();
        move |claims: SharedClaims<U>, Path(id): Path<String>| async move {
            match sessions.end_session(&claims.sub, &id).await {
                // The caller's own session ended: as a logout, its cookies go too.
                Ok(true) if id == claims.sid => ended(transport.as_ref(), Ok(())),
                Ok(true) => ended(None, Ok(())),
                Ok(false) => {
                    ErrorResponse::new(StatusCode::NOT_FOUND, "not_found", "no such session")
                        .into_response()
                }
                Err(err) => ended(None, Err(err)),
            }
        }
    };
    let mut refresh = RefreshService::new(sessions.clone());
    if let Some(transport) = transport {
        refresh = refresh.with_cookie_transport(transport);
    }
    if let Some(verifier) = dpop {
        refresh = refresh.with_dpop(verifier.clone());
    }
    Router::new()
        .route("/logout", post(logout))
        .route("/logout-all", post(logout_all))
        .route("/sessions", get(list))
        .route("/sessions/{id}", delete(end_one))
        .route_layer(auth)
        .route("/refresh", post_service(refresh))
        .route("/revoke", post_service(RevocationService::new(sessions)))
        .route("/jwks.json", get_service(jwks))
}

/// The body of `GET /sessions`.
#[derive(serde::Serialize)]
struct Listed {
    sessions: Vec<SessionInfo>,
}

/// 200 with the sessions, never cached; 503 when the revocation state cannot be read.
fn listed(result: Result<Vec<SessionInfo>, RevocationError>) -> Response {
    match result {
        Ok(sessions) => json_response(StatusCode::OK, &Listed { sessions }).into_response(),
        Err(err) => {
            tracing::error!(
                error = &err as &dyn std::error::Error,
                "listing sessions failed"
            );
            ErrorResponse::unavailable().into_response()
        }
    }
}

/// 204 once the sessions are revoked; 503 when the revocation state cannot be written.
fn ended(result: Result<(), RevocationError>) -> Response {
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(err) => {
            tracing::error!(error = &err as &dyn std::error::Error, "logout failed");
            ErrorResponse::unavailable().into_response()
        }
    }
}
