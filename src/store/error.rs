//! The store's errors: [`RevocationError`] (the revocation state could not be read or
//! written) and [`BackendError`] (a backend could not be built), and the failure of one
//! backend operation that every backend reports.

use std::{error::Error as StdError, time::Duration};

/// A boxed error from a revocation backend or a refresh hook, kept with its source chain.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// The revocation state could not be read or written; the operation failed closed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RevocationError {
    /// The persistent backend failed; the cause is kept as the source.
    #[error("revocation backend failed")]
    Backend(#[source] BoxError),
    /// The store is [read-only](super::RevocationStoreBuilder::read_only): it follows the
    /// shared state and writes none; the backend was not called.
    #[error("this revocation store is read-only: {operation} is refused")]
    ReadOnly {
        /// The write refused: `revoke`, `create_session` or `rotate`.
        operation: &'static str,
    },
}

/// How long a backend builder's `build` may take (connecting, setting up the schema) unless
/// its `with_timeout` says otherwise.
#[cfg(any(feature = "redis", feature = "postgres", feature = "sqlite"))]
pub(crate) const BUILD_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a revocation backend could not be built: the one error of every backend builder's
/// `build` (Redis, PostgreSQL, SQLite).
///
/// The messages never contain a URL's credentials; the cause, when there is one, is the
/// [`source`](StdError::source).
///
/// ```
/// use std::error::Error;
/// use tower_jwt_auth::store::BackendError;
///
/// fn explain(err: &BackendError) -> String {
///     match err {
///         BackendError::Config(what) => format!("fix the configuration: {what}"),
///         BackendError::Timeout { after } => format!("not ready within {after:?}"),
///         other => match other.source() {
///             Some(cause) => format!("{other}: {cause}"),
///             None => other.to_string(),
///         },
///     }
/// }
/// assert_eq!(
///     explain(&BackendError::Config("the prefix is empty")),
///     "fix the configuration: the prefix is empty"
/// );
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// A setting of the builder was refused (a prefix, a time limit).
    #[error("invalid revocation backend setting: {0}")]
    Config(&'static str),
    /// The URL (or connection info) was refused.
    #[error("invalid revocation backend URL")]
    Url(#[source] BoxError),
    /// The server (or file) could not be reached or opened.
    #[error("could not connect to the revocation backend")]
    Connect(#[source] BoxError),
    /// The backend's tables or indexes could not be created.
    #[error("could not set up the revocation backend's tables")]
    Schema(#[source] BoxError),
    /// Connecting and setting up took longer than the builder's time limit.
    #[error("the revocation backend was not ready within {after:?}")]
    Timeout {
        /// The builder's time limit.
        after: Duration,
    },
}

/// One operation of a backend failed: the error every backend returns from its
/// [`RevocationBackend`](super::RevocationBackend) methods. The cause, when there is one,
/// is the source.
#[cfg(any(feature = "redis", feature = "postgres", feature = "sqlite"))]
#[derive(Debug, thiserror::Error)]
pub(crate) enum OperationError {
    /// The database answered with an error, or the connection failed.
    #[error("{backend} {operation} failed")]
    Failed {
        backend: &'static str,
        operation: &'static str,
        #[source]
        source: BoxError,
    },
    /// The database held or answered something the backend did not write, or a change
    /// feed ended.
    #[error("{backend} {operation}: {what}")]
    Unexpected {
        backend: &'static str,
        operation: &'static str,
        what: std::borrow::Cow<'static, str>,
    },
}

#[cfg(any(feature = "redis", feature = "postgres", feature = "sqlite"))]
impl OperationError {
    /// Maps a database error of `operation` on `backend`.
    pub(crate) fn failed<E>(
        backend: &'static str,
        operation: &'static str,
    ) -> impl FnOnce(E) -> Self
    where
        E: StdError + Send + Sync + 'static,
    {
        move |source| Self::Failed {
            backend,
            operation,
            source: Box::new(source),
        }
    }

    /// The database error this failure carries, if it is one of type `E`.
    #[cfg(feature = "redis")]
    pub(crate) fn cause<E: StdError + 'static>(&self) -> Option<&E> {
        match self {
            Self::Failed { source, .. } => source.downcast_ref(),
            Self::Unexpected { .. } => None,
        }
    }
}

#[cfg(all(test, any(feature = "redis", feature = "postgres", feature = "sqlite")))]
mod tests {
    use super::*;

    #[test]
    fn a_failure_names_the_backend_and_operation_and_keeps_the_cause() {
        let failure = OperationError::failed("postgres", "rotate")(std::io::Error::other("reset"));
        assert_eq!(failure.to_string(), "postgres rotate failed");
        assert_eq!(
            crate::redact::error_chain(&failure),
            "postgres rotate failed: reset"
        );
        let odd = OperationError::Unexpected {
            backend: "Redis",
            operation: "load",
            what: "a subject entry without its cut-off".into(),
        };
        assert_eq!(
            odd.to_string(),
            "Redis load: a subject entry without its cut-off"
        );
        assert!(odd.source().is_none());
    }
}
