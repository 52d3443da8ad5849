//! The one tower service behind the session endpoints: read a small JSON or form body, run
//! the endpoint's operation on [`Sessions`], answer JSON.

use std::{
    convert::Infallible,
    fmt,
    future::Future,
    marker::PhantomData,
    task::{Context, Poll},
};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::Full;
use serde::{Serialize, de::DeserializeOwned};
use tower_service::Service;

use super::{
    DEFAULT_BODY_LIMIT,
    body::{self, BodyKind},
};
use crate::{error::BoxError, revocation::BoxFuture, session::Sessions};

/// What an endpoint does with its parsed request (sealed: implemented by the crate's
/// endpoints only).
#[allow(unreachable_pub)]
pub(crate) mod sealed {
    use super::*;

    /// An endpoint operation.
    pub trait Operation: Send + Sync + 'static {
        /// The request body.
        type Request: DeserializeOwned + Send;
        /// The operation, answering every outcome as a response.
        fn handle<T>(
            sessions: Sessions<T>,
            request: Self::Request,
            kind: BodyKind,
        ) -> impl Future<Output = Response<Full<Bytes>>> + Send
        where
            T: Serialize + DeserializeOwned + Send + 'static;
    }
}

/// A tower service running one session operation per request; see [`RefreshService`] and
/// [`RevocationService`].
///
/// [`RefreshService`]: super::RefreshService
/// [`RevocationService`]: super::RevocationService
pub struct SessionEndpoint<T, O> {
    sessions: Sessions<T>,
    limit: usize,
    _operation: PhantomData<fn() -> O>,
}

impl<T, O> Clone for SessionEndpoint<T, O> {
    fn clone(&self) -> Self {
        Self {
            sessions: self.sessions.clone(),
            limit: self.limit,
            _operation: PhantomData,
        }
    }
}

impl<T, O> fmt::Debug for SessionEndpoint<T, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(
            std::any::type_name::<O>()
                .rsplit("::")
                .next()
                .unwrap_or("Endpoint"),
        )
        .field("sessions", &self.sessions)
        .field("body_limit", &self.limit)
        .finish()
    }
}

impl<T, O> SessionEndpoint<T, O> {
    /// The endpoint over `sessions`, with a 16 KiB request body limit.
    pub fn new(sessions: Sessions<T>) -> Self {
        Self {
            sessions,
            limit: DEFAULT_BODY_LIMIT,
            _operation: PhantomData,
        }
    }

    /// Sets the request body limit in bytes; a larger body is answered 413.
    ///
    /// ```
    /// # use tower_jwt_auth::{Issuer, KeySet, NoCustomClaims, RefreshService, Sessions, SigningKey};
    /// # let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let service = RefreshService::new(Sessions::<NoCustomClaims>::new(issuer)).with_body_limit(4096);
    /// # let _ = service;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_body_limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }
}

impl<T, O, B> Service<Request<B>> for SessionEndpoint<T, O>
where
    T: Serialize + DeserializeOwned + Send + 'static,
    O: sealed::Operation,
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
            Ok(match body::parse(&parts.headers, body, limit).await {
                Ok((parsed, kind)) => O::handle(sessions, parsed, kind).await,
                Err(err) => err.into_http_response(),
            })
        })
    }
}
