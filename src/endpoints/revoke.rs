//! Token revocation over HTTP (RFC 7009).

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;
use serde::Deserialize;

use super::{
    ErrorResponse,
    session_endpoint::{Call, Operation, Reply, SessionService},
};

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
/// use tower_jwt_auth::{Claims, Issuer, KeySet, Sessions, SigningKey, endpoints::RevocationService};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
/// let pair = tower_jwt_auth::Sessions::new(issuer.clone()).start("alice").await?;
/// let service = RevocationService::new(Sessions::new(issuer.clone()));
///
/// let request = Request::post("/auth/revoke")
///     .header("content-type", "application/json")
///     .body(Full::<bytes::Bytes>::from(format!(r#"{{"token":"{}"}}"#, pair.access_token())))?;
/// assert_eq!(service.oneshot(request).await?.status(), StatusCode::OK);
/// let revoked: Result<Claims, _> = issuer.verifier().verify_access(pair.access_token());
/// assert!(revoked.is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type RevocationService = SessionService<Revoke>;

/// The operation of [`RevocationService`]: RFC 7009 revocation.
#[derive(Debug, Clone, Copy)]
pub struct Revoke;

/// The request body (unnameable outside the crate).
#[derive(Deserialize, Default)]
#[allow(unreachable_pub)]
pub struct RevokeRequest {
    token: Option<String>,
    /// RFC 7009 §2.1: only a hint; both kinds are tried whatever it says.
    #[serde(rename = "token_type_hint")]
    _hint: Option<String>,
}

impl Operation for Revoke {
    type Request = RevokeRequest;

    async fn handle(
        Call {
            sessions, request, ..
        }: Call<RevokeRequest>,
    ) -> Reply {
        let Some(token) = request.token.filter(|t| !t.is_empty()) else {
            return ErrorResponse::invalid_request("missing token").into_http_response();
        };
        match sessions.revoke(&token).await {
            Ok(_) => {
                let mut response = Response::new(Full::new(Bytes::new()));
                *response.status_mut() = StatusCode::OK;
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                response
            }
            Err(_) => ErrorResponse::unavailable().into_http_response(),
        }
    }
}

impl std::fmt::Debug for RevokeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevokeRequest")
            .field("token", &crate::redact::Redacted)
            .field("token_type_hint", &self._hint)
            .finish()
    }
}
