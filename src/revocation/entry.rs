//! The entries of the deny-list and the outcome of consuming a refresh token.

use serde::{Deserialize, Serialize};

/// One revocation, with the time (seconds since the epoch) after which it can be forgotten
/// because nothing it covers could still be presented.
///
/// ```
/// use tower_jwt_auth::RevocationEntry;
///
/// let entry = RevocationEntry::Session { sid: "s1".into(), expires_at: 1_700_086_400 };
/// assert_eq!(entry.expires_at(), 1_700_086_400);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RevocationEntry {
    /// One token, by `jti`, kept until that token's `exp`.
    Token {
        /// The token's `jti`.
        jti: String,
        /// The token's `exp`.
        expires_at: u64,
    },
    /// Every token of one session (a logout, or refresh-token reuse), kept until the
    /// session's absolute expiry.
    Session {
        /// The session id (`sid`).
        sid: String,
        /// The session's absolute expiry.
        expires_at: u64,
    },
    /// Every token of `sub` issued at or before `cutoff_ms` ("log out everywhere"), kept
    /// until no such token can still be valid.
    Subject {
        /// The subject (`sub`).
        sub: String,
        /// Milliseconds since the epoch; tokens issued at or before it are revoked.
        cutoff_ms: u64,
        /// The cut-off plus the longest token lifetime.
        expires_at: u64,
    },
}

impl RevocationEntry {
    /// The time after which the entry can be forgotten, in seconds since the epoch.
    pub fn expires_at(&self) -> u64 {
        match self {
            Self::Token { expires_at, .. }
            | Self::Session { expires_at, .. }
            | Self::Subject { expires_at, .. } => *expires_at,
        }
    }
}

/// What consuming a refresh token's `jti` found.
///
/// ```
/// use tower_jwt_auth::ConsumeOutcome;
///
/// let outcome = ConsumeOutcome::Reused { first_used_ms: 1_000, latest_in_session: true };
/// assert!(!outcome.is_first());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConsumeOutcome {
    /// This call consumed the token: it is the one winner.
    First,
    /// The token had been consumed before.
    Reused {
        /// When it was first consumed, in milliseconds since the epoch.
        first_used_ms: u64,
        /// `true` if no later refresh token of the same session has been consumed since,
        /// i.e. this is the session's immediate predecessor token.
        latest_in_session: bool,
    },
}

impl ConsumeOutcome {
    /// `true` for [`ConsumeOutcome::First`].
    pub fn is_first(&self) -> bool {
        matches!(self, Self::First)
    }
}
