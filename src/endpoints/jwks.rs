//! [`JwksService`]: the public key set as a JSON document.

use std::{
    convert::Infallible,
    future::{Ready, ready},
    task::{Context, Poll},
};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use tower_service::Service;

use crate::keys::KeySet;

/// Serves the public keys of a [`KeySet`] as a JWKS document (RFC 7517 §5), for
/// `GET /.well-known/jwks.json`. It follows the set: a key published, switched to or retired
/// shows in the next response. The document is serialised once per change of the set;
/// every request clones a reference-counted buffer. Only public keys are ever included.
///
/// ```
/// use http::Request;
/// use http_body_util::{BodyExt, Full};
/// use tower::ServiceExt;
/// use tower_jwt_auth::{KeySet, SigningKey, endpoints::JwksService};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let keys = KeySet::new(SigningKey::generate_ed25519()?);
/// let response = JwksService::new(&keys)
///     .oneshot(Request::get("/.well-known/jwks.json").body(Full::<bytes::Bytes>::default())?)
///     .await?;
/// assert_eq!(response.headers()["content-type"], "application/jwk-set+json");
/// let body = response.into_body().collect().await?.to_bytes();
/// let jwks: serde_json::Value = serde_json::from_slice(&body)?;
/// assert_eq!(jwks["keys"][0]["kid"], keys.signing_kid().unwrap());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct JwksService {
    keys: KeySet,
    cache_control: HeaderValue,
}

impl JwksService {
    /// Serves the public keys of `keys`, cacheable for five minutes.
    ///
    /// ```
    /// use tower_jwt_auth::{KeySet, SigningKey, endpoints::JwksService};
    ///
    /// let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// let service = JwksService::new(&keys);
    /// # let _ = service;
    /// # Ok::<(), tower_jwt_auth::keys::KeyError>(())
    /// ```
    pub fn new(keys: &KeySet) -> Self {
        Self {
            keys: keys.clone(),
            cache_control: HeaderValue::from_static("public, max-age=300"),
        }
    }

    /// Sets how long clients and proxies may cache the document (default five minutes).
    /// Keep it shorter than the time between publishing a key and signing with it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_jwt_auth::{KeySet, SigningKey, endpoints::JwksService};
    ///
    /// let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// let service = JwksService::new(&keys).with_max_age(Duration::from_secs(60));
    /// # let _ = service;
    /// # Ok::<(), tower_jwt_auth::keys::KeyError>(())
    /// ```
    #[must_use]
    pub fn with_max_age(mut self, max_age: std::time::Duration) -> Self {
        if let Ok(value) = HeaderValue::from_str(&format!("public, max-age={}", max_age.as_secs()))
        {
            self.cache_control = value;
        }
        self
    }
}

impl<B> Service<Request<B>> for JwksService {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let mut response = Response::new(Full::new(Bytes::new()));
        if request.method() != Method::GET && request.method() != Method::HEAD {
            *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return ready(Ok(response));
        }
        if request.method() == Method::GET {
            *response.body_mut() = Full::new(self.keys.load().jwks_document());
        }
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/jwk-set+json"),
        );
        headers.insert(header::CACHE_CONTROL, self.cache_control.clone());
        ready(Ok(response))
    }
}
