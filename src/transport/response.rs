//! The token endpoints' JSON answers (RFC 6749 §5): the token response and OAuth errors,
//! never cached.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;
use serde::Serialize;

use crate::issuer::TokenPair;

/// `body` as a JSON response with `status` that no cache keeps (RFC 6749 §5.1), or a 500
/// `server_error` when it cannot be serialised.
pub(crate) fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Full<Bytes>> {
    match serde_json::to_vec(body) {
        Ok(body) => json(status, body),
        Err(_) => ErrorResponse::server_error().into_http_response(),
    }
}

fn json(status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // RFC 6749 §5.1: token responses must never be cached.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// The RFC 6749 §5.1 token response for `pair`, with `status` (200 for login and refresh,
/// 201 for signup), `Content-Type: application/json` and `Cache-Control: no-store`.
///
/// ```
/// use http::StatusCode;
/// use tower_jwt_auth::{Issuer, KeySet, SigningKey, endpoints::token_response, token::NoCustomClaims};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
/// let pair = tower_jwt_auth::Sessions::new(issuer.clone()).start("alice").await?;
/// let response = token_response(StatusCode::CREATED, &pair);
/// assert_eq!(response.status(), StatusCode::CREATED);
/// assert_eq!(response.headers()["cache-control"], "no-store");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn token_response(status: StatusCode, pair: &TokenPair) -> Response<Full<Bytes>> {
    json_response(status, pair)
}

/// An OAuth 2.0 error response (RFC 6749 §5.2): a status, an `error` code and a description.
///
/// ```
/// use tower_jwt_auth::endpoints::ErrorResponse;
///
/// let response = ErrorResponse::invalid_request("missing refresh_token").into_http_response();
/// assert_eq!(response.status(), 400);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorResponse {
    status: StatusCode,
    error: &'static str,
    description: &'static str,
}

impl ErrorResponse {
    /// Any error response.
    ///
    /// ```
    /// use http::StatusCode;
    /// use tower_jwt_auth::endpoints::ErrorResponse;
    ///
    /// let slow_down = ErrorResponse::new(StatusCode::TOO_MANY_REQUESTS, "slow_down", "too many attempts");
    /// assert_eq!(slow_down.status(), 429);
    /// ```
    pub fn new(status: StatusCode, error: &'static str, description: &'static str) -> Self {
        Self {
            status,
            error,
            description,
        }
    }

    /// 400 `invalid_request`.
    ///
    /// ```
    /// use tower_jwt_auth::endpoints::ErrorResponse;
    ///
    /// assert_eq!(ErrorResponse::invalid_request("missing token").error(), "invalid_request");
    /// ```
    pub fn invalid_request(description: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// 400 `invalid_grant`.
    ///
    /// ```
    /// use tower_jwt_auth::endpoints::ErrorResponse;
    ///
    /// assert_eq!(ErrorResponse::invalid_grant("expired").status(), 400);
    /// ```
    pub fn invalid_grant(description: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    /// 503 `temporarily_unavailable`: the server could not complete the request (revocation
    /// state unreachable); the client may retry.
    ///
    /// ```
    /// use tower_jwt_auth::endpoints::ErrorResponse;
    ///
    /// assert_eq!(ErrorResponse::unavailable().status(), 503);
    /// ```
    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the server cannot complete the request now; retry later",
        )
    }

    /// 500 `server_error`.
    ///
    /// ```
    /// use tower_jwt_auth::endpoints::ErrorResponse;
    ///
    /// assert_eq!(ErrorResponse::server_error().error(), "server_error");
    /// ```
    pub fn server_error() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal error",
        )
    }

    /// The status.
    ///
    /// ```
    /// use tower_jwt_auth::endpoints::ErrorResponse;
    ///
    /// assert_eq!(ErrorResponse::invalid_grant("reused").status(), 400);
    /// ```
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The `error` code.
    ///
    /// ```
    /// use tower_jwt_auth::endpoints::ErrorResponse;
    ///
    /// assert_eq!(ErrorResponse::unavailable().error(), "temporarily_unavailable");
    /// ```
    pub fn error(&self) -> &'static str {
        self.error
    }

    /// The `error_description`: a short text, safe to send, that never contains a token.
    ///
    /// ```
    /// use tower_jwt_auth::endpoints::ErrorResponse;
    ///
    /// let error = ErrorResponse::invalid_grant("refresh token reused");
    /// assert_eq!(error.description(), "refresh token reused");
    /// ```
    pub fn description(&self) -> &'static str {
        self.description
    }

    /// The JSON response. The `ErrorResponse` also goes into the response's extensions, so
    /// that an outer `TraceLayer` or the application's logging can report why. A 503 says
    /// `Retry-After: 1`.
    ///
    /// ```
    /// use tower_jwt_auth::endpoints::ErrorResponse;
    ///
    /// let response = ErrorResponse::invalid_request("missing token").into_http_response();
    /// assert_eq!(response.headers()["content-type"], "application/json");
    /// assert_eq!(response.headers()["cache-control"], "no-store");
    /// let why = response.extensions().get::<ErrorResponse>().unwrap();
    /// assert_eq!(why.error(), "invalid_request");
    /// let response = ErrorResponse::unavailable().into_http_response();
    /// assert_eq!(response.headers()["retry-after"], "1");
    /// ```
    pub fn into_http_response(self) -> Response<Full<Bytes>> {
        let body =
            serde_json::json!({ "error": self.error, "error_description": self.description });
        let mut response = json(self.status, body.to_string().into_bytes());
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            // The revocation state is back within about a second of the backend.
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response.extensions_mut().insert(self);
        response
    }
}
