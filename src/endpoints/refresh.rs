//! The refresh-token exchange over HTTP (RFC 6749 §6).

use http::StatusCode;
use serde::Deserialize;

use super::{
    ErrorResponse,
    body::BodyKind,
    dpop::{renew_nonce, verify_dpop},
    session_endpoint::{Call, Operation, Reply, SessionService},
    token_response,
};
use crate::{
    dpop::{DpopProof, ProofVerifier},
    session::{RefreshError, Sessions},
    telemetry,
    token::{Claims, NoCustomClaims, TokenKind},
    transport::{CookieTransport, csrf, response::refresh_error},
};

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
/// let sessions = Sessions::new(issuer);
/// let pair = sessions.start("alice").await?;
/// let service = RefreshService::new(sessions);
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
pub type RefreshService = SessionService<Refresh>;

impl RefreshService {
    /// Also accepts the refresh token from the refresh cookie of `transport`, for browser
    /// apps. A request whose body has no refresh token is then answered from the cookie: it
    /// needs the session's CSRF value in the transport's CSRF header (403
    /// `invalid_csrf_token` otherwise, the session untouched), may have no body at all, and
    /// is answered with [`CookieTransport::token_response`] (new cookies, no refresh token in
    /// the body). A refresh token refused there (invalid, expired, reused) also deletes the
    /// cookies. A request with a refresh token in both the body and the cookie is 400
    /// `invalid_request`; one with a token in the body alone is answered as without the
    /// transport.
    ///
    /// ```
    /// use http::{Request, StatusCode};
    /// use http_body_util::Full;
    /// use tower::ServiceExt;
    /// use tower_jwt_auth::{Issuer, KeySet, Sessions, SigningKey, endpoints::RefreshService, transport::CookieTransport};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let transport = CookieTransport::mounted_at("/auth").build()?;
    /// let sessions = Sessions::new(issuer);
    /// let service = RefreshService::new(sessions.clone()).with_cookie_transport(&transport);
    ///
    /// let pair = sessions.start("alice").await?;
    /// let request = Request::post("/auth/refresh")
    ///     .header("cookie", format!("__Secure-refresh_token={}", pair.refresh_token()))
    ///     .header("x-csrf-token", pair.csrf_token())
    ///     .body(Full::<bytes::Bytes>::default())?;
    /// let response = service.oneshot(request).await?;
    /// assert_eq!(response.status(), StatusCode::OK);
    /// assert_eq!(response.headers().get_all("set-cookie").iter().count(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_cookie_transport(self, transport: &CookieTransport) -> Self {
        self.with_transport(transport.clone())
    }

    /// Checks the request's DPoP proof (RFC 9449 §5) with `verifier`, before the refresh
    /// token is looked at: `htm` `POST`, `htu` the request's URI under the verifier's origin
    /// (under an axum `nest`, the URI before the prefix was stripped), no `ath`, each proof
    /// accepted once. A refused proof is 400 `invalid_dpop_proof` (two `DPoP` headers
    /// included), or `use_dpop_nonce` with the next nonce in a `DPoP-Nonce` header; the
    /// session is untouched. The exchange then goes through
    /// [`Sessions::refresh_with_proof`]: a DPoP-bound session refreshes only with a proof of
    /// its key (400 `invalid_grant` otherwise, the session kept), a request without a `DPoP`
    /// header refreshes a bearer session. When the proof's nonce should roll, the answer
    /// carries the next one in `DPoP-Nonce`.
    ///
    /// ```
    /// use http::{Request, StatusCode};
    /// use http_body_util::Full;
    /// use tower::ServiceExt;
    /// use tower_jwt_auth::{Issuer, KeySet, Sessions, SigningKey, dpop::ProofVerifier, endpoints::RefreshService};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let sessions = Sessions::new(issuer);
    /// let verifier = ProofVerifier::builder("https://auth.example.com").build()?;
    /// let service = RefreshService::new(sessions.clone()).with_dpop(verifier);
    ///
    /// let pair = sessions.start("alice").await?;
    /// let request = Request::post("/auth/refresh")
    ///     .header("content-type", "application/json")
    ///     .header("dpop", "not-a-proof")
    ///     .body(Full::<bytes::Bytes>::from(format!(r#"{{"refresh_token":"{}"}}"#, pair.refresh_token())))?;
    /// let response = service.oneshot(request).await?;
    /// assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_dpop(self, verifier: ProofVerifier) -> Self {
        self.with_proof_verifier(verifier)
    }
}

