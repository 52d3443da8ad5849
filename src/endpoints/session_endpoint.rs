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
use http::{HeaderMap, Request, Response, header};
use http_body::Body;
use http_body_util::Full;
use serde::{Serialize, de::DeserializeOwned};
use tower_service::Service;

use super::{
    DEFAULT_BODY_LIMIT,
    body::{self, BodyKind},
};
use crate::{
    session::Sessions,
    store::{BoxError, BoxFuture},
    transport::CookieTransport,
};

/// The claims types the endpoints work with.
pub(crate) trait AppClaims: Serialize + DeserializeOwned + Send + 'static {}

impl<T: Serialize + DeserializeOwned + Send + 'static> AppClaims for T {}

/// One request to an endpoint: the sessions it acts on, the parsed body and its encoding,
/// the request's headers and the cookie transport, if any.
pub(crate) struct Call<T, R> {
    pub(crate) sessions: Sessions<T>,
    pub(crate) request: R,
    pub(crate) kind: BodyKind,
    pub(crate) headers: HeaderMap,
    pub(crate) transport: Option<CookieTransport>,
}

/// A response of a token endpoint.
pub(crate) type Reply = Response<Full<Bytes>>;

/// What an endpoint does with its parsed request (implemented by the crate's endpoints only).
pub(crate) trait Operation: Send + Sync + 'static {
    /// The request body (`Default`: the empty body of a cookie-transport request).
    type Request: DeserializeOwned + Default + Send;
    /// The operation, answering every outcome as a response.
    fn handle<T: AppClaims>(call: Call<T, Self::Request>) -> impl Future<Output = Reply> + Send;
}

/// The tower service running one session operation per request, behind
/// [`RefreshService`](super::RefreshService) and
/// [`RevocationService`](super::RevocationService).
pub(crate) struct SessionEndpoint<T, O> {
    sessions: Sessions<T>,
    limit: usize,
    transport: Option<CookieTransport>,
    _operation: PhantomData<fn() -> O>,
}

impl<T, O> Clone for SessionEndpoint<T, O> {
    fn clone(&self) -> Self {
        Self {
            sessions: self.sessions.clone(),
            limit: self.limit,
            transport: self.transport.clone(),
            _operation: PhantomData,
        }
    }
}

impl<T, O> fmt::Debug for SessionEndpoint<T, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionEndpoint")
            .field("sessions", &self.sessions)
            .field("body_limit", &self.limit)
            .field("transport", &self.transport)
            .finish()
    }
}

impl<T, O> SessionEndpoint<T, O> {
    pub(crate) fn new(sessions: Sessions<T>) -> Self {
        Self {
            sessions,
            limit: DEFAULT_BODY_LIMIT,
            transport: None,
            _operation: PhantomData,
        }
    }

    pub(crate) fn with_transport(mut self, transport: CookieTransport) -> Self {
        self.transport = Some(transport);
        self
    }

    pub(crate) fn with_body_limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }
}

impl<T, O, B> Service<Request<B>> for SessionEndpoint<T, O>
where
    T: Serialize + DeserializeOwned + Send + 'static,
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
        Box::pin(async move {
            let (parts, body) = request.into_parts();
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
                        headers: parts.headers,
                        transport,
                    })
                    .await
                }
                Err(err) => err.into_http_response(),
            })
        })
    }
}

/// A public tower service over a [`SessionEndpoint`]: `$name<T>` runs `$operation`.
macro_rules! session_service {
    ($(#[$doc:meta])* $name:ident, $operation:ty) => {
        $(#[$doc])*
        pub struct $name<T = $crate::token::NoCustomClaims>(
            super::session_endpoint::SessionEndpoint<T, $operation>,
        );

        impl<T> $name<T> {
            /// The endpoint over `sessions`, with a 16 KiB request body limit.
            pub fn new(sessions: $crate::session::Sessions<T>) -> Self {
                Self(super::session_endpoint::SessionEndpoint::new(sessions))
            }

            /// Sets the request body limit in bytes; a larger body is answered 413.
            #[must_use]
            pub fn with_body_limit(self, limit: usize) -> Self {
                Self(self.0.with_body_limit(limit))
            }
        }

        impl<T> Clone for $name<T> {
            fn clone(&self) -> Self {
                Self(self.0.clone())
            }
        }

        impl<T> std::fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_tuple(stringify!($name)).field(&self.0).finish()
            }
        }

        impl<T, B> tower_service::Service<http::Request<B>> for $name<T>
        where
            T: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
            B: http_body::Body + Send + 'static,
            B::Data: Send,
            B::Error: Into<$crate::store::BoxError>,
        {
            type Response = http::Response<http_body_util::Full<bytes::Bytes>>;
            type Error = std::convert::Infallible;
            type Future = $crate::store::BoxFuture<
                'static,
                Result<Self::Response, std::convert::Infallible>,
            >;

            fn poll_ready(
                &mut self,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Result<(), Self::Error>> {
                tower_service::Service::<http::Request<B>>::poll_ready(&mut self.0, cx)
            }

            fn call(&mut self, request: http::Request<B>) -> Self::Future {
                self.0.call(request)
            }
        }
    };
}
pub(crate) use session_service;
