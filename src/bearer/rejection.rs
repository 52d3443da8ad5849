//! Why a request was refused, and the RFC 6750 response that says so.

use std::{borrow::Cow, error::Error, fmt, sync::Arc};

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};

use crate::token::TokenError;

/// Why the bearer middleware refused a request. Each variant maps to one row of RFC 6750 §3.
///
/// ```
/// use http::StatusCode;
/// use tower_jwt_auth::{bearer::AuthError, token::TokenError};
///
/// let err = AuthError::InvalidToken(TokenError::Expired);
/// assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
/// assert_eq!(err.error_code(), Some("invalid_token"));
/// assert_eq!(
///     err.www_authenticate(Some("api")).unwrap(),
///     r#"Bearer realm="api", error="invalid_token", error_description="token expired""#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// No token was presented (or only credentials of another scheme): 401 with a bare
    /// challenge.
    MissingToken,
    /// The request is malformed: two tokens, two transports, a `Bearer` credential without a
    /// well-formed token (400 `invalid_request`).
    InvalidRequest(&'static str),
    /// The token is bad, expired, revoked or of the wrong type (401 `invalid_token`).
    InvalidToken(TokenError),
    /// The token lacks a required scope, or fails a
    /// [`require`](super::BearerAuthLayer::require) rule on its claims (403
    /// `insufficient_scope`); holds the space-separated scopes the resource requires (empty
    /// for a rule on the claims).
    InsufficientScope(Cow<'static, str>),
    /// The revocation state cannot be read, so no token can be trusted (503).
    Unavailable,
    /// The access token came from the cookie of a
    /// [`CookieTransport`](crate::transport::CookieTransport) on a request that changes state,
    /// without the session's CSRF value in the CSRF header, or with another one (403, JSON
    /// error `invalid_csrf_token`, no challenge: the token itself is fine).
    Csrf(&'static str),
    /// A [`check`](super::BearerAuthLayer::check) of the application refused the claims: its
    /// own error, with its status (403 unless it chose another), no challenge.
    Denied(Denied),
    /// The request's DPoP proof (RFC 9449 §7.1) is refused: missing, malformed, signed by
    /// another key than the token's, for another method or URI, too old, replayed… (401,
    /// `DPoP` challenge with `error="invalid_dpop_proof"`); holds why.
    InvalidDpopProof(&'static str),
    /// The request's DPoP proof has no server nonce, or a stale one (RFC 9449 §9): 401, `DPoP`
    /// challenge with `error="use_dpop_nonce"`; the layer adds a fresh nonce in `DPoP-Nonce`.
    UseDpopNonce,
    /// The token and the scheme it came with do not agree (401 `invalid_token`, `DPoP`
    /// challenge): a DPoP-bound token (with `cnf`) presented as a bearer token, which is what a
    /// stolen one looks like; a token without `cnf` presented with the `DPoP` scheme; or a
    /// bearer token where the layer requires DPoP. Holds why.
    DpopBinding(&'static str),
}

impl AuthError {
    /// The HTTP status of the response.
    ///
    /// ```
    /// use tower_jwt_auth::bearer::AuthError;
    ///
    /// assert_eq!(AuthError::InsufficientScope("admin".into()).status(), 403);
    /// ```
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingToken
            | Self::InvalidToken(_)
            | Self::InvalidDpopProof(_)
            | Self::UseDpopNonce
            | Self::DpopBinding(_) => StatusCode::UNAUTHORIZED,
            Self::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Self::InsufficientScope(_) | Self::Csrf(_) => StatusCode::FORBIDDEN,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Denied(denied) => denied.status(),
        }
    }

    /// The RFC 6750 `error` code, if the case has one.
    ///
    /// ```
    /// use tower_jwt_auth::bearer::AuthError;
    ///
    /// assert_eq!(AuthError::MissingToken.error_code(), None);
    /// assert_eq!(AuthError::InvalidRequest("two tokens").error_code(), Some("invalid_request"));
    /// ```
    pub fn error_code(&self) -> Option<&'static str> {
        match self {
            Self::MissingToken | Self::Unavailable | Self::Csrf(_) | Self::Denied(_) => None,
            Self::InvalidRequest(_) => Some("invalid_request"),
            Self::InvalidToken(_) | Self::DpopBinding(_) => Some("invalid_token"),
            Self::InsufficientScope(_) => Some("insufficient_scope"),
            Self::InvalidDpopProof(_) => Some("invalid_dpop_proof"),
            Self::UseDpopNonce => Some("use_dpop_nonce"),
        }
    }

    /// A short human-readable description; never contains the token.
    ///
    /// ```
    /// use tower_jwt_auth::{bearer::AuthError, token::TokenError};
    ///
    /// let err = AuthError::InvalidToken(TokenError::Revoked);
    /// assert_eq!(err.description(), Some("token revoked"));
    /// ```
    pub fn description(&self) -> Option<&'static str> {
        match self {
            Self::MissingToken => None,
            Self::InvalidRequest(why) => Some(why),
            Self::InvalidToken(err) => Some(err.description()),
            Self::InsufficientScope(_) => Some("the token lacks a required scope"),
            Self::Unavailable => Some("authentication is temporarily unavailable"),
            Self::Csrf(why) => Some(why),
            Self::Denied(_) => Some("access denied"),
            Self::InvalidDpopProof(why) | Self::DpopBinding(why) => Some(why),
            Self::UseDpopNonce => Some("a fresh DPoP nonce is required"),
        }
    }

    /// A stable, machine-readable code for why the request was refused, for logs and metrics
    /// labels: `missing_token`, `invalid_request`, `insufficient_scope`, `unavailable`,
    /// `invalid_csrf_token`, `access_denied` (an application's check), `invalid_dpop_proof`,
    /// `use_dpop_nonce`, `dpop_binding` (DPoP), or for
    /// a bad token the [`TokenError::reason`] (`expired`, `revoked`, `invalid_signature`, …).
    /// It never contains the token.
    ///
    /// The layer also puts the `AuthError` into the refused response's extensions, so that an
    /// outer `TraceLayer` or the application's own logging can report it:
    ///
    /// ```
    /// use tower_jwt_auth::{bearer::AuthError, token::TokenError};
    ///
    /// assert_eq!(AuthError::InvalidToken(TokenError::Expired).reason(), "expired");
    /// assert_eq!(AuthError::MissingToken.reason(), "missing_token");
    /// # let response = http::Response::new(());
    /// // In a logging middleware around the layer:
    /// if let Some(refused) = response.extensions().get::<AuthError>() {
    ///     println!("refused: {}", refused.reason());
    /// }
    /// ```
    pub fn reason(&self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidToken(err) => err.reason(),
            Self::InsufficientScope(_) => "insufficient_scope",
            Self::Unavailable => "unavailable",
            Self::Csrf(_) => "invalid_csrf_token",
            Self::Denied(_) => "access_denied",
            Self::InvalidDpopProof(_) => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
            Self::DpopBinding(_) => "dpop_binding",
        }
    }

    /// The `WWW-Authenticate` challenge (none for 503): scheme `Bearer`, or `DPoP` for the
    /// DPoP errors (RFC 9449 §7.1). A layer with DPoP adds the `algs` parameter, and answers
    /// a request made with the `DPoP` scheme with a `DPoP` challenge.
    ///
    /// ```
    /// use tower_jwt_auth::bearer::AuthError;
    ///
    /// let challenge = AuthError::MissingToken.www_authenticate(Some("api")).unwrap();
    /// assert_eq!(challenge, r#"Bearer realm="api""#);
    /// assert!(AuthError::Unavailable.www_authenticate(None).is_none());
    /// assert_eq!(
    ///     AuthError::UseDpopNonce.www_authenticate(None).unwrap(),
    ///     r#"DPoP error="use_dpop_nonce", error_description="a fresh DPoP nonce is required""#
    /// );
    /// ```
    pub fn www_authenticate(&self, realm: Option<&str>) -> Option<HeaderValue> {
        if matches!(self, Self::Unavailable | Self::Csrf(_) | Self::Denied(_)) {
            return None;
        }
        let dpop = matches!(
            self,
            Self::InvalidDpopProof(_) | Self::UseDpopNonce | Self::DpopBinding(_)
        );
        let mut value = String::from(if dpop { "DPoP" } else { "Bearer" });
        let mut sep = " ";
        let mut param = |name: &str, v: &str| {
            value.push_str(sep);
            value.push_str(name);
            value.push_str("=\"");
            // Quoted-string: our values never hold quotes or backslashes, but be safe.
            for c in v
                .chars()
                .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
            {
                value.push(c);
            }
            value.push('"');
            sep = ", ";
        };
        if let Some(realm) = realm {
            param("realm", realm);
        }
        if let Some(code) = self.error_code() {
            param("error", code);
        }
        if let Some(description) = self.description() {
            param("error_description", description);
        }
        if let Self::InsufficientScope(scope) = self
            && !scope.is_empty()
        {
            param("scope", scope);
        }
        HeaderValue::from_str(&value).ok()
    }

    /// The JSON body `{"error": …, "error_description": …}` (RFC 6749 §5.2 style); for
    /// [`Denied`](Self::Denied), `access_denied` and the application's error message.
    ///
    /// ```
    /// use tower_jwt_auth::bearer::AuthError;
    ///
    /// assert_eq!(
    ///     AuthError::MissingToken.json_body(),
    ///     r#"{"error":"unauthorized","error_description":"a bearer token is required"}"#
    /// );
    /// ```
    pub fn json_body(&self) -> String {
        let code = self.error_code().unwrap_or(match self {
            Self::Unavailable => "temporarily_unavailable",
            Self::Csrf(_) => "invalid_csrf_token",
            Self::Denied(_) => "access_denied",
            _ => "unauthorized",
        });
        let description = match self {
            Self::Denied(denied) => Cow::Owned(denied.error().to_string()),
            _ => Cow::Borrowed(self.description().unwrap_or("a bearer token is required")),
        };
        // One allocation: the default rejection builds this for every refused request.
        let scope = match self {
            Self::InsufficientScope(scope) if !scope.is_empty() => Some(&**scope),
            _ => None,
        };
        let mut body = String::with_capacity(
            48 + code.len() + description.len() + scope.map_or(0, |s| s.len() + 12),
        );
        body.push_str(r#"{"error":"#);
        push_json_string(&mut body, code);
        body.push_str(r#","error_description":"#);
        push_json_string(&mut body, &description);
        if let Some(scope) = scope {
            body.push_str(r#","scope":"#);
            push_json_string(&mut body, scope);
        }
        body.push('}');
        body
    }

    /// A response with this error's status and challenge, and `body`; a 503 says
    /// `Retry-After: 1`.
    ///
    /// ```
    /// use tower_jwt_auth::bearer::AuthError;
    ///
    /// let response = AuthError::MissingToken.to_response(Some("api"), "sign in first");
    /// assert_eq!(response.status(), 401);
    /// assert_eq!(response.headers()["www-authenticate"], r#"Bearer realm="api""#);
    /// assert_eq!(response.headers()["cache-control"], "no-store");
    /// let response = AuthError::Unavailable.to_response(None, "");
    /// assert_eq!(response.headers()["retry-after"], "1");
    /// ```
    pub fn to_response<B>(&self, realm: Option<&str>, body: B) -> Response<B> {
        let mut response = Response::new(body);
        *response.status_mut() = self.status();
        if let Some(challenge) = self.www_authenticate(realm) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
        }
        if matches!(self, Self::Unavailable) {
            // The revocation state is back within about a second of the backend.
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// Appends `value` as a JSON string (RFC 8259 §7).
fn push_json_string(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c < ' ' => {
                use fmt::Write as _;
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingToken => f.write_str("no bearer token"),
            Self::InvalidRequest(why) => write!(f, "invalid request: {why}"),
            Self::InvalidToken(err) => write!(f, "invalid token: {err}"),
            Self::InsufficientScope(scope) => write!(f, "insufficient scope: requires {scope}"),
            Self::Unavailable => f.write_str("revocation state unavailable"),
            Self::Csrf(why) => write!(f, "CSRF check failed: {why}"),
            Self::Denied(denied) => write!(f, "denied: {}", denied.error()),
            Self::InvalidDpopProof(why) => write!(f, "invalid DPoP proof: {why}"),
            Self::UseDpopNonce => f.write_str("a fresh DPoP nonce is required"),
            Self::DpopBinding(why) => write!(f, "invalid token: {why}"),
        }
    }
}

impl Error for AuthError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::InvalidToken(err) => Some(err),
            Self::Denied(denied) => Some(denied.error()),
            _ => None,
        }
    }
}

