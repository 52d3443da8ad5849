//! The cookie transport for browser apps: [`CookieTransport`].
//!
//! A single-page app that keeps its refresh token in `localStorage` hands it to any script
//! injected into the page. Under the cookie transport the browser keeps the tokens in
//! `HttpOnly` cookies that no script can read, the refresh cookie is only ever sent to the
//! refresh endpoint, and every cookie is `SameSite=Strict` and `Secure` by default.
//!
//! Cookies are sent by the browser on its own, so a request that authenticates with a cookie
//! must also prove that it comes from the application's page (CSRF protection, double
//! submit): every session has a random CSRF value, the `csrf` claim of all its tokens, which
//! the page reads from the readable CSRF cookie (or the `csrf_token` member of the login and
//! refresh responses) and sends back in the `X-CSRF-Token` header. Requests with any method
//! but `GET`, `HEAD`, `OPTIONS` and `TRACE` that authenticate with the access cookie, and
//! every refresh with the refresh cookie, are refused with 403 when the header is missing or
//! does not match the token's claim (compared in constant time). Because the value is bound
//! to the signed session, a cookie planted by a sibling subdomain cannot stand in for it.
//!
//! ```
//! use axum::{Router, routing::get};
//! use tower_jwt_auth::{
//!     BearerAuthLayer, Claims, Issuer, KeySet, Sessions, SigningKey, axum::cookie_token_routes,
//!     transport::CookieTransport,
//! };
//!
//! let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
//! let transport = CookieTransport::mounted_at("/auth").build()?;
//! let auth = BearerAuthLayer::new(&issuer)
//!     .with_cookie_transport(&transport);
//! let app: Router = Router::new()
//!     .route("/me", get(|claims: Claims| async move { claims.sub }))
//!     .route_layer(auth.clone())
//!     .merge(cookie_token_routes(Sessions::new(issuer), &auth, &transport));
//! # let _ = app;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod cookies;
pub(crate) mod csrf;
pub(crate) mod response;

pub use cookies::{CookieTransport, CookieTransportBuilder, SameSite};
