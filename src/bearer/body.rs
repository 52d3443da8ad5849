//! [`ResponseBody`]: the body of a response that went through the bearer middleware.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

pin_project! {
    /// The body of a response from [`BearerAuth`](super::BearerAuth): the inner service's
    /// body, or the rejection's.
    ///
    /// Being its own type rather than the inner body lets the middleware wrap any service,
    /// whatever its body: axum's, hyper's, tonic's, or one of tower-http's wrappers
    /// (compression, tracing) that can build no body of their own.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use http_body::Body;
    /// use tower_jwt_auth::bearer::ResponseBody;
    ///
    /// let body = ResponseBody::<http_body_util::Empty<Bytes>>::rejection(Bytes::from_static(b"denied"));
    /// assert_eq!(body.size_hint().exact(), Some(6));
    /// ```
    #[derive(Debug)]
    pub struct ResponseBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    #[derive(Debug)]
    enum Kind<B> {
        Inner { #[pin] body: B },
        Rejection { bytes: Option<Bytes> },
    }
}

impl<B> ResponseBody<B> {
    /// The inner service's body.
    ///
    /// ```
    /// use tower_jwt_auth::bearer::ResponseBody;
    ///
    /// let body = ResponseBody::inner(http_body_util::Full::new(bytes::Bytes::from("hello")));
    /// # let _ = body;
    /// ```
    pub fn inner(body: B) -> Self {
        Self {
            kind: Kind::Inner { body },
        }
    }

    /// A rejection's body.
    ///
    /// ```
    /// use http_body::Body;
    /// use tower_jwt_auth::bearer::ResponseBody;
    ///
    /// let body = ResponseBody::<http_body_util::Empty<bytes::Bytes>>::rejection(bytes::Bytes::new());
    /// assert!(body.is_end_stream());
    /// ```
    pub fn rejection(bytes: Bytes) -> Self {
        Self {
            kind: Kind::Rejection {
                bytes: (!bytes.is_empty()).then_some(bytes),
            },
        }
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.project().kind.project() {
            KindProj::Inner { body } => body.poll_frame(cx),
            KindProj::Rejection { bytes } => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Inner { body } => body.is_end_stream(),
            Kind::Rejection { bytes } => bytes.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Inner { body } => body.size_hint(),
            Kind::Rejection { bytes } => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
        }
    }
}