/// The application's refusal from a [`check`](super::BearerAuthLayer::check): its own error
/// and the status of the response (403 unless set otherwise). The rejection handler
/// ([`OnRejection`]) gets it as [`AuthError::Denied`] and can render the application's error
/// from [`downcast_ref`](Self::downcast_ref); [`DefaultRejection`] sends the status with
/// `{"error":"access_denied","error_description":` the error's message `}`,
/// [`EmptyBodyRejection`] the status alone. Any `std::error::Error + Send + Sync` converts into it (with `?` or
/// `Into`).
///
/// ```
/// use http::StatusCode;
/// use tower_jwt_auth::bearer::Denied;
///
/// #[derive(Debug, thiserror::Error)]
/// #[error("no such tenant")]
/// struct UnknownTenant;
///
/// let denied = Denied::new(UnknownTenant).with_status(StatusCode::NOT_FOUND);
/// assert_eq!(denied.status(), 404);
/// assert!(denied.downcast_ref::<UnknownTenant>().is_some());
/// assert_eq!(Denied::from(UnknownTenant).status(), 403);
/// ```
#[derive(Debug, Clone)]
pub struct Denied {
    status: StatusCode,
    error: Arc<dyn Error + Send + Sync + 'static>,
}

impl Denied {
    /// A 403 refusal with the application's `error`.
    ///
    /// ```
    /// use tower_jwt_auth::bearer::Denied;
    ///
    /// let denied = Denied::new(std::fmt::Error);
    /// assert_eq!(denied.status(), 403);
    /// ```
    pub fn new(error: impl Error + Send + Sync + 'static) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            error: Arc::new(error),
        }
    }

    /// The response's status instead of 403 (say 404, so as not to reveal that a resource
    /// exists). A status that is not an error (below 400) is ignored: a refusal is never a
    /// success.
    ///
    /// ```
    /// use http::StatusCode;
    /// use tower_jwt_auth::bearer::Denied;
    ///
    /// assert_eq!(Denied::new(std::fmt::Error).with_status(StatusCode::NOT_FOUND).status(), 404);
    /// assert_eq!(Denied::new(std::fmt::Error).with_status(StatusCode::OK).status(), 403);
    /// ```
    #[must_use]
    pub fn with_status(mut self, status: StatusCode) -> Self {
        if status.is_client_error() || status.is_server_error() {
            self.status = status;
        }
        self
    }

    /// The status of the response.
    ///
    /// ```
    /// # use tower_jwt_auth::bearer::Denied;
    /// assert_eq!(Denied::new(std::fmt::Error).status(), 403);
    /// ```
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The application's error.
    ///
    /// ```
    /// # use tower_jwt_auth::bearer::Denied;
    /// assert_eq!(Denied::new(std::fmt::Error).error().to_string(), std::fmt::Error.to_string());
    /// ```
    pub fn error(&self) -> &(dyn Error + Send + Sync + 'static) {
        &*self.error
    }

    /// The application's error as its own type `E`, if it is one.
    ///
    /// ```
    /// # use tower_jwt_auth::bearer::Denied;
    /// let denied = Denied::new(std::fmt::Error);
    /// assert!(denied.downcast_ref::<std::fmt::Error>().is_some());
    /// assert!(denied.downcast_ref::<std::io::Error>().is_none());
    /// ```
    pub fn downcast_ref<E: Error + 'static>(&self) -> Option<&E> {
        self.error.downcast_ref::<E>()
    }
}

