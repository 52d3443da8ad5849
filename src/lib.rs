//! Access-token / refresh-token authentication for tower, axum and hyper.
//!
//! `tower-jwt-auth` covers the whole token life cycle of an API:
//!
//! - an [`Issuer`] mints an access + refresh pair at signup or login;
//! - a [`Verifier`] checks access tokens on every request: signature with the key of `kid`
//!   pinned to one algorithm, exact token type, `exp`/`nbf`/`iat` on an injectable [`Clock`],
//!   `iss`/`aud`, and revocation — synchronously, without allocating beyond the claims;
//! - [`Sessions`] exchanges refresh tokens with rotation on every use, detects reuse and then
//!   revokes the whole session, and logs out one device or every device;
//! - a [`RevocationStore`] keeps the deny-list in concurrent in-memory maps, in front of an
//!   optional persistent [`RevocationBackend`] shared between instances.
//!
//! # Example
//!
//! ```
//! use tower_jwt_auth::{Claims, Issuer, KeySet, NoCustomClaims, Sessions, SigningKey};
//!
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! let keys = KeySet::new(SigningKey::generate_ed25519()?);
//! let issuer = Issuer::builder(keys)
//!     .with_issuer("https://auth.example")
//!     .with_audience("api")
//!     .build()?;
//! let sessions: Sessions = Sessions::new(issuer.clone());
//!
//! // Login: a new session.
//! let pair = issuer.issue_with_scope("alice", "read write", &NoCustomClaims {})?;
//!
//! // Every request: verify the access token.
//! let claims: Claims = issuer.verifier().verify_access(pair.access_token())?;
//! assert!(claims.has_scope("write"));
//!
//! // Refresh: rotate.
//! let next = sessions.refresh(pair.refresh_token()).await?;
//!
//! // Logout: this device's tokens stop working at once.
//! sessions.logout(next.session_id()).await?;
//! assert!(issuer.verifier().verify_access::<NoCustomClaims>(next.access_token()).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Token format
//!
//! Compact JWS. Access tokens have `typ: at+jwt` (RFC 9068), refresh tokens
//! `typ: refresh+jwt`; each kind is only accepted where it is expected. `exp`, `iat`, `jti`,
//! `sub` and `sid` are required on every token; `iss` and `aud` whenever configured.
//! Algorithms: EdDSA (recommended), ES256, RS256, PS256, HS256/384/512. Key material in the
//! header (`jwk`, `jku`, `x5u`, `x5c`) is ignored; `kid` only selects a key of the
//! [`KeySet`].
//!
//! # Feature flags
//!
//! | feature | what it adds |
//! | --- | --- |
//! | `test-util` | [`MockClock`], to drive expiry in your own tests without sleeping |
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
pub use revocation::{
    BoxFuture, ConsumeOutcome, RevocationBackend, RevocationEntry, RevocationStore,
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
