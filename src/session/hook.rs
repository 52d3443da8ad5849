//! [`RefreshHook`]: the application's say on every refresh.

use std::future::Future;

use crate::{
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
