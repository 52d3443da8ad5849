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
//!
//! # Header or cookie
//!
//! Both transports work on the same issuer and sessions.
//!
//! - **Header transport** (the default): the token response carries both tokens in its JSON
//!   body and the client sends `Authorization: Bearer …`. Choose it for mobile and desktop
//!   apps, command-line tools, other servers, and a page that calls an API on another site.
//!   Nothing is sent without the client's say-so, so there is no CSRF to defend against; but
//!   in a browser the page's JavaScript holds the tokens, and a script injected into the page
//!   (XSS, a compromised dependency) can read a refresh token from `localStorage` and use it
//!   elsewhere for as long as the session lives.
//! - **Cookie transport** ([`CookieTransport`]): for a single-page app served from the same
//!   site as its API. The page never handles a token. An injected script can still act
//!   through the page while it is open, but it cannot carry a session away. The price is
//!   CSRF, which the crate checks for you.
//!
//! # The cookies
//!
//! | cookie | name | attributes | `Max-Age` |
//! | --- | --- | --- | --- |
//! | access token | `__Host-access_token` | `HttpOnly; Secure; SameSite=Strict; Path=/` | the access token's lifetime |
//! | refresh token | `__Secure-refresh_token` | `HttpOnly; Secure; SameSite=Strict; Path=/auth/refresh` | the refresh token's lifetime |
//! | CSRF value | `__Host-csrf_token` | `Secure; SameSite=Strict; Path=/`, readable by the page | the refresh token's lifetime |
//!
//! `__Host-` needs `Secure`, `Path=/` and no `Domain`, so the refresh cookie, with its
//! narrower path, is `__Secure-`, and so is every cookie with `with_domain`. Logout,
//! logout-all and a refused refresh (invalid, expired, reused) delete the cookies
//! (`Max-Age=0`). `with_access_in_body()` puts the access token in the JSON body instead of a
//! cookie; `with_same_site`, `with_cookie_names` and `with_csrf_header` change the rest; the
//! builder refuses contradictions (`SameSite=None` without `Secure`, a relative refresh path,
//! names that are not tokens or carry a prefix themselves). `allow_insecure_http()` drops
//! `Secure` and the prefixes for plain-http development, and logs a warning at start.
//!
//! # The CSRF contract for the page
//!
//! The page reads the session's CSRF value from the `csrf_token` cookie, or from
//! `csrf_token` in the JSON of the login and refresh responses, and sends it back as
//! `X-CSRF-Token: <value>` on every request that is not `GET`, `HEAD`, `OPTIONS` or `TRACE`
//! and on every refresh (`POST /auth/refresh` with no body: the refresh cookie is the token).
//! Without it, or with another value, the answer is 403 `{"error":"invalid_csrf_token"}` and
//! the session is untouched. The value survives every refresh. It is in a readable cookie so
//! that a page that was reloaded finds it without asking the server, and in the body for the
//! page that just logged in; a cross-site page can neither read it nor send the header. A
//! token sent in the `Authorization` header needs no CSRF value; a refresh with the token in
//! the body works as before, and one with a token in both the body and the cookie is
//! refused (400).
//!
//! The quickstart serves a demo page on this transport (`cargo run -p quickstart`, then open
//! `http://127.0.0.1:3000/`); `examples/quickstart/tests/browser.rs` drives it in Chromium.

mod cookies;
pub(crate) mod csrf;
pub(crate) mod response;

pub use cookies::{CookieTransport, CookieTransportBuilder, SameSite};
