//! [`IntrospectionService`]: RFC 7662 token introspection, for services that cannot follow
//! the issuer's revocation store.

use std::{
    convert::Infallible,
    fmt,
    sync::Arc,
    task::{Context, Poll},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body::Body;
use http_body_util::Full;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use tower_service::Service;

use super::{DEFAULT_BODY_LIMIT, ErrorResponse, body};
use crate::{
    config::ConfigError,
    crypto::digest,
    store::{BoxError, BoxFuture},
    token::{Claims, Confirmation, NoCustomClaims, TokenKind, Verifier},
    transport::response::json_response,
};

/// The shortest client secret accepted: 16 bytes.
const MIN_SECRET_LEN: usize = 16;

/// RFC 7662 token introspection: a resource server that cannot follow the issuer's
/// revocation store asks the issuer whether an access token is active.
///
/// `POST` with `token` (and an optional `token_type_hint`, ignored) as a form or JSON, the
/// caller authenticated with HTTP Basic as one of the configured clients
/// ([`with_client`](Self::with_client)); its secret is compared in constant time. The
/// answer is `{"active":true,"token_type":"Bearer","sub",…}` for an access token that
/// verifies now — signature, times, issuer, audience and revocation, by `verifier` — and
/// `{"active":false}` for anything else: revoked, expired, unknown, malformed, or a refresh
/// token (refresh tokens are for the token endpoint only). A DPoP-bound token's answer says
/// `"token_type":"DPoP"` and names its key in `cnf.jkt` (RFC 9449 §6.2), so that a resource
/// server that introspects refuses it without a proof of that key. Every answer has
/// `Cache-Control: no-store`. A request without valid client credentials is 401
/// `invalid_client` with `WWW-Authenticate: Basic`; a revocation state that cannot be read
/// is 503 (fail closed: never `active` on a stale deny-list).
///
/// ```
/// use http::{Request, StatusCode};
/// use http_body_util::{BodyExt, Full};
/// use tower::ServiceExt;
/// use tower_jwt_auth::{Issuer, KeySet, Sessions, SigningKey, endpoints::IntrospectionService};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
/// let pair = Sessions::new(issuer.clone()).start("alice").await?;
/// let service = IntrospectionService::new(issuer.verifier())
///     .with_client("orders-api", "a secret of the orders API")?;
///
/// let request = Request::post("/introspect")
///     // base64("orders-api:a secret of the orders API")
///     .header("authorization", "Basic b3JkZXJzLWFwaTphIHNlY3JldCBvZiB0aGUgb3JkZXJzIEFQSQ==")
///     .header("content-type", "application/x-www-form-urlencoded")
///     .body(Full::<bytes::Bytes>::from(format!("token={}", pair.access_token())))?;
/// let response = service.oneshot(request).await?;
/// assert_eq!(response.status(), StatusCode::OK);
/// let body: serde_json::Value = serde_json::from_slice(&response.into_body().collect().await?.to_bytes())?;
/// assert_eq!(body["active"], true);
/// assert_eq!(body["sub"], "alice");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct IntrospectionService {
    verifier: Verifier,
    clients: Arc<[IntrospectionClient]>,
    limit: usize,
}

/// A client allowed to introspect: its id, and the SHA-256 digest of its secret (the secret
/// itself is not kept).
struct IntrospectionClient {
    id: Box<str>,
    secret_digest: [u8; 32],
}

