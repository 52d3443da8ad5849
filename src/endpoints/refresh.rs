//! [`RefreshService`]: the refresh-token exchange over HTTP (RFC 6749 §6).

use std::{
    convert::Infallible,
    fmt,
    task::{Context, Poll},
};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::Body;
use http_body_util::Full;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use tower_service::Service;

use super::{DEFAULT_BODY_LIMIT, ErrorResponse, body, token_response};
use crate::{
    claims::NoCustomClaims,
    error::{BoxError, RefreshError},
    revocation::BoxFuture,
    session::Sessions,
};

#[derive(Deserialize)]
struct RefreshRequest {
    grant_type: Option<String>,
    refresh_token: Option<String>,
}

/// A tower service for `POST /token`-style refresh requests.
///
/// Accepts JSON `{"refresh_token": "…"}` or the RFC 6749 §6 form
/// `grant_type=refresh_token&refresh_token=…` (a JSON body may carry `grant_type` too). On
/// success it answers 200 with the next token pair and `Cache-Control: no-store`. A rejected
/// refresh token is 400 `invalid_grant` (reuse also revokes the session); a malformed request
/// is 400 `invalid_request` (415 for an unknown content type, 413 for a body over the limit);
/// an unknown `grant_type` is 400 `unsupported_grant_type`; a revocation store that cannot be
/// written is 503. Never a 500 for anything the client sends.
///
/// ```
/// use http::{Request, StatusCode};
/// use http_body_util::Full;
/// use tower::ServiceExt;
/// use tower_jwt_auth::{Issuer, KeySet, NoCustomClaims, RefreshService, Sessions, SigningKey};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
/// let pair = issuer.issue("alice", &NoCustomClaims {})?;
/// let service = RefreshService::new(Sessions::<NoCustomClaims>::new(issuer));
///
/// let request = Request::post("/auth/refresh")
///     .header("content-type", "application/x-www-form-urlencoded")
///     .body(Full::<bytes::Bytes>::from(format!("grant_type=refresh_token&refresh_token={}", pair.refresh_token())))?;
/// let response = service.oneshot(request).await?;
/// assert_eq!(response.status(), StatusCode::OK);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RefreshService<T = NoCustomClaims> {
    sessions: Sessions<T>,
    limit: usize,
}

impl<T> Clone for RefreshService<T> {
    fn clone(&self) -> Self {
        Self {
            sessions: self.sessions.clone(),
            limit: self.limit,
        }
    }
}

impl<T> fmt::Debug for RefreshService<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshService")
            .field("sessions", &self.sessions)
            .field("body_limit", &self.limit)
            .finish()
    }
}

impl<T> RefreshService<T> {
    /// A refresh endpoint over `sessions`, with a 16 KiB body limit.
    pub fn new(sessions: Sessions<T>) -> Self {
        Self {
            sessions,
            limit: DEFAULT_BODY_LIMIT,
        }
    }

    /// Sets the request body limit in bytes.
    ///
    /// ```
    /// # use tower_jwt_auth::{Issuer, KeySet, NoCustomClaims, RefreshService, Sessions, SigningKey};
    /// # let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let service = RefreshService::new(Sessions::<NoCustomClaims>::new(issuer)).with_body_limit(4096);
    /// # let _ = service;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_body_limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }
}

/// The refresh exchange's error as an OAuth response.
pub(crate) fn refresh_error(err: &RefreshError) -> ErrorResponse {
    match err {
        _ if !err.is_invalid_grant() && matches!(err, RefreshError::InvalidToken(_)) => {
            ErrorResponse::unavailable()
        }
        RefreshError::InvalidToken(_) => ErrorResponse::invalid_grant("refresh token is invalid"),
        RefreshError::Reused => {
            ErrorResponse::invalid_grant("refresh token was already used; session revoked")
        }
        RefreshError::Refused => ErrorResponse::invalid_grant("refresh refused"),
        RefreshError::Hook(_) | RefreshError::Revocation(_) => ErrorResponse::unavailable(),
        RefreshError::Issue(_) => ErrorResponse::server_error(),
    }
}

impl<T, B> Service<Request<B>> for RefreshService<T>
where
    T: Serialize + DeserializeOwned + Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let sessions = self.sessions.clone();
        let limit = self.limit;
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let parsed: RefreshRequest = match body::parse(&parts.headers, body, limit).await {
                Ok(parsed) => parsed,
                Err(err) => return Ok(err.into_response()),
            };
            match parsed.grant_type.as_deref() {
                Some("refresh_token") => {}
                None if !is_form(&parts.headers) => {}
                None => {
                    return Ok(ErrorResponse::invalid_request("missing grant_type").into_response());
                }
                Some(_) => {
                    return Ok(ErrorResponse::new(
                        StatusCode::BAD_REQUEST,
                        "unsupported_grant_type",
                        "only grant_type=refresh_token is supported here",
                    )
                    .into_response());
                }
            }
            let Some(token) = parsed.refresh_token.filter(|t| !t.is_empty()) else {
                return Ok(ErrorResponse::invalid_request("missing refresh_token").into_response());
            };
            Ok(match sessions.refresh(&token).await {
                Ok(pair) => token_response(StatusCode::OK, &pair),
                Err(err) => refresh_error(&err).into_response(),
            })
        })
    }
}

fn is_form(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}
