//! [`JwksService`]: the public key set as a JSON document.

use std::{
    convert::Infallible,
    future::{Ready, ready},
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http::{HeaderValue, Request, Response};
use http_body_util::Full;
use tower_service::Service;

use super::document::document_response;
use crate::keys::{KeyError, KeySet, SigningKey};

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
    max_age: Duration,
    cache_control: HeaderValue,
}

/// How long [`JwksService::rotate_to`] waits beyond the served `max-age`: a verifier's fetch
/// takes time, and its schedule is rounded.
const ROTATION_MARGIN: Duration = Duration::from_secs(5);

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
            max_age: Duration::from_secs(300),
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
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        if let Ok(value) = HeaderValue::from_str(&format!("public, max-age={}", max_age.as_secs()))
        {
            self.max_age = Duration::from_secs(max_age.as_secs());
            self.cache_control = value;
        }
        self
    }

    /// Rotates the signing key so that no verifier notices: publishes `next` in this JWKS,
    /// waits until every verifier that honours the document's `Cache-Control` has fetched it
    /// (the served `max-age` plus 5 s), then signs with it. The previous signing key keeps
    /// verifying; [`retire`](KeySet::retire) it once the tokens it signed have expired.
    ///
    /// Await it in a task of its own: it sleeps for the whole wait (tokio's timer). Fails,
    /// without signing, if another key has `next`'s `kid`. A verifier that refetches less
    /// often than the `max-age` (a [`RemoteJwks`](crate::keys::RemoteJwks) floor above it)
    /// may still meet the new key first: keep the `max-age` at or above verifiers' floors
    /// (`RemoteJwks`: 60 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_jwt_auth::{KeySet, SigningKey, endpoints::JwksService};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), tower_jwt_auth::keys::KeyError> {
    /// let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// let jwks = JwksService::new(&keys).with_max_age(Duration::from_secs(60));
    /// let next = SigningKey::generate_ed25519()?;
    /// let kid = next.kid().to_owned();
    /// let rotation = tokio::spawn({
    ///     let jwks = jwks.clone();
    ///     async move { jwks.rotate_to(next).await }
    /// });
    /// tokio::time::sleep(Duration::from_secs(1)).await;
    /// assert!(keys.contains(&kid)); // published at once...
    /// assert_ne!(keys.signing_kid().as_deref(), Some(kid.as_str())); // ...not signing yet
    /// rotation.await.expect("the rotation task")?;
    /// assert_eq!(keys.signing_kid(), Some(kid)); // 65 s later
    /// # Ok(())
    /// # }
    /// ```
    pub async fn rotate_to(&self, next: SigningKey) -> Result<(), KeyError> {
        self.keys.publish(next.verifying_key())?;
        tokio::time::sleep(self.max_age.saturating_add(ROTATION_MARGIN)).await;
        self.keys.sign_with(next)
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
        ready(Ok(document_response(
            request.method(),
            || self.keys.load().jwks_document(),
            "application/jwk-set+json",
            self.cache_control.clone(),
        )))
    }
}
