//! The demo page: its HTML and script, and its routes on the cookie transport.

use axum::{
    Json, Router,
    extract::{State, rejection::JsonRejection as BodyRejection},
    http::{
        HeaderMap, HeaderValue,
        header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE},
    },
    response::{IntoResponse, Response},
    routing::{get, post},
};
use tower_jwt_auth::{
    BearerAuthLayer, Sessions, axum::cookie_token_routes, transport::CookieTransport,
};

use crate::{
    AppState,
    routes::{Credentials, Profile, log_in, me, sign_up},
};

/// Where the demo page's cookie-transport routes are mounted.
pub const DEMO_PREFIX: &str = "/browser";

pub(crate) const DEMO_HTML: &str = include_str!("../static/index.html");
pub(crate) const DEMO_JS: &str = include_str!("../static/app.js");

/// The page, its script, and its routes under [`DEMO_PREFIX`]: signup and login answered
/// with cookies, `/me` and the token routes under the cookie transport.
pub(crate) fn demo_routes(
    sessions: &Sessions,
    auth: &BearerAuthLayer<Profile>,
    transport: &CookieTransport,
) -> Router<AppState> {
    let browser_auth = auth.clone().with_cookie_transport(transport);
    let api = Router::new()
        .route("/me", get(me))
        .route_layer(browser_auth)
        .route("/signup", post(browser_signup))
        .route("/login", post(browser_login));
    Router::new()
        .route(
            "/",
            get(|| async { static_file(DEMO_HTML, "text/html; charset=utf-8") }),
        )
        .route(
            "/demo/app.js",
            get(|| async { static_file(DEMO_JS, "text/javascript; charset=utf-8") }),
        )
        .nest(DEMO_PREFIX, api)
        // Mounted where the transport says (`/browser/auth`), so that the refresh route is
        // where the refresh cookie is sent.
        .merge(cookie_token_routes(sessions.clone(), auth, transport))
}

/// An embedded file; the page loads scripts from its own origin only.
pub(crate) fn static_file(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

pub(crate) async fn browser_signup(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<Credentials>, BodyRejection>,
) -> Response {
    sign_up(&state, &headers, body, Some(&state.transport), None).await
}

pub(crate) async fn browser_login(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<Credentials>, BodyRejection>,
) -> Response {
    log_in(&state, &headers, body, Some(&state.transport), None).await
}
