//! The token endpoints' JSON answers (RFC 6749 §5): the token response and OAuth errors,
//! never cached.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;
use serde::Serialize;

use crate::{
    dpop::{DPOP_NONCE, DpopError},
    issuer::{IssueError, TokenPair},
    keys::KeyError,
    session::{RefreshError, StartError},
    store::RevocationError,
    token::TokenError,
};

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
///
/// Every error a handler meets converts into one, so that `?` works in a handler that returns
/// `Result<_, ErrorResponse>`:
///
/// | error | response |
/// | --- | --- |
/// | [`RefreshError`] the client caused (bad, expired, reused, refused token; a DPoP-bound token without a proof of its key) | 400 `invalid_grant` |
/// | [`DpopError`], [`StartError::DpopRequired`], [`RefreshError::DpopRequired`] | 400 `invalid_dpop_proof` or `use_dpop_nonce` (RFC 9449 §5, §8) |
/// | [`RefreshError`] the server caused, [`RevocationError`], [`StartError::Store`] | 503 `temporarily_unavailable`, `Retry-After: 1` |
/// | [`IssueError`], [`KeyError`], [`StartError::Issue`], a refresh's claims that do not fit | 500 `server_error` |
///
/// The description never carries the cause: a server fault is logged (`tracing`, level
/// error), never sent.
///
/// ```
/// use tower_jwt_auth::{endpoints::ErrorResponse, session::RefreshError};
///
/// let refused = ErrorResponse::from(RefreshError::Reused);
/// assert_eq!((refused.status().as_u16(), refused.error()), (400, "invalid_grant"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorResponse {
    status: StatusCode,
    error: &'static str,
    description: &'static str,
    /// A server nonce for the `DPoP-Nonce` header (RFC 9449 §8).
    dpop_nonce: Option<String>,
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
            dpop_nonce: None,
        }
    }

    /// Sends `nonce` in a `DPoP-Nonce` header (RFC 9449 §8): the server nonce a
    /// `use_dpop_nonce` answer tells the client to put in its next proof.
    /// [`verify_dpop`](crate::endpoints::verify_dpop) sets it when needed.
    ///
    /// ```
    /// use tower_jwt_auth::{dpop::DpopError, endpoints::ErrorResponse};
    ///
    /// let retry = ErrorResponse::from(DpopError::NonceRequired).with_dpop_nonce("n-1".into());
    /// assert_eq!(retry.dpop_nonce(), Some("n-1"));
    /// assert_eq!(retry.into_http_response().headers()["dpop-nonce"], "n-1");
    /// ```
    #[must_use]
    pub fn with_dpop_nonce(mut self, nonce: String) -> Self {
        self.dpop_nonce = Some(nonce);
        self
    }

    /// The server nonce of the `DPoP-Nonce` header, if any.
    ///
    /// ```
    /// use tower_jwt_auth::endpoints::ErrorResponse;
    ///
    /// assert_eq!(ErrorResponse::invalid_request("missing token").dpop_nonce(), None);
    /// ```
    pub fn dpop_nonce(&self) -> Option<&str> {
        self.dpop_nonce.as_deref()
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
    /// `Retry-After: 1`; a [DPoP nonce](Self::with_dpop_nonce) goes in `DPoP-Nonce`.
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
        if let Some(nonce) = self
            .dpop_nonce
            .as_deref()
            .and_then(|n| HeaderValue::from_str(n).ok())
        {
            response.headers_mut().insert(DPOP_NONCE, nonce);
        }
        response.extensions_mut().insert(self);
        response
    }
}

/// 400 `invalid_dpop_proof` when a DPoP proof is required and missing: RFC 9449 §5 answers a
/// token request whose proof is not valid with it, and a missing proof is not a valid one
/// (the proof verifier answers a missing `DPoP` header alike), which tells the client what to
/// send, where `invalid_request` would not.
fn dpop_required() -> ErrorResponse {
    ErrorResponse::new(
        StatusCode::BAD_REQUEST,
        "invalid_dpop_proof",
        "a DPoP proof is required",
    )
}

/// The refresh exchange's error as an OAuth response (RFC 6749 §5.2): the client's bad grant is
/// 400 `invalid_grant`, a state that cannot be read 503, a server fault 500.
pub(crate) fn refresh_error(err: &RefreshError) -> ErrorResponse {
    match err {
        RefreshError::InvalidToken(TokenError::RevocationUnavailable)
        | RefreshError::Hook(_)
        | RefreshError::Revocation(_) => ErrorResponse::unavailable(),
        RefreshError::InvalidToken(_) => ErrorResponse::invalid_grant("refresh token is invalid"),
        RefreshError::Reused => {
            ErrorResponse::invalid_grant("refresh token was already used; session revoked")
        }
        RefreshError::Refused => ErrorResponse::invalid_grant("refresh refused"),
        RefreshError::UnknownSession => ErrorResponse::invalid_grant("unknown session"),
        RefreshError::Issue(_) | RefreshError::ClaimsType(_) => ErrorResponse::server_error(),
        RefreshError::DpopRequired => dpop_required(),
        RefreshError::DpopKeyMismatch => {
            ErrorResponse::invalid_grant("the refresh token is DPoP-bound: send a proof of its key")
        }
    }
}

