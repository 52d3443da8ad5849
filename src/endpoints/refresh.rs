//! The refresh-token exchange over HTTP (RFC 6749 §6).

use http::StatusCode;
use serde::Deserialize;

use super::{
    ErrorResponse,
    body::BodyKind,
    session_endpoint::{AppClaims, Call, Operation, Reply, session_service},
    token_response,
};
use crate::{issuer::IssueError, session::RefreshError, token::TokenError};

session_service!(
    /// A tower service for refresh requests.
    ///
    /// Accepts JSON `{"refresh_token": "…"}` or the RFC 6749 §6 form
    /// `grant_type=refresh_token&refresh_token=…` (a JSON body may carry `grant_type` too). On
    /// success it answers 200 with the next token pair and `Cache-Control: no-store`. A rejected
    /// refresh token is 400 `invalid_grant` (reuse also revokes the session); a malformed request
    /// is 400 `invalid_request` (415 for an unknown content type, 413 for a body over the limit);
    /// an unknown `grant_type` is 400 `unsupported_grant_type`; a revocation store that cannot be
    /// read or written is 503 `temporarily_unavailable`. Never a 500 for anything the client
    /// sends.
    ///
    /// ```
    /// use http::{Request, StatusCode};
    /// use http_body_util::Full;
    /// use tower::ServiceExt;
    /// use tower_jwt_auth::{Issuer, KeySet, Sessions, SigningKey, endpoints::RefreshService};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let pair = issuer.issue("alice").await?;
    /// let service = RefreshService::new(Sessions::new(issuer));
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
    RefreshService,
    Refresh
);

/// The operation of [`RefreshService`]: the refresh exchange.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Refresh;

/// The request body (unnameable outside the crate).
#[derive(Deserialize)]
#[allow(unreachable_pub)]
pub struct RefreshRequest {
    grant_type: Option<String>,
    refresh_token: Option<String>,
}

/// The refresh exchange's error as an OAuth response.
fn refresh_error(err: &RefreshError) -> ErrorResponse {
    match err {
        RefreshError::InvalidToken(TokenError::RevocationUnavailable)
        | RefreshError::Hook(_)
        | RefreshError::Revocation(_)
        | RefreshError::Issue(IssueError::Revocation(_)) => ErrorResponse::unavailable(),
        RefreshError::InvalidToken(_) => ErrorResponse::invalid_grant("refresh token is invalid"),
        RefreshError::Reused => {
            ErrorResponse::invalid_grant("refresh token was already used; session revoked")
        }
        RefreshError::Refused => ErrorResponse::invalid_grant("refresh refused"),
        RefreshError::UnknownSession => ErrorResponse::invalid_grant("unknown session"),
        RefreshError::Issue(_) => ErrorResponse::server_error(),
    }
}

impl Operation for Refresh {
    type Request = RefreshRequest;

    async fn handle<T: AppClaims>(call: Call<T, RefreshRequest>) -> Reply {
        let Call {
            sessions,
            request,
            kind,
        } = call;
        match (request.grant_type.as_deref(), kind) {
            (Some("refresh_token"), _) | (None, BodyKind::Json) => {}
            (None, BodyKind::Form) => {
                return ErrorResponse::invalid_request("missing grant_type").into_http_response();
            }
            (Some(_), _) => {
                return ErrorResponse::new(
                    StatusCode::BAD_REQUEST,
                    "unsupported_grant_type",
                    "only grant_type=refresh_token is supported here",
                )
                .into_http_response();
            }
        }
        let Some(token) = request.refresh_token.filter(|t| !t.is_empty()) else {
            return ErrorResponse::invalid_request("missing refresh_token").into_http_response();
        };
        match sessions.refresh(&token).await {
            Ok(pair) => token_response(StatusCode::OK, &pair),
            Err(err) => refresh_error(&err).into_http_response(),
        }
    }
}

impl std::fmt::Debug for RefreshRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshRequest")
            .field("grant_type", &self.grant_type)
            .field("refresh_token", &crate::redact::Redacted)
            .finish()
    }
}
