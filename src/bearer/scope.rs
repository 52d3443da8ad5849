//! [`RequireScopeLayer`]: per-route scope requirements behind the bearer middleware.

use std::{
    borrow::Cow,
    fmt,
    marker::PhantomData,
    sync::Arc,
    task::{Context, Poll},
};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::{AuthError, Authenticated, DefaultRejection, OnRejection, ResponseFuture};
use crate::claims::{Claims, NoCustomClaims};

/// Requires the authenticated token to carry every one of a set of scopes; answers
/// 403 `insufficient_scope` naming them otherwise. Place it inside a
/// [`BearerAuthLayer`](super::BearerAuthLayer) with the same claims type `T`.
///
/// A request that reached it without passing a `BearerAuthLayer` is a configuration error and
/// gets a 500, never the inner service.
///
/// ```
/// use tower_jwt_auth::RequireScopeLayer;
///
/// let admin_only = RequireScopeLayer::new(["admin"]);
/// # let _ = admin_only;
/// ```
pub struct RequireScopeLayer<T = NoCustomClaims, R = DefaultRejection> {
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
            .finish_non_exhaustive()
    }
}

impl RequireScopeLayer {
    /// Requires every scope of `scopes`. Use [`with_claims`](Self::with_claims) when the
    /// bearer layer in front has application claims.
    pub fn new<I, S>(scopes: I) -> Self
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
            realm: None,
            on_rejection: DefaultRejection,
            _claims: PhantomData,
        }
    }
}

impl<T, R> RequireScopeLayer<T, R> {
    /// The `realm` of the 403 challenge; use the bearer layer's realm.
    ///
    /// ```
    /// use tower_jwt_auth::RequireScopeLayer;
    ///
    /// let layer = RequireScopeLayer::new(["admin"]).with_realm("api");
    /// # let _ = layer;
    /// ```
    #[must_use]
    pub fn with_realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into().into());
        self
    }

    /// Reads the claims the bearer layer stored as `Claims<U>`.
    ///
    /// ```
    /// use tower_jwt_auth::RequireScopeLayer;
    ///
    /// #[derive(Clone)]
    /// struct Tenant;
    /// let layer = RequireScopeLayer::new(["admin"]).with_claims::<Tenant>();
    /// # let _ = layer;
    /// ```
    pub fn with_claims<U>(self) -> RequireScopeLayer<U, R> {
        RequireScopeLayer {
            scopes: self.scopes,
            joined: self.joined,
            realm: self.realm,
            on_rejection: self.on_rejection,
            _claims: PhantomData,
        }
    }

    /// Replaces how the 403 is turned into a response (see
    /// [`OnRejection`](super::OnRejection)).
    ///
    /// ```
    /// use tower_jwt_auth::{JsonRejection, RequireScopeLayer};
    ///
    /// let layer = RequireScopeLayer::new(["admin"]).on_rejection(JsonRejection);
    /// # let _ = layer;
    /// ```
    pub fn on_rejection<R2>(self, on_rejection: R2) -> RequireScopeLayer<T, R2> {
        RequireScopeLayer {
            scopes: self.scopes,
            joined: self.joined,
            realm: self.realm,
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

impl<S, T, R, ReqBody, ResBody> Service<Request<ReqBody>> for RequireScope<S, T, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    T: Send + Sync + 'static,
    R: OnRejection<ResBody>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let claims = request.extensions().get::<Claims<T>>();
        let error = match claims {
            Some(c) if c.has_all_scopes(self.layer.scopes.iter().map(|s| &**s)) => None,
            Some(_) => Some(AuthError::InsufficientScope(Cow::Owned(
                self.layer.joined.to_string(),
            ))),
            None if request.extensions().get::<Authenticated>().is_some() => {
                Some(AuthError::MissingToken)
            }
            None => {
                let mut response = Response::new(ResBody::default());
                *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                return ResponseFuture::rejected(response);
            }
        };
        match error {
            None => {
                let clone = self.inner.clone();
                let mut ready = std::mem::replace(&mut self.inner, clone);
                ResponseFuture::inner(ready.call(request))
            }
            Some(error) => ResponseFuture::rejected(
                self.layer
                    .on_rejection
                    .on_rejection(&error, self.layer.realm.as_deref()),
            ),
        }
    }
}
