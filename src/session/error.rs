//! [`RefreshError`]: why a refresh exchange failed.

use crate::{
    issuer::IssueError,
    store::{BoxError, RevocationError},
    telemetry::RefreshFailure,
    token::TokenError,
};

/// Why a refresh exchange failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RefreshError {
    /// The refresh token is invalid, expired, revoked or not a refresh token
    /// (OAuth `invalid_grant`).
    #[error("invalid refresh token: {0}")]
    InvalidToken(#[from] TokenError),
    /// The refresh token had already been exchanged: the whole session has been revoked
    /// (OAuth `invalid_grant`).
    #[error("refresh token reused; session revoked")]
    Reused,
    /// The application's refresh hook refused the subject (deleted or disabled user); the
    /// session has been revoked (OAuth `invalid_grant`).
    #[error("subject refused on refresh")]
    Refused,
    /// No record of the token's session exists (it was never started through this state,
    /// or the state was lost); nothing can refresh it (OAuth `invalid_grant`).
    #[error("unknown session")]
    UnknownSession,
    /// The application's refresh hook failed; the token was not used up, so the client may
    /// retry (answer 503).
    #[error("refresh hook failed")]
    Hook(#[source] BoxError),
    /// The revocation state could not be read or written (fail closed; answer 503).
    #[error(transparent)]
    Revocation(#[from] RevocationError),
    /// The next pair could not be minted.
    #[error(transparent)]
    Issue(#[from] IssueError),
}

impl RefreshError {
    /// `true` when the client sent a bad grant (OAuth `invalid_grant`), `false` when the
    /// server could not complete the exchange.
    ///
    /// ```
    /// use tower_jwt_auth::session::RefreshError;
    ///
    /// assert!(RefreshError::Reused.is_invalid_grant());
    /// ```
    pub fn is_invalid_grant(&self) -> bool {
        match self {
            Self::InvalidToken(err) => *err != TokenError::RevocationUnavailable,
            Self::Reused | Self::Refused | Self::UnknownSession => true,
            _ => false,
        }
    }

    /// What the refresh outcome's event and counter record of this error.
    pub(crate) fn failure(&self) -> RefreshFailure<'_> {
        let reason = match self {
            Self::Reused => return RefreshFailure::Reused,
            Self::InvalidToken(err) => err.reason(),
            Self::Refused => "refused",
            Self::UnknownSession => "unknown_session",
            Self::Hook(_) => "hook_failed",
            Self::Revocation(_) => "revocation_unavailable",
            Self::Issue(_) => "issue_failed",
        };
        if self.is_invalid_grant() {
            RefreshFailure::InvalidGrant(reason)
        } else {
            RefreshFailure::Failed(reason, self)
        }
    }
}
