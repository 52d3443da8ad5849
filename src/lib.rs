//! Access-token / refresh-token authentication for tower, axum and hyper.
//!
//! `tower-jwt-auth` covers the whole token life cycle of an API:
//!
//! - [`Sessions`] owns the life cycle of a login: [`start`](Sessions::start) at signup or
//!   login hands out an access + refresh pair, [`refresh`](Sessions::refresh) exchanges the
//!   refresh token with rotation on every use (reuse revokes the whole session; the session's
//!   scope and application claims ride along unchanged), then logout of one device or every
//!   device and RFC 7009 revocation; [`token_routes`] (axum) and the services of
//!   [`endpoints`] put it on HTTP;
//! - an [`Issuer`] mints and signs the pairs (synchronously, no I/O) and hands out the
//!   matching [`Verifier`];
//! - [`BearerAuthLayer`] verifies the access token of every request with a [`Verifier`]:
//!   signature with the key of `kid` pinned to one algorithm, exact token type,
//!   `exp`/`nbf`/`iat` on an injectable [`Clock`](clock::Clock), `iss`/`aud`, and
//!   revocation — synchronously, without allocating beyond the claims — and answers RFC 6750
//!   responses; a token that verified once is recognised by its bytes afterwards (a cache
//!   whose hits still check expiry, revocation, the key set and scopes);
//!   [`require_scope`](BearerAuthLayer::require_scope) adds per-route scopes;
//! - the [`store`] keeps the deny-list in concurrent in-memory maps, in front of a
//!   [`RevocationBackend`](store::RevocationBackend) that holds one record per session
//!   (refresh is an atomic compare-and-swap on it) and shares revocations between instances.
//!
//! # axum
//!
//! ```
//! use axum::{Json, Router, routing::get};
//! use tower_jwt_auth::{BearerAuthLayer, Claims, Issuer, KeySet, Sessions, SigningKey, token_routes};
//!
//! async fn me(claims: Claims) -> Json<String> {
//!     Json(claims.sub)
//! }
//!
//! let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?))
//!     .with_issuer("https://auth.example")
//!     .with_audience("api")
//!     .build()?;
//! let auth = BearerAuthLayer::new(&issuer).with_realm("api");
//! let app: Router = Router::new()
//!     .route("/me", get(me))
//!     // `route_layer`: only matched routes need a token, so unknown paths stay 404.
//!     .route_layer(auth.clone())
//!     // The admin route's layer: the same one, requiring a scope too.
//!     .route("/admin", get(me).route_layer(auth.require_scope(["admin"])))
//!     .nest("/auth", token_routes(Sessions::new(issuer.clone()), &auth));
//! # let _ = app;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The refresh flow
//!
//! ```
//! use tower_jwt_auth::{Claims, Issuer, KeySet, Sessions, SigningKey, session::RefreshError};
//!
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
//! let sessions = Sessions::new(issuer.clone());
//!
//! // Login: a new session.
//! let pair = sessions.start_with_scope("alice", "read write").await?;
//! let claims: Claims = issuer.verifier().verify_access(pair.access_token())?;
//! assert!(claims.has_scope("write"));
//!
//! // Refresh: the refresh token is single-use and the next pair stays in the session.
//! let next = sessions.refresh(pair.refresh_token()).await?;
//! assert_eq!(next.session_id(), pair.session_id());
//!
//! // Reuse of a consumed refresh token revokes the whole session, newest tokens included.
//! assert!(matches!(sessions.refresh(pair.refresh_token()).await, Err(RefreshError::Reused)));
//! let revoked: Result<Claims, _> = issuer.verifier().verify_access(next.access_token());
//! assert!(revoked.is_err());
//!
//! // Logout (one device) and log out everywhere (every device).
//! let other = sessions.start("alice").await?;
//! sessions.logout(other.session_id()).await?;
//! sessions.logout_all("alice").await?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Browser apps
//!
//! The default transport is the `Authorization` header, with both tokens in the JSON body of
//! the token response. For a single-page app, [`transport::CookieTransport`] keeps the tokens
//! in `HttpOnly` cookies that page scripts cannot read, and checks a CSRF value bound to the
//! session on every request that changes state; see the module's documentation.
//!
//! # Testing handlers
//!
//! With the `test-util` feature, `testing::TestEnv` sets up an issuer, its sessions and a
//! bearer layer on a `clock::MockClock` in one call (expire a token without sleeping), and
//! `testing::TestClient` sends requests to any tower service, an axum `Router` included,
//! with a bearer token, JSON or a form, keeping the cookies it is given (per `Path` and
//! `Max-Age`) and sending the CSRF header of the cookie transport; see the README's *Testing
//! your handlers*. `Claims::builder` makes claims to put in a request (behind an `Arc`), as
//! the layer would.
//!
//! # Where things are
//!
//! The names of the short program are at the crate root; the rest is in one module per
//! concept: [`keys`] (algorithms, signing and verifying keys, JWK), [`token`] (claims, kinds,
//! the verifier and its errors), [`issuer`], [`session`] (the refresh exchange and its hook),
//! [`store`] (session records, the deny-list, the local store, the backend contract and `conformance`), [`bearer`] (the
//! middleware, its rejections and body), [`endpoints`] (tower services for the token
//! endpoints), [`transport`] (the cookie transport for browser apps, with its CSRF check),
//! [`dpop`] (sender-constrained tokens: proofs, nonces, the replay cache), [`clock`] and, per
//! feature, [`axum`], `grpc` and `keys::RemoteJwks`.
//!
//! A persistent, shared revocation state is a
//! [`RevocationBackend`](store::RevocationBackend): its documentation states the
//! contract, and `store::conformance` (feature `test-util`) checks an implementation
//! against it. With one, spawn [`RevocationStore::run`](store::RevocationStore::run)
//! next to the server: it loads the shared state (tokens are refused with 503 until then),
//! follows the other instances' revocations and purges. The crate has three, per feature:
//! `store::RedisBackend` (`redis`), `store::PostgresBackend` (`postgres`) and
//! `store::SqliteBackend` (`sqlite`).
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
//! | `axum` | yes | the `Claims<T>` extractor, `IntoResponse` for the crate's types, [`token_routes`] |
//! | `aws-lc-rs` | yes | the AWS-LC crypto backend (used whenever it is on) |
//! | `ring` | no | the ring crypto backend: turn off default features and on `ring` (and `axum`) for a lighter build; one backend is required |
//! | `tonic` | no | `grpc::GrpcRejection`: rejections as gRPC statuses (`UNAUTHENTICATED`, `PERMISSION_DENIED`) with the challenge in the metadata |
//! | `redis` | no | `store::RedisBackend`: session records and revocations in Redis, shared by every instance, with a pub/sub change feed |
//! | `remote-jwks` | no | `keys::RemoteJwks`: a resource server's keys, fetched from another issuer's JWKS over HTTPS (reqwest with rustls, no OpenSSL), cached per `Cache-Control` within a floor and a ceiling, refetched at most once per interval for unknown `kid`s, the last good set kept while the issuer is down; and `bearer::Introspector` for `BearerAuthLayer::with_introspection`: RFC 7662 introspection of verified tokens at the issuer, through a short bounded cache of answers |
//! | `test-util` | no | `testing::TestEnv` and `testing::TestClient` (the testing kit), `clock::MockClock`, `Claims::builder`, `store::conformance` (the suite every backend passes), and `token::verify_signature_only` / `verify_signature_only_with_key` (the signature layer alone, for key-loading tests against public vectors) |
//! | `postgres` | no | `store::PostgresBackend`: sessions and revocations in PostgreSQL (sqlx 0.9, which needs Rust 1.94), LISTEN/NOTIFY as the change feed |
//! | `sqlite` | no | `store::SqliteBackend`: the same in one SQLite file (bundled, WAL) for a single node, with its change feed in process |
//! | `metrics` | no | counters through the `metrics` facade: accepted and refused requests by reason, refresh outcomes, reuse detections, revocations, backend errors, change-feed gaps, cache hits and misses (names under *Observability* below) |
//!
//! # Observability
//!
//! Every decision emits a `tracing` event, never with a token in it: refused requests at
//! `debug` on the target `tower_jwt_auth::bearer` with a stable
//! [`reason`](bearer::AuthError::reason), refresh-token reuse at `warn` on
//! `tower_jwt_auth::session` with `sub` and `sid`, revocations and backend failures on
//! `tower_jwt_auth::revocation`. A refused response carries its
//! [`AuthError`](bearer::AuthError) in its extensions for an outer logging layer, and a token
//! endpoint's error response its [`ErrorResponse`](endpoints::ErrorResponse), so that an outer
//! `TraceLayer` or the application's own middleware can log why
//! ([`AuthError::reason`](bearer::AuthError::reason) is a stable code) without parsing bodies.
//! No event carries a token, a key or a claim value other than the subject and session
//! identifiers an operator needs to act.
//!
//! | target | level | event | fields |
//! | --- | --- | --- | --- |
//! | `tower_jwt_auth::bearer` | `debug` | a refused request (inside the `authenticate` span) | `reason` (`missing_token`, `expired`, `revoked`, `invalid_signature`, `insufficient_scope`, `invalid_csrf_token`, …), `status` |
//! | `tower_jwt_auth::bearer` | `warn` | a request refused because the revocation state cannot be read (503) | `reason="unavailable"`, `status` |
//! | `tower_jwt_auth::session` | `warn` | **refresh-token reuse**: a spent refresh token came back, the session is revoked; the token was probably stolen | `sub`, `sid` |
//! | `tower_jwt_auth::session` | `debug` / `warn` | a refresh rotated, was refused (`invalid_grant`, or `invalid_csrf_token` from the refresh cookie), or failed on the server | `sub`, `sid`, `reason` |
//! | `tower_jwt_auth::revocation` | `info` | a revocation written (logout, log out everywhere, RFC 7009) | `what` (`access`, `session`, `subject`; `token` for an entry by `jti` the application writes), `sub` or `sid` |
//! | `tower_jwt_auth::revocation` | `warn` | a backend operation failed (the caller fails closed), the change feed broke, the backend is unreachable | `operation`, `error`, `retry_in_ms` |
//! | `tower_jwt_auth::revocation` | `info` | the shared state (re)loaded | `entries`, `behind_ms`: how long the instance had not been following the feed |
//!
//! The quickstart example logs one `info` line per request on standard error, with the level
//! from `RUST_LOG`:
//!
//! ```text
//! INFO quickstart: request refused method=GET path="/me" status=401 micros=112 reason="expired"
//! WARN tower_jwt_auth::session: refresh token reuse detected: the token was probably stolen; session revoked sub="bob" sid="HDs4Qg_lqO69tKjJDOk0Tw"
//! INFO quickstart: request failed method=POST path="/auth/refresh" status=400 micros=373 error="invalid_grant" why="refresh token was already used; session revoked"
//! ```
//!
//! With the `metrics` feature the same decisions are counted through the `metrics` facade
//! (install any recorder, e.g. a Prometheus exporter): `tower_jwt_auth_accepted_total{anonymous}`,
//! `tower_jwt_auth_rejected_total{reason}`, `tower_jwt_auth_refresh_total{outcome}` (`rotated`,
//! `reused`, or the refusal's reason), `tower_jwt_auth_reuse_detected_total`,
//! `tower_jwt_auth_revocations_total{what}`, `tower_jwt_auth_backend_errors_total{operation}`,
//! `tower_jwt_auth_feed_gaps_total`, `tower_jwt_auth_revocation_stale_total` (the revocation
//! state went staler than its bound) with the gauge
//! `tower_jwt_auth_revocation_staleness_seconds`, and the verified-token cache's
//! `tower_jwt_auth_cache_hits_total` and `tower_jwt_auth_cache_misses_total`. Without a
//! recorder a counter costs an atomic load.
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "axum")]
pub mod axum;
pub mod bearer;
pub mod clock;
mod config;
mod crypto;
pub mod dpop;
pub mod endpoints;
#[cfg(feature = "tonic")]
pub mod grpc;
pub mod issuer;
pub mod keys;
mod redact;
pub mod session;
pub mod store;
mod telemetry;
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod testing;
pub mod token;
pub mod transport;

#[cfg(feature = "axum")]
pub use axum::token_routes;
pub use bearer::BearerAuthLayer;
pub use config::ConfigError;
pub use issuer::{Issuer, TokenPair};
pub use keys::{KeySet, SigningKey};
pub use session::Sessions;
pub use token::{Claims, Verifier};

/// The README's example compiles.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
