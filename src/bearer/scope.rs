//! [`RequireScopeLayer`]: per-route scope requirements behind the bearer middleware.

use std::{
    borrow::Cow,
    fmt,
    marker::PhantomData,
    sync::Arc,
    task::{Context, Poll},
};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use tower_layer::Layer;
use tower_service::Service;

use super::{AuthError, Authenticated, OnRejection, ResponseBody, ResponseFuture};
use crate::token::Claims;

/// Requires the authenticated token to carry every one of a set of scopes; answers
/// 403 `insufficient_scope` naming them otherwise. Made by
/// [`BearerAuthLayer::require_scope`](super::BearerAuthLayer::require_scope), so that it
/// reads the claims with the bearer layer's claims type and answers with its realm and
/// rejection.
///
/// A request that reaches it without passing that bearer layer is a configuration error: it
/// gets a 500 whose body says so, an `error` event is logged, and the inner service is never
/// called.
pub struct RequireScopeLayer<T, R> {
    scopes: Arc<[Box<str>]>,
    joined: Arc<str>,
    realm: Option<Arc<str>>,
    on_rejection: R,
    _claims: PhantomData<fn() -> T>,
}

impl<T, R: Clone> Clone for RequireScopeLayer<T, R> {
    fn clone(&self) -> Self {
        Self {
            scopes: self.scopes.clone(),
            joined: self.joined.clone(),
            realm: self.realm.clone(),
            on_rejection: self.on_rejection.clone(),
            _claims: PhantomData,
        }
    }
}

impl<T, R> fmt::Debug for RequireScopeLayer<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireScopeLayer")
            .field("scopes", &self.joined)
            .field("realm", &self.realm)
            .finish_non_exhaustive()
    }
}

impl<T, R> RequireScopeLayer<T, R> {
    pub(super) fn new<I, S>(scopes: I, realm: Option<Arc<str>>, on_rejection: R) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let scopes: Vec<Box<str>> = scopes
            .into_iter()
            .map(|s| s.into().into_boxed_str())
            .filter(|s| !s.is_empty())
            .collect();
        let joined = scopes.join(" ").into();
        Self {
            scopes: scopes.into(),
            joined,
            realm,
            on_rejection,
            _claims: PhantomData,
        }
    }
}

impl<S, T, R: Clone> Layer<S> for RequireScopeLayer<T, R> {
    type Service = RequireScope<S, T, R>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireScope {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service made by [`RequireScopeLayer`].
pub struct RequireScope<S, T, R> {
    inner: S,
    layer: RequireScopeLayer<T, R>,
}

impl<S: Clone, T, R: Clone> Clone for RequireScope<S, T, R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<S: fmt::Debug, T, R> fmt::Debug for RequireScope<S, T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireScope")
            .field("inner", &self.inner)
            .field("scopes", &self.layer.joined)
            .finish()
    }
}

/// What the scope layer answers when the bearer layer did not run for the route.
const MISSING_LAYER: &str = "no claims in the request: the scope requirement is not inside the \
                             BearerAuthLayer it was made from (axum: `route_layer` the bearer \
                             layer on the router, and the scope layer on the route)";

impl<S, T, R, ReqBody, ResBody> Service<Request<ReqBody>> for RequireScope<S, T, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    T: Send + Sync + 'static,
    R: OnRejection,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let layer = &self.layer;
        let error = match request.extensions().get::<Claims<T>>() {
            Some(c) if c.has_all_scopes(layer.scopes.iter().map(|s| &**s)) => {
                // The check is synchronous: the service polled ready takes the request.
                return ResponseFuture::inner(self.inner.call(request));
            }
            Some(_) => AuthError::InsufficientScope(Cow::Owned(layer.joined.to_string())),
            // An anonymous request through an optional bearer layer.
            None if request.extensions().get::<Authenticated>().is_some() => {
                AuthError::MissingToken
            }
            None => {
                tracing::error!(
                    scopes = %layer.joined,
                    uri = %request.uri().path(),
                    "{MISSING_LAYER}"
                );
                let mut response = Response::new(Bytes::from_static(MISSING_LAYER.as_bytes()));
                *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                );
                return ResponseFuture::rejected(response);
            }
        };
        ResponseFuture::rejected(
            layer
                .on_rejection
                .on_rejection(&error, layer.realm.as_deref()),
        )
    }
}