/// The operation of [`RefreshService`]: the refresh exchange.
#[derive(Debug, Clone, Copy)]
pub struct Refresh;

/// The request body (unnameable outside the crate).
#[derive(Deserialize, Default)]
#[allow(unreachable_pub)]
pub struct RefreshRequest {
    grant_type: Option<String>,
    refresh_token: Option<String>,
}

impl Operation for Refresh {
    type Request = RefreshRequest;

    async fn handle(call: Call<RefreshRequest>) -> Reply {
        let Call {
            sessions,
            request,
            kind,
            method,
            uri,
            headers,
            transport,
            dpop,
        } = call;
        match (request.grant_type.as_deref(), kind) {
            (Some("refresh_token"), _) | (None, BodyKind::Json | BodyKind::Empty) => {}
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
        // The proof first: a request refused for it never reaches the session.
        let proof = match &dpop {
            Some(verifier) => match verify_dpop(verifier, &method, &uri, &headers).await {
                Ok(proof) => proof,
                Err(refused) => return refused.into_http_response(),
            },
            None => None,
        };
        let mut response = exchange(
            &sessions,
            request,
            &headers,
            transport.as_ref(),
            proof.as_ref(),
        )
        .await;
        if let (Some(verifier), Some(proof)) = (&dpop, &proof) {
            renew_nonce(verifier, proof, response.headers_mut());
        }
        response
    }
}

/// The exchange of the refresh token of the body or of the refresh cookie.
async fn exchange(
    sessions: &Sessions,
    request: RefreshRequest,
    headers: &http::HeaderMap,
    transport: Option<&CookieTransport>,
    proof: Option<&DpopProof>,
) -> Reply {
    let body_token = request.refresh_token.filter(|t| !t.is_empty());
    if let Some(transport) = transport {
        match transport.refresh_cookie(headers) {
            Err(why) => return ErrorResponse::invalid_request(why).into_http_response(),
            Ok(Some(_)) if body_token.is_some() => {
                return ErrorResponse::invalid_request(
                    "refresh token in both the body and a cookie",
                )
                .into_http_response();
            }
            Ok(Some(cookie)) => {
                return from_cookie(sessions, transport, headers, cookie, proof).await;
            }
            Ok(None) => {}
        }
    }
    let Some(token) = body_token else {
        return ErrorResponse::invalid_request("missing refresh_token").into_http_response();
    };
    match sessions.refresh_with_proof(&token, proof).await {
        Ok(pair) => token_response(StatusCode::OK, &pair),
        Err(err) => refresh_error(&err).into_http_response(),
    }
}

/// The refresh with the token of the refresh cookie: CSRF check on the token's claim, then the
/// exchange, answered with cookies.
async fn from_cookie(
    sessions: &Sessions,
    transport: &CookieTransport,
    headers: &http::HeaderMap,
    token: &str,
    proof: Option<&DpopProof>,
) -> Reply {
    let refused = |err: &RefreshError| {
        let error = refresh_error(err);
        let mut response = error.clone().into_http_response();
        // A refresh token that can never work again: the browser forgets the cookies. A
        // server that could not answer (503) leaves them for a retry.
        if error.error() == "invalid_grant" {
            transport.clear_cookies(response.headers_mut());
        }
        response
    };
    // The CSRF value is the refresh token's claim: read it before the exchange, so that a
    // forged request never reaches the session.
    let claims: Claims<NoCustomClaims> = match sessions
        .issuer()
        .verifier()
        .verify(token, TokenKind::Refresh)
    {
        Ok(claims) => claims,
        Err(err) => {
            let err = RefreshError::InvalidToken(err);
            telemetry::refreshed(Err(err.failure()), None, None);
            return refused(&err);
        }
    };
    if let Err(failure) = csrf::check(headers, transport.csrf_header(), claims.csrf_token()) {
        telemetry::refresh_csrf_refused(&claims.sub, &claims.sid);
        return ErrorResponse::new(
            StatusCode::FORBIDDEN,
            "invalid_csrf_token",
            failure.description(),
        )
        .into_http_response();
    }
    match sessions.refresh_with_proof(token, proof).await {
        Ok(pair) => transport.token_response(StatusCode::OK, &pair),
        Err(err) => refused(&err),
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
