//! [`RefreshHook`]: the application's say on every refresh.

use std::{future::Future, marker::PhantomData};

use futures::future;
use serde::{Serialize, de::DeserializeOwned};

use super::RefreshError;
use crate::{
    issuer::custom_claims,
    store::{BoxError, BoxFuture},
    token::Claims,
};

/// What the application decides when a session is refreshed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefreshDecision<T> {
    /// Keep the scope and claims the session has.
    Keep,
    /// Mint the next pair with this scope and these claims (roles changed, say).
    Update {
        /// The new scope, space-separated.
        scope: String,
        /// The new application claims.
        custom: T,
    },
    /// Refuse (user deleted or disabled): the session is revoked and the refresh fails.
    Refuse,
}

/// Called on every refresh, before the refresh token is rotated, to reload or refuse the
/// subject's claims. Any `Fn(&Claims<T>) -> impl Future<Output = Result<RefreshDecision<T>,
/// BoxError>>` is a hook.
///
/// An `Err` fails the refresh as a server error without rotating the token, so the client
/// can retry.
pub trait RefreshHook<T>: Send + Sync + 'static {
    /// Decides what the next pair of this session carries.
    fn on_refresh(
        &self,
        claims: &Claims<T>,
    ) -> BoxFuture<'static, Result<RefreshDecision<T>, BoxError>>;
}

impl<T, F, Fut> RefreshHook<T> for F
where
    F: Fn(&Claims<T>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<RefreshDecision<T>, BoxError>> + Send + 'static,
{
    fn on_refresh(
        &self,
        claims: &Claims<T>,
    ) -> BoxFuture<'static, Result<RefreshDecision<T>, BoxError>> {
        Box::pin(self(claims))
    }
}

/// The application's claims as they ride in a token: a JSON object, copied unchanged from
/// each refresh token into the next pair.
pub(crate) type JsonClaims = serde_json::Map<String, serde_json::Value>;

/// A refresh hook on the session's claims as JSON: the typed hook the application gave,
/// behind the conversion to and from its claims type.
pub(super) trait JsonHook: Send + Sync + 'static {
    /// Reads the claims as the hook's type, runs the hook, and writes an update back as JSON.
    fn on_refresh(
        &self,
        claims: &Claims<JsonClaims>,
    ) -> BoxFuture<'static, Result<RefreshDecision<JsonClaims>, RefreshError>>;
}

/// A [`RefreshHook`] for claims of type `T`, as a [`JsonHook`].
pub(super) struct Typed<T, H> {
    hook: H,
    _claims: PhantomData<fn(T) -> T>,
}

impl<T, H> Typed<T, H> {
    pub(super) fn new(hook: H) -> Self {
        Self {
            hook,
            _claims: PhantomData,
        }
    }
}

impl<T, H> JsonHook for Typed<T, H>
where
    T: Serialize + DeserializeOwned + 'static,
    H: RefreshHook<T>,
{
    fn on_refresh(
        &self,
        claims: &Claims<JsonClaims>,
    ) -> BoxFuture<'static, Result<RefreshDecision<JsonClaims>, RefreshError>> {
        let typed = claims
            .clone()
            .try_map_custom(|json| serde_json::from_value::<T>(serde_json::Value::Object(json)));
        let decision = match typed {
            Ok(typed) => self.hook.on_refresh(&typed),
            Err(err) => return Box::pin(future::ready(Err(RefreshError::ClaimsType(err)))),
        };
        Box::pin(async move {
            Ok(match decision.await.map_err(RefreshError::Hook)? {
                RefreshDecision::Keep => RefreshDecision::Keep,
                RefreshDecision::Refuse => RefreshDecision::Refuse,
                RefreshDecision::Update { scope, custom } => RefreshDecision::Update {
                    scope,
                    custom: custom_claims(&custom)?,
                },
            })
        })
    }
}
