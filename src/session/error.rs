//! [`StartError`] and [`RefreshError`]: why a session could not start or refresh.

use crate::{
    issuer::IssueError,
    store::{BoxError, RevocationError},
    telemetry::RefreshFailure,
    token::TokenError,
};

/// Why a session could not start (signup or login): nothing was handed out.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The first pair could not be minted (an empty subject, an invalid scope, claims that
    /// are not a JSON object or use a registered name, no signing key).
    #[error("the session's first pair could not be minted")]
    Issue(#[source] IssueError),
    /// The session record could not be written (fail closed; answer 503).
    #[error("the session record could not be written")]
    Store(#[source] RevocationError),
    /// The sessions require DPoP ([`DpopPolicy::Required`](crate::dpop::DpopPolicy::Required)) and
    /// the login had no proof (answer 400 `invalid_dpop_proof`).
    #[error("a DPoP proof is required")]
    DpopRequired,
}

impl StartError {
    /// `true` when the caller passed something invalid (subject, scope or claims), `false`
    /// when the server could not start the session.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// use tower_jwt_auth::{Issuer, KeySet, Sessions, SigningKey};
    ///
    /// let sessions = Sessions::new(Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?);
    /// let err = sessions.start("").await.unwrap_err();
    /// assert!(err.is_invalid_input());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            Self::Issue(
                IssueError::InvalidInput(_) | IssueError::ReservedClaim(_) | IssueError::Claims(_)
            )
        )
    }
}

/// Why a refresh exchange failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RefreshError {
    /// The refresh token is invalid, expired, revoked or not a refresh token
    /// (OAuth `invalid_grant`).
    #[error("invalid refresh token")]
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
    /// The session's application claims do not deserialise into the refresh hook's claims
    /// type (a server-side mismatch; the token was not used up; answer 500).
    #[error("the session's claims do not fit the refresh hook's claims type")]
    ClaimsType(#[source] serde_json::Error),
    /// The revocation state could not be read or written (fail closed; answer 503).
    #[error(transparent)]
    Revocation(#[from] RevocationError),
    /// The next pair could not be minted.
    #[error(transparent)]
    Issue(#[from] IssueError),
    /// The sessions require DPoP ([`DpopPolicy::Required`](crate::dpop::DpopPolicy::Required)) and
    /// the refresh had no proof; nothing changed (answer 400 `invalid_dpop_proof`).
    #[error("a DPoP proof is required")]
    DpopRequired,
    /// The refresh token is DPoP-bound and the refresh had no proof, or a proof of another
    /// key; the token was not used up and the session is untouched (OAuth `invalid_grant`).
    #[error("the refresh token is bound to another DPoP key")]
    DpopKeyMismatch,
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
            Self::Reused | Self::Refused | Self::UnknownSession | Self::DpopKeyMismatch => true,
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
            Self::ClaimsType(_) => "claims_type",
            Self::DpopRequired => "dpop_required",
            Self::DpopKeyMismatch => "dpop_key_mismatch",
        };
        // A missing proof is the client's fault too, not the server's.
        if self.is_invalid_grant() || matches!(self, Self::DpopRequired) {
            RefreshFailure::InvalidGrant(reason)
        } else {
            RefreshFailure::Failed(reason, self)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    /// An error chain printed link by link names each cause once.
    fn chain(err: &(dyn std::error::Error + 'static)) -> Vec<String> {
        let mut links = Vec::new();
        let mut next = Some(err);
        while let Some(link) = next {
            links.push(link.to_string());
            next = link.source();
        }
        links
    }

    #[test]
    fn errors_leave_their_cause_to_source() {
        let err = RefreshError::InvalidToken(TokenError::Expired);
        let links = chain(&err);
        assert_eq!(links.len(), 2, "{links:?}");
        assert!(!links[0].contains(&links[1]), "{links:?}");
        assert!(err.source().is_some());

        let serde = serde_json::from_str::<u8>("x").unwrap_err();
        let err = StartError::Issue(IssueError::Claims(serde));
        let links = chain(&err);
        assert_eq!(links.len(), 3, "{links:?}");
        for pair in links.windows(2) {
            assert!(!pair[0].contains(&pair[1]), "{links:?}");
        }
    }
}