impl<E: Error + Send + Sync + 'static> From<E> for Denied {
    fn from(error: E) -> Self {
        Self::new(error)
    }
}

/// The same refusal: the same status and the very same error value.
impl PartialEq for Denied {
    fn eq(&self, other: &Self) -> bool {
        self.status == other.status && Arc::ptr_eq(&self.error, &other.error)
    }
}

impl Eq for Denied {}

/// Turns an [`AuthError`] into the response the client gets: the hook that customises
/// rejections.
///
/// [`DefaultRejection`] sends the RFC 6750 status and `WWW-Authenticate` with a small JSON
/// body; [`EmptyBodyRejection`] sends no body. Any `Fn(&AuthError, Option<&str>) -> Response<Bytes>`
/// (error, realm) is a handler too. The body is bytes whatever the inner service's body is:
/// the middleware answers with its own [`ResponseBody`](super::ResponseBody).
///
/// ```
/// use bytes::Bytes;
/// use http::Response;
/// use tower_jwt_auth::{BearerAuthLayer, Issuer, KeySet, SigningKey, bearer::AuthError};
///
/// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
/// let layer = BearerAuthLayer::new(&issuer).on_rejection(
///     |err: &AuthError, realm: Option<&str>| -> Response<Bytes> {
///         err.to_response(realm, Bytes::from(format!("denied: {err}")))
///     },
/// );
/// # let _ = layer;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait OnRejection: Clone + Send + Sync + 'static {
    /// The response for `error`, with the configured `realm`.
    fn on_rejection(&self, error: &AuthError, realm: Option<&str>) -> Response<Bytes>;
}

