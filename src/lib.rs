//! Access-token / refresh-token authentication for tower, axum and hyper.
//!
//! `tower-jwt-auth` covers the whole token life cycle of an API:
//!
//! - an [`Issuer`] mints an access + refresh pair at signup or login;
//! - [`BearerAuthLayer`] verifies the access token of every request with a [`Verifier`]:
//!   signature with the key of `kid` pinned to one algorithm, exact token type,
//!   `exp`/`nbf`/`iat` on an injectable [`Clock`], `iss`/`aud`, and revocation —
//!   synchronously, without allocating beyond the claims — and answers RFC 6750 responses;
//! - [`Sessions`] exchanges refresh tokens with rotation on every use, detects reuse and then
//!   revokes the whole session, and logs out one device or every device; [`RefreshService`],
//!   [`RevocationService`] (RFC 7009) and [`JwksService`] put it on HTTP;
//! - a [`RevocationStore`] keeps the deny-list in concurrent in-memory maps, in front of a
//!   [`RevocationBackend`] that holds one record per session (refresh is an atomic
//!   compare-and-swap on it) and shares revocations between instances through a change feed;
//!   [`MemoryBackend`] keeps it in process.
//!
//! # axum
//!
//! ```
//! use axum::{Json, Router, routing::get};
//! use tower_jwt_auth::{
//!     BearerAuthLayer, Claims, Issuer, KeySet, NoCustomClaims, RequireScopeLayer, Sessions,
//!     SigningKey, token_routes,
//! };
//!
//! async fn me(claims: Claims) -> Json<String> {
//!     Json(claims.sub)
//! }
//!
//! let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?))
//!     .with_issuer("https://auth.example")
//!     .with_audience("api")
//!     .build()?;
//! let app: Router = Router::new()
//!     .route("/admin", get(me).route_layer(RequireScopeLayer::new(["admin"])))
//!     .route("/me", get(me))
//!     .layer(BearerAuthLayer::new(issuer.verifier().clone()).with_realm("api"))
//!     .nest("/auth", token_routes(Sessions::<NoCustomClaims>::new(issuer.clone())));
//! # let _ = app;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The refresh flow
//!
//! ```
//! use tower_jwt_auth::{Claims, Issuer, KeySet, NoCustomClaims, RefreshError, Sessions, SigningKey};
//!
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
//! let sessions: Sessions = Sessions::new(issuer.clone());
//!
//! // Login: a new session.
//! let pair = issuer.issue_with_scope("alice", "read write", &NoCustomClaims {}).await?;
//! let claims: Claims = issuer.verifier().verify_access(pair.access_token())?;
//! assert!(claims.has_scope("write"));
//!
//! // Refresh: the refresh token is single-use and the next pair stays in the session.
//! let next = sessions.refresh(pair.refresh_token()).await?;
//! assert_eq!(next.session_id(), pair.session_id());
//!
//! // Reuse of a consumed refresh token revokes the whole session, newest tokens included.
//! assert!(matches!(sessions.refresh(pair.refresh_token()).await, Err(RefreshError::Reused)));
//! assert!(issuer.verifier().verify_access::<NoCustomClaims>(next.access_token()).is_err());
//!
//! // Logout (one device) and log out everywhere (every device).
//! let other = issuer.issue("alice", &NoCustomClaims {}).await?;
//! sessions.logout(other.session_id()).await?;
//! sessions.logout_all("alice").await?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A persistent, shared revocation state is a [`RevocationBackend`]: its documentation states
//! the contract, and `conformance` (feature `test-util`) checks an implementation against it.
//! With one, spawn [`RevocationStore::run`] next to the server: it loads the shared state
//! (tokens are refused with 503 until then), follows the other instances' revocations and
//! purges.
//!
//! # Token format
//!
//! Compact JWS. Access tokens have `typ: at+jwt` (RFC 9068), refresh tokens
//! `typ: refresh+jwt`; each kind is only accepted where it is expected. `exp`, `iat`, `jti`,
//! `sub` and `sid` are required on every token; `iss` and `aud` whenever configured.
//! Algorithms: EdDSA (recommended), ES256, RS256, PS256, HS256/384/512. Key material in the
//! header (`jwk`, `jku`, `x5u`, `x5c`) is ignored; `kid` only selects a key of the
//! [`KeySet`]. Every token carries its session's start, `auth_time` (RFC 9068), and the
//! private `auth_time_ms` with millisecond precision: "log out everywhere" revokes the
//! sessions started at or before its cut-off, even within the same second. `sexp`, on refresh
//! tokens, is the session's absolute expiry.
//!
//! # Feature flags
//!
//! | feature | default | what it adds |
//! | --- | --- | --- |
//! | `axum` | yes | the `Claims<T>` extractor, `IntoResponse` for the crate's types, `token_routes` |
//! | `test-util` | no | [`MockClock`], to expire tokens in your own tests without sleeping; `conformance`, the suite every [`RevocationBackend`] passes |
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "axum")]
mod axum;
mod bearer;
mod claims;
mod clock;
mod endpoints;
mod error;
mod issuer;
mod jws;
mod keys;
mod revocation;
mod session;
mod verifier;

#[cfg(feature = "axum")]
pub use axum::{ClaimsRejection, token_routes};
pub use bearer::{
    AuthError, BearerAuth, BearerAuthLayer, DefaultRejection, JsonRejection, OnRejection,
    RequireScope, RequireScopeLayer, ResponseFuture,
};
pub use claims::{Claims, NoCustomClaims};
#[cfg(any(test, feature = "test-util"))]
pub use clock::MockClock;
pub use clock::{Clock, SystemClock};
pub use endpoints::{
    DEFAULT_BODY_LIMIT, ErrorResponse, JwksService, Refresh, RefreshService, RevocationService,
    Revoke, SessionEndpoint, token_response,
};
pub use error::{
    BoxError, ConfigError, IssueError, KeyError, RefreshError, RevocationError, TokenError,
};
pub use issuer::{Issuer, IssuerBuilder, TokenPair};
pub use keys::{Algorithm, KeySet, SigningKey, VerifyingKey};
#[cfg(any(test, feature = "test-util"))]
pub use revocation::conformance;
pub use revocation::{
    BoxFuture, ChangeStream, MemoryBackend, NewSession, RevocationBackend, RevocationEntry,
    RevocationStore, RevocationStoreBuilder, RotateOutcome, Rotation,
};
pub use session::{RefreshDecision, RefreshHook, Sessions, SessionsBuilder};
pub use verifier::{DEFAULT_MAX_TOKEN_LEN, TokenKind, Verifier, VerifierBuilder};

/// JWK types of the public key set, re-exported from `jsonwebtoken`.
pub mod jwk {
    pub use jsonwebtoken::jwk::{Jwk, JwkSet};
}

/// The README's example compiles.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