/// Logs a server fault that the response does not explain.
fn server_fault(err: &(dyn std::error::Error + 'static), what: &'static str) -> ErrorResponse {
    tracing::error!(error = err, "{what}");
    ErrorResponse::server_error()
}

/// 400 `invalid_grant` when the client presented a bad, expired, reused or refused refresh
/// token; 503 `temporarily_unavailable` when the revocation state or the refresh hook failed
/// (the token was not used up: the client may retry); 500 `server_error` when the next pair
/// could not be minted. The session layer has already logged the failure.
///
/// ```
/// use tower_jwt_auth::{endpoints::ErrorResponse, session::RefreshError, token::TokenError};
///
/// let expired = ErrorResponse::from(RefreshError::InvalidToken(TokenError::Expired));
/// assert_eq!(expired.status(), 400);
/// assert_eq!(expired.error(), "invalid_grant");
/// ```
impl From<RefreshError> for ErrorResponse {
    fn from(err: RefreshError) -> Self {
        refresh_error(&err)
    }
}

/// 503 `temporarily_unavailable` when the session record could not be written (the client may
/// retry the login), 500 `server_error` when the first pair could not be minted; the cause is
/// logged, never sent.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// use tower_jwt_auth::{Issuer, KeySet, Sessions, SigningKey, endpoints::ErrorResponse};
///
/// let sessions = Sessions::new(Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?);
/// let err = sessions.start("").await.unwrap_err();
/// assert_eq!(ErrorResponse::from(err).error(), "server_error");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl From<StartError> for ErrorResponse {
    fn from(err: StartError) -> Self {
        match err {
            StartError::Store(err) => Self::from(err),
            StartError::DpopRequired => dpop_required(),
            _ => server_fault(&err, "no session could be started"),
        }
    }
}

/// A refused DPoP proof (RFC 9449 §5, §7.1): 400 with [`DpopError::error_code`],
/// `invalid_dpop_proof` or `use_dpop_nonce`, and a short description that never carries the
/// proof; 503 `temporarily_unavailable` when the replay cache could not answer. A
/// `use_dpop_nonce` answer needs the next nonce in its `DPoP-Nonce` header, which the error
/// does not carry: [`verify_dpop`](crate::endpoints::verify_dpop) adds it, or
/// [`with_dpop_nonce`](ErrorResponse::with_dpop_nonce).
///
/// ```
/// use tower_jwt_auth::{dpop::DpopError, endpoints::ErrorResponse};
///
/// let replay = ErrorResponse::from(DpopError::Replay);
/// assert_eq!((replay.status().as_u16(), replay.error()), (400, "invalid_dpop_proof"));
/// assert_eq!(ErrorResponse::from(DpopError::NonceRequired).error(), "use_dpop_nonce");
/// ```
impl From<DpopError> for ErrorResponse {
    fn from(err: DpopError) -> Self {
        let description = match &err {
            DpopError::ReplayCache(_) => return Self::unavailable(),
            DpopError::NonceRequired => "the DPoP proof needs the server nonce of DPoP-Nonce",
            DpopError::Replay => "the DPoP proof was already used",
            DpopError::MissingProof => "the request has no DPoP proof",
            DpopError::MultipleProofs => "the request has more than one DPoP header",
            DpopError::MethodMismatch => "the DPoP proof's htm is not the request method",
            DpopError::UriMismatch => "the DPoP proof's htu is not the request URI",
            DpopError::Expired | DpopError::IssuedInFuture => {
                "the DPoP proof's iat is outside the accepted window"
            }
            DpopError::InvalidSignature => "the DPoP proof's signature is invalid",
            _ => "the DPoP proof is invalid",
        };
        Self::new(StatusCode::BAD_REQUEST, err.error_code(), description)
    }
}

/// 500 `server_error`: the application passed something the issuer refuses, or the key set
/// cannot sign; the cause is logged, never sent.
///
/// ```
/// use tower_jwt_auth::{endpoints::ErrorResponse, issuer::IssueError};
///
/// let response = ErrorResponse::from(IssueError::NoSigningKey).into_http_response();
/// assert_eq!(response.status(), 500);
/// ```
impl From<IssueError> for ErrorResponse {
    fn from(err: IssueError) -> Self {
        server_fault(&err, "no token could be issued")
    }
}

/// 503 `temporarily_unavailable` with `Retry-After: 1`: the revocation state could not be read
/// or written, so the operation failed closed; the store has logged the cause.
///
/// ```
/// use tower_jwt_auth::{endpoints::ErrorResponse, store::RevocationError};
///
/// let down = RevocationError::Backend("connection refused".into());
/// assert_eq!(ErrorResponse::from(down).status(), 503);
/// ```
impl From<RevocationError> for ErrorResponse {
    fn from(_: RevocationError) -> Self {
        Self::unavailable()
    }
}

/// 500 `server_error`: a key could not be loaded or the key set changed wrongly, a fault of the
/// server's configuration; the cause is logged, never sent.
///
/// ```
/// use tower_jwt_auth::{endpoints::ErrorResponse, keys::KeyError};
///
/// assert_eq!(ErrorResponse::from(KeyError::Rng).error(), "server_error");
/// ```
impl From<KeyError> for ErrorResponse {
    fn from(err: KeyError) -> Self {
        server_fault(&err, "a key operation failed")
    }
}