/// The default: status and `WWW-Authenticate` per RFC 6750, plus a small JSON body
/// `{"error": …, "error_description": …}` ([`AuthError::json_body`]) with
/// `Content-Type: application/json`, so that `curl -s` shows why a request was refused.
///
/// ```
/// use tower_jwt_auth::{bearer::{AuthError, DefaultRejection, OnRejection}, token::TokenError};
///
/// let response = DefaultRejection.on_rejection(&AuthError::InvalidToken(TokenError::Expired), None);
/// assert_eq!(response.status(), 401);
/// assert_eq!(response.headers()["content-type"], "application/json");
/// assert_eq!(
///     response.body().as_ref(),
///     br#"{"error":"invalid_token","error_description":"token expired"}"#
/// );
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultRejection;

impl OnRejection for DefaultRejection {
    fn on_rejection(&self, error: &AuthError, realm: Option<&str>) -> Response<Bytes> {
        let mut response = error.to_response(realm, Bytes::from(error.json_body()));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}

/// Status and `WWW-Authenticate` per RFC 6750 with an empty body, for clients that read
/// only the status and the challenge.
///
/// ```
/// use tower_jwt_auth::{BearerAuthLayer, Issuer, KeySet, SigningKey, bearer::EmptyBodyRejection};
///
/// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
/// let layer = BearerAuthLayer::new(&issuer).on_rejection(EmptyBodyRejection);
/// # let _ = layer;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct EmptyBodyRejection;

impl OnRejection for EmptyBodyRejection {
    fn on_rejection(&self, error: &AuthError, realm: Option<&str>) -> Response<Bytes> {
        error.to_response(realm, Bytes::new())
    }
}

impl<F> OnRejection for F
where
    F: Fn(&AuthError, Option<&str>) -> Response<Bytes> + Clone + Send + Sync + 'static,
{
    fn on_rejection(&self, error: &AuthError, realm: Option<&str>) -> Response<Bytes> {
        self(error, realm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_follow_rfc6750() {
        let h = |e: AuthError, realm| {
            e.www_authenticate(realm)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        assert_eq!(h(AuthError::MissingToken, None).unwrap(), "Bearer");
        assert_eq!(
            h(AuthError::MissingToken, Some("example")).unwrap(),
            r#"Bearer realm="example""#
        );
        assert_eq!(
            h(AuthError::InvalidRequest("two tokens"), None).unwrap(),
            r#"Bearer error="invalid_request", error_description="two tokens""#
        );
        assert_eq!(
            h(AuthError::InsufficientScope("admin".into()), Some("r")).unwrap(),
            r#"Bearer realm="r", error="insufficient_scope", error_description="the token lacks a required scope", scope="admin""#
        );
        assert_eq!(h(AuthError::Unavailable, Some("r")), None);
        assert_eq!(
            h(AuthError::MissingToken, Some("a\"b\\c")).unwrap(),
            r#"Bearer realm="abc""#
        );
    }

    #[test]
    fn json_bodies_are_json() {
        for err in [
            AuthError::MissingToken,
            AuthError::InvalidRequest("a \"quoted\" \\ why\n"),
            AuthError::InvalidToken(TokenError::Expired),
            AuthError::InsufficientScope("read write".into()),
            AuthError::Unavailable,
        ] {
            let body: serde_json::Value = serde_json::from_str(&err.json_body()).unwrap();
            assert_eq!(
                body["error_description"],
                err.description().unwrap_or("a bearer token is required")
            );
            let scope = matches!(err, AuthError::InsufficientScope(_));
            assert_eq!(body.get("scope").is_some(), scope, "{body}");
        }
        assert_eq!(
            AuthError::InsufficientScope("read write".into()).json_body(),
            r#"{"error":"insufficient_scope","error_description":"the token lacks a required scope","scope":"read write"}"#
        );
    }

    #[test]
    fn statuses_follow_the_table() {
        assert_eq!(AuthError::MissingToken.status(), 401);
        assert_eq!(AuthError::InvalidRequest("x").status(), 400);
        assert_eq!(AuthError::InvalidToken(TokenError::Revoked).status(), 401);
        assert_eq!(AuthError::InsufficientScope("a".into()).status(), 403);
        assert_eq!(AuthError::Unavailable.status(), 503);
        let csrf = AuthError::Csrf("missing");
        assert_eq!(csrf.status(), 403);
        assert_eq!(csrf.www_authenticate(Some("r")), None);
        assert_eq!(
            csrf.json_body(),
            r#"{"error":"invalid_csrf_token","error_description":"missing"}"#
        );
    }
}
