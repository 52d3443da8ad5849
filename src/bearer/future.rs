//! The response future of [`BearerAuth`](super::BearerAuth).

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll, ready},
};

use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use http::{HeaderValue, Response, header};
use pin_project_lite::pin_project;

use super::{
    AnonymousRefused, AuthError, ResponseBody,
    layer::DpopSettings,
    service::{add_challenge_param, dpop_challenges},
};
use crate::dpop::DPOP_NONCE;

pin_project! {
    /// Either the inner service's future, or a rejection ready at once, nothing boxed; with
    /// [introspection](super::BearerAuthLayer::with_introspection), on a miss of its cache, or
    /// with [DPoP](super::BearerAuthLayer::with_dpop) and a replay cache that does not answer at
    /// once (Redis), a boxed wait for the answer first.
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Inner { #[pin] future: F },
        // An anonymous request through an optional layer: a 401 of the claims extractor
        // gets the layer's challenge.
        Anonymous {
            #[pin] future: F,
            realm: Option<Arc<str>>,
            resource_metadata: Option<Bytes>,
            dpop: Option<DpopSettings>,
        },
        // A DPoP success: the inner service's answer gets a fresh nonce, if any.
        Renewing { #[pin] future: F, nonce: Option<HeaderValue> },
        Rejected { response: Option<Response<Bytes>> },
        // The introspection or the replay cache, then the inner service's future or the
        // rejection.
        Checking { check: BoxFuture<'static, Result<ResponseFuture<F>, Response<Bytes>>> },
    }
}

impl<F: std::fmt::Debug> std::fmt::Debug for State<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Inner { future } => f.debug_struct("Inner").field("future", future).finish(),
            Self::Rejected { response } => f
                .debug_struct("Rejected")
                .field("response", response)
                .finish(),
            Self::Anonymous { future, .. } => f
                .debug_struct("Anonymous")
                .field("future", future)
                .finish_non_exhaustive(),
            Self::Renewing { future, .. } => f
                .debug_struct("Renewing")
                .field("future", future)
                .finish_non_exhaustive(),
            Self::Checking { .. } => f.write_str("Checking"),
        }
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn inner(future: F) -> Self {
        Self {
            state: State::Inner { future },
        }
    }

    pub(crate) fn anonymous(
        future: F,
        realm: Option<Arc<str>>,
        resource_metadata: Option<Bytes>,
        dpop: Option<DpopSettings>,
    ) -> Self {
        Self {
            state: State::Anonymous {
                future,
                realm,
                resource_metadata,
                dpop,
            },
        }
    }

    pub(crate) fn checking(
        check: BoxFuture<'static, Result<ResponseFuture<F>, Response<Bytes>>>,
    ) -> Self {
        Self {
            state: State::Checking { check },
        }
    }

    pub(crate) fn renewing(future: F, nonce: Option<HeaderValue>) -> Self {
        Self {
            state: State::Renewing { future, nonce },
        }
    }

    pub(crate) fn rejected(response: Response<Bytes>) -> Self {
        Self {
            state: State::Rejected {
                response: Some(response),
            },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let mut state = self.as_mut().project().state;
            let next = match state.as_mut().project() {
                StateProj::Inner { future } => {
                    return Poll::Ready(
                        ready!(future.poll(cx)).map(|r| r.map(ResponseBody::inner)),
                    );
                }
                StateProj::Anonymous {
                    future,
                    realm,
                    resource_metadata,
                    dpop,
                } => {
                    let mut response = ready!(future.poll(cx))?;
                    if response
                        .extensions_mut()
                        .remove::<AnonymousRefused>()
                        .is_some()
                    {
                        let headers = response.headers_mut();
                        if let Some(challenge) =
                            AuthError::MissingToken.www_authenticate(realm.as_deref())
                        {
                            headers.insert(header::WWW_AUTHENTICATE, challenge);
                        }
                        if let Some(param) = resource_metadata {
                            add_challenge_param(headers, param);
                        }
                        if let Some(settings) = dpop {
                            dpop_challenges(
                                headers,
                                settings,
                                &AuthError::MissingToken,
                                false,
                                realm.as_deref(),
                            );
                        }
                    }
                    return Poll::Ready(Ok(response.map(ResponseBody::inner)));
                }
                StateProj::Rejected { response } => {
                    return match response.take() {
                        Some(response) => Poll::Ready(Ok(response.map(ResponseBody::rejection))),
                        // Polled after completion: a caller bug; stay pending rather than panic.
                        None => Poll::Pending,
                    };
                }
                StateProj::Renewing { future, nonce } => {
                    let mut response = ready!(future.poll(cx))?;
                    if let Some(nonce) = nonce.take() {
                        response.headers_mut().insert(DPOP_NONCE, nonce);
                    }
                    return Poll::Ready(Ok(response.map(ResponseBody::inner)));
                }
                StateProj::Checking { check } => match ready!(check.as_mut().poll(cx)) {
                    Ok(next) => next.state,
                    Err(response) => State::Rejected {
                        response: Some(response),
                    },
                },
            };
            state.set(next);
        }
    }
}
