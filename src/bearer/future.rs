//! The response future of [`BearerAuth`](super::BearerAuth).

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll, ready},
};

use std::sync::Arc;

use bytes::Bytes;
use http::{Response, header};
use pin_project_lite::pin_project;

use super::{AnonymousRefused, AuthError, ResponseBody, service::add_challenge_param};

pin_project! {
    /// Either the inner service's future, or a rejection ready at once. Nothing is boxed.
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    #[derive(Debug)]
    enum State<F> {
        Inner { #[pin] future: F },
        // An anonymous request through an optional layer: a 401 of the claims extractor
        // gets the layer's challenge.
        Anonymous {
            #[pin] future: F,
            realm: Option<Arc<str>>,
            resource_metadata: Option<Bytes>,
        },
        Rejected { response: Option<Response<Bytes>> },
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
    ) -> Self {
        Self {
            state: State::Anonymous {
                future,
                realm,
                resource_metadata,
            },
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

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Inner { future } => {
                Poll::Ready(ready!(future.poll(cx)).map(|r| r.map(ResponseBody::inner)))
            }
            StateProj::Anonymous {
                future,
                realm,
                resource_metadata,
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
                }
                Poll::Ready(Ok(response.map(ResponseBody::inner)))
            }
            StateProj::Rejected { response } => match response.take() {
                Some(response) => Poll::Ready(Ok(response.map(ResponseBody::rejection))),
                // Polled after completion: a caller bug; stay pending rather than panic.
                None => Poll::Pending,
            },
        }
    }
}
