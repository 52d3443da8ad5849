//! [`SessionService`]: the one tower service behind the session endpoints: read a small JSON
//! or form body, run the endpoint's operation on [`Sessions`], answer JSON.

use std::{
    convert::Infallible,
    fmt,
    future::Future,
    marker::PhantomData,
    task::{Context, Poll},
};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, Uri, header};
use http_body::Body;
use http_body_util::Full;
use serde::de::DeserializeOwned;
use tower_service::Service;

use super::{
    DEFAULT_BODY_LIMIT,
    body::{self, BodyKind},
};
use crate::{
    dpop::ProofVerifier,
    session::Sessions,
    store::{BoxError, BoxFuture},
    transport::CookieTransport,
};

/// One request to an endpoint: the sessions it acts on, the parsed body and its encoding,
/// the request's method, URI (as the client sent it) and headers, the cookie transport and
/// the DPoP proof verifier, if any.
#[allow(unreachable_pub, missing_debug_implementations)]
pub struct Call<R> {
    pub(crate) sessions: Sessions,
    pub(crate) request: R,
    pub(crate) kind: BodyKind,
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    pub(crate) headers: HeaderMap,
    pub(crate) transport: Option<CookieTransport>,
    pub(crate) dpop: Option<ProofVerifier>,
}

/// A response of a token endpoint.
pub(crate) type Reply = Response<Full<Bytes>>;

/// What an endpoint does with its parsed request: [`Refresh`](super::Refresh) or
/// [`Revoke`](super::Revoke) (sealed: implemented by the crate's endpoints only).
#[allow(unreachable_pub)]
pub trait Operation: Send + Sync + 'static {
    /// The request body (`Default`: the empty body of a cookie-transport request).
    #[doc(hidden)]
    type Request: DeserializeOwned + Default + Send;
    /// The operation, answering every outcome as a response.
    #[doc(hidden)]
    fn handle(call: Call<Self::Request>) -> impl Future<Output = Reply> + Send;
}

/// A tower service that runs one session operation per request:
/// [`RefreshService`](super::RefreshService) (the refresh exchange) and
/// [`RevocationService`](super::RevocationService) (RFC 7009). It reads a JSON or form body
/// of at most [`DEFAULT_BODY_LIMIT`](super::DEFAULT_BODY_LIMIT) bytes (413 beyond), runs the
/// operation on [`Sessions`] and answers JSON; it never fails as a service.
///
/// Cloning is a reference-count bump.
pub struct SessionService<O> {
    sessions: Sessions,
    limit: usize,
    transport: Option<CookieTransport>,
    dpop: Option<ProofVerifier>,
    _operation: PhantomData<fn() -> O>,
}

impl<O> Clone for SessionService<O> {
    fn clone(&self) -> Self {
        Self {
            sessions: self.sessions.clone(),
            limit: self.limit,
            transport: self.transport.clone(),
            dpop: self.dpop.clone(),
            _operation: PhantomData,
        }
    }
}

impl<O> fmt::Debug for SessionService<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionService")
            .field("operation", &std::any::type_name::<O>())
            .field("sessions", &self.sessions)
            .field("body_limit", &self.limit)
            .field("transport", &self.transport)
            .field("dpop", &self.dpop)
            .finish()
    }
}

impl<O: Operation> SessionService<O> {
    /// The endpoint over `sessions`, with a 16 KiB request body limit.
    ///
    /// ```
    /// use tower_jwt_auth::{Issuer, KeySet, Sessions, SigningKey, endpoints::RefreshService};
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let service = RefreshService::new(Sessions::new(issuer));
    /// # let _ = service;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(sessions: Sessions) -> Self {
        Self {
            sessions,
            limit: DEFAULT_BODY_LIMIT,
            transport: None,
            dpop: None,
            _operation: PhantomData,
        }
    }

    pub(crate) fn with_transport(mut self, transport: CookieTransport) -> Self {
        self.transport = Some(transport);
        self
    }

    pub(crate) fn with_proof_verifier(mut self, verifier: ProofVerifier) -> Self {
        self.dpop = Some(verifier);
        self
    }

    /// Sets the request body limit in bytes; a larger body is answered 413.
    ///
    /// ```
    /// use tower_jwt_auth::{Issuer, KeySet, Sessions, SigningKey, endpoints::RevocationService};
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let service = RevocationService::new(Sessions::new(issuer)).with_body_limit(4096);
    /// # let _ = service;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_body_limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }
}

impl<O, B> Service<Request<B>> for SessionService<O>
where
    O: Operation,
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
        let transport = self.transport.clone();
        let dpop = self.dpop.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            // A browser's cookie-transport request may come without a body at all.
            let parsed = if transport.is_some() && !parts.headers.contains_key(header::CONTENT_TYPE)
            {
                Ok((O::Request::default(), BodyKind::Empty))
            } else {
                body::parse(&parts.headers, body, limit).await
            };
            Ok(match parsed {
                Ok((request, kind)) => {
                    O::handle(Call {
                        sessions,
                        request,
                        kind,
                        uri: original_uri(&mut parts),
                        method: parts.method,
                        headers: parts.headers,
                        transport,
                        dpop,
                    })
                    .await
                }
                Err(err) => err.into_http_response(),
            })
        })
    }
}

/// The request's URI as the client sent it: under an axum `nest`, the router has stripped
/// the prefix from the request's URI and kept the original in the extensions.
fn original_uri(parts: &mut http::request::Parts) -> Uri {
    #[cfg(feature = "axum")]
    if let Some(axum::extract::OriginalUri(uri)) = parts.extensions.remove() {
        return uri;
    }
    std::mem::take(&mut parts.uri)
}