impl fmt::Debug for IntrospectionService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntrospectionService")
            .field(
                "clients",
                &self.clients.iter().map(|c| &*c.id).collect::<Vec<_>>(),
            )
            .field("body_limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl IntrospectionService {
    /// Introspects with `verifier` (the issuer's, so that its revocation store is read);
    /// without a client, every request is refused 401.
    ///
    /// ```
    /// use tower_jwt_auth::{Issuer, KeySet, SigningKey, endpoints::IntrospectionService};
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let service = IntrospectionService::new(issuer.verifier());
    /// # let _ = service;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(verifier: impl Into<Verifier>) -> Self {
        Self {
            verifier: verifier.into(),
            clients: Arc::new([]),
            limit: DEFAULT_BODY_LIMIT,
        }
    }

    /// Allows the client `id` with `secret` (HTTP Basic, RFC 6749 §2.3.1). Fails with
    /// [`ConfigError::Name`] for an empty id, an id with `:` or one already allowed, and
    /// with [`ConfigError::Limit`] for a secret shorter than 16 bytes.
    ///
    /// ```
    /// use tower_jwt_auth::{ConfigError, Issuer, KeySet, SigningKey, endpoints::IntrospectionService};
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let weak = IntrospectionService::new(issuer.verifier()).with_client("api", "short");
    /// assert!(matches!(weak, Err(ConfigError::Limit(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_client(mut self, id: &str, secret: &str) -> Result<Self, ConfigError> {
        if id.is_empty() || id.contains(':') || self.clients.iter().any(|c| &*c.id == id) {
            return Err(ConfigError::Name(
                "a client id is not empty, has no `:`, and is given once",
            ));
        }
        if secret.len() < MIN_SECRET_LEN {
            return Err(ConfigError::Limit("a client secret has at least 16 bytes"));
        }
        let mut clients: Vec<IntrospectionClient> = Vec::with_capacity(self.clients.len() + 1);
        clients.extend(self.clients.iter().map(|c| IntrospectionClient {
            id: c.id.clone(),
            secret_digest: c.secret_digest,
        }));
        clients.push(IntrospectionClient {
            id: id.into(),
            secret_digest: sha256(secret.as_bytes()),
        });
        self.clients = clients.into();
        Ok(self)
    }

    /// Sets the request body limit in bytes (default 16 KiB); a larger body is answered 413.
    ///
    /// ```
    /// use tower_jwt_auth::{Issuer, KeySet, SigningKey, endpoints::IntrospectionService};
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let service = IntrospectionService::new(issuer.verifier()).with_body_limit(4096);
    /// # let _ = service;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_body_limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Whether the request carries the Basic credentials of an allowed client. Every
    /// configured secret is compared, in constant time, whatever the id.
    fn authenticated(&self, headers: &HeaderMap) -> bool {
        let Some((id, secret)) = basic_credentials(headers) else {
            return false;
        };
        let digest = sha256(secret.as_bytes());
        let mut found = false;
        for client in self.clients.iter() {
            let same_secret = bool::from(client.secret_digest.ct_eq(&digest));
            found |= same_secret && *client.id == *id;
        }
        found
    }

    /// The answer for `token`: active with its claims, inactive, or unavailable.
    fn introspect(&self, token: &str) -> Response<Full<Bytes>> {
        match self
            .verifier
            .verify::<NoCustomClaims>(token, TokenKind::Access)
        {
            Ok(claims) => no_store(json_response(StatusCode::OK, &Active::from(&claims))),
            Err(crate::token::TokenError::RevocationUnavailable) => {
                ErrorResponse::unavailable().into_http_response()
            }
            Err(_) => no_store(json_response(
                StatusCode::OK,
                &serde_json::json!({ "active": false }),
            )),
        }
    }
}

/// The SHA-256 digest of `bytes`.
fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, bytes).as_ref());
    out
}

/// `Authorization: Basic base64(id:secret)`, decoded.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

fn no_store(mut response: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The request body (RFC 7662 §2.1).
#[derive(Deserialize, Default)]
struct IntrospectRequest {
    token: Option<String>,
    /// Only a hint; access tokens are the only ones introspected.
    #[serde(rename = "token_type_hint")]
    _hint: Option<String>,
}

/// An active token's answer (RFC 7662 §2.2).
#[derive(Serialize)]
struct Active<'a> {
    active: bool,
    token_type: &'static str,
    sub: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    aud: &'a [String],
    exp: u64,
    iat: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nbf: Option<u64>,
    jti: &'a str,
    sid: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    scope: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cnf: Option<&'a Confirmation>,
}

impl<'a> From<&'a Claims> for Active<'a> {
    fn from(claims: &'a Claims) -> Self {
        Self {
            active: true,
            // RFC 7662 §2.2: the token type of RFC 6749 §5.1, as the token response said.
            token_type: if claims.cnf.is_some() {
                "DPoP"
            } else {
                "Bearer"
            },
            sub: &claims.sub,
            iss: claims.iss.as_deref(),
            aud: &claims.aud,
            exp: claims.exp,
            iat: claims.iat,
            nbf: claims.nbf,
            jti: &claims.jti,
            sid: &claims.sid,
            scope: &claims.scope,
            cnf: claims.cnf.as_ref(),
        }
    }
}

impl<B> Service<Request<B>> for IntrospectionService
where
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
        let service = self.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            if parts.method != Method::POST {
                let mut response = Response::new(Full::new(Bytes::new()));
                *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("POST"));
                return Ok(response);
            }
            if !service.authenticated(&parts.headers) {
                let mut response = ErrorResponse::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "client authentication failed",
                )
                .into_http_response();
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"introspection\""),
                );
                return Ok(response);
            }
            let parsed: Result<(IntrospectRequest, _), _> =
                body::parse(&parts.headers, body, service.limit).await;
            Ok(match parsed {
                Ok((request, _)) => match request.token.filter(|t| !t.is_empty()) {
                    Some(token) => service.introspect(&token),
                    None => ErrorResponse::invalid_request("missing token").into_http_response(),
                },
                Err(err) => err.into_http_response(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(claims: &serde_json::Value) -> serde_json::Value {
        let claims = Claims::<NoCustomClaims>::from_json(claims.to_string().as_bytes()).unwrap();
        serde_json::to_value(Active::from(&claims)).unwrap()
    }

    #[test]
    fn a_bound_token_is_introspected_as_dpop_with_its_key() {
        let mut claims = serde_json::json!({
            "sub": "alice", "exp": 20, "iat": 10, "jti": "j", "sid": "s"
        });
        let bearer = answer(&claims);
        assert_eq!(bearer["token_type"], "Bearer");
        assert!(bearer.get("cnf").is_none(), "{bearer}");
        claims["cnf"] = serde_json::json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"});
        let bound = answer(&claims);
        assert_eq!(bound["token_type"], "DPoP");
        assert_eq!(
            bound["cnf"],
            serde_json::json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"})
        );
    }
}
