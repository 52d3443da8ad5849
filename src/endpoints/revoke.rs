//! [`RevocationService`]: token revocation over HTTP (RFC 7009).

use std::{
    convert::Infallible,
    fmt,
    task::{Context, Poll},
};

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body::Body;
use http_body_util::Full;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use tower_service::Service;

use super::{DEFAULT_BODY_LIMIT, ErrorResponse, body};
use crate::{claims::NoCustomClaims, error::BoxError, revocation::BoxFuture, session::Sessions};

#[derive(Deserialize)]
struct RevokeRequest {
    token: Option<String>,
    // RFC 7009 §2.1: only a hint; both kinds are tried whatever it says.
    #[allow(dead_code)]
    token_type_hint: Option<String>,
}

/// A tower service for RFC 7009 token revocation.
///
/// Takes `token` and an optional `token_type_hint`, as a form or JSON. Revokes an access token
/// by its `jti`, or a refresh token together with its whole session. Answers 200 with an empty
/// body whenever the request is well-formed — also for an unknown, invalid or expired token,
/// as RFC 7009 §2.2 requires, so that the endpoint reveals nothing about tokens. A missing
/// `token` is 400 `invalid_request`; a revocation store that cannot be written is 503.
///
/// ```
/// use http::{Request, StatusCode};
/// use http_body_util::Full;
/// use tower::ServiceExt;
/// use tower_jwt_auth::{Issuer, KeySet, NoCustomClaims, RevocationService, Sessions, SigningKey};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
/// let pair = issuer.issue("alice", &NoCustomClaims {})?;
/// let service = RevocationService::new(Sessions::<NoCustomClaims>::new(issuer.clone()));
///
/// let request = Request::post("/auth/revoke")
///     .header("content-type", "application/json")
///     .body(Full::<bytes::Bytes>::from(format!(r#"{{"token":"{}"}}"#, pair.access_token())))?;
/// assert_eq!(service.oneshot(request).await?.status(), StatusCode::OK);
/// assert!(issuer.verifier().verify_access::<NoCustomClaims>(pair.access_token()).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RevocationService<T = NoCustomClaims> {
    sessions: Sessions<T>,
    limit: usize,
}

impl<T> Clone for RevocationService<T> {
    fn clone(&self) -> Self {
        Self {
            sessions: self.sessions.clone(),
            limit: self.limit,
        }
    }
}

impl<T> fmt::Debug for RevocationService<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevocationService")
            .field("sessions", &self.sessions)
            .field("body_limit", &self.limit)
            .finish()
    }
}

impl<T> RevocationService<T> {
    /// A revocation endpoint over `sessions`, with a 16 KiB body limit.
    pub fn new(sessions: Sessions<T>) -> Self {
        Self {
            sessions,
            limit: DEFAULT_BODY_LIMIT,
        }
    }

    /// Sets the request body limit in bytes.
    #[must_use]
    pub fn with_body_limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }
}

impl<T, B> Service<Request<B>> for RevocationService<T>
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
            let parsed: RevokeRequest = match body::parse(&parts.headers, body, limit).await {
                Ok(parsed) => parsed,
                Err(err) => return Ok(err.into_response()),
            };
            let Some(token) = parsed.token.filter(|t| !t.is_empty()) else {
                return Ok(ErrorResponse::invalid_request("missing token").into_response());
            };
            Ok(match sessions.revoke(&token).await {
                Ok(_) => {
                    let mut response = Response::new(Full::new(Bytes::new()));
                    *response.status_mut() = StatusCode::OK;
                    response.headers_mut().insert(
                        header::CACHE_CONTROL,
                        http::HeaderValue::from_static("no-store"),
                    );
                    response
                }
                Err(_) => ErrorResponse::unavailable().into_response(),
            })
        })
    }
}
