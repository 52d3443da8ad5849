//! The entries of the deny-list.

use serde::{Deserialize, Serialize};

/// One revocation, with the time (seconds since the epoch) after which it can be forgotten
/// because nothing it covers could still be presented.
///
/// ```
/// use tower_jwt_auth::store::RevocationEntry;
///
/// let entry = RevocationEntry::Session { sid: "s1".into(), expires_at: 1_700_086_400 };
/// assert_eq!(entry.expires_at(), 1_700_086_400);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RevocationEntry {
    /// One token, by `jti`, kept until that token's `exp`.
    ///
    /// The crate no longer writes it: an access token is revoked through its session's
    /// watermark ([`Access`](Self::Access)), which costs one entry per session whatever the
    /// number of tokens revoked. It is still honoured, so that what an application or an
    /// earlier version recorded keeps its effect.
    Token {
        /// The token's `jti`.
        jti: String,
        /// The token's `exp`.
        expires_at: u64,
    },
    /// Every token of one session (a logout, or refresh-token reuse), kept until no token
    /// of the session can still be presented.
    Session {
        /// The session id (`sid`).
        sid: String,
        /// The session's absolute expiry.
        expires_at: u64,
    },
    /// The access tokens of session `sid` numbered `seq` or lower (their private claim
    /// `seq`: 0 in the session's first pair, one more in each refreshed pair): the session's
    /// *watermark*, recorded when one of its access tokens is revoked (RFC 7009 §2.1 lets a
    /// revocation cover other tokens of the same grant). The session's refresh token and the
    /// pairs minted after it stay valid. One entry per session: recorded again, the higher
    /// `seq` and the later forget-after time win, each on its own.
    Access {
        /// The session id (`sid`).
        sid: String,
        /// The highest revoked sequence number.
        seq: u64,
        /// When no access token of the session numbered `seq` or lower can still verify.
        expires_at: u64,
    },
    /// Every session of `sub` started at or before `cutoff_ms` ("log out everywhere"),
    /// with all its tokens, kept until no such token can still be presented.
    Subject {
        /// The subject (`sub`).
        sub: String,
        /// Milliseconds since the epoch; sessions started (`auth_time`) at or before it are
        /// revoked.
        cutoff_ms: u64,
        /// The cut-off plus the absolute session lifetime and the leeway.
        expires_at: u64,
    },
}

impl RevocationEntry {
    /// The time after which the entry can be forgotten, in seconds since the epoch.
    pub fn expires_at(&self) -> u64 {
        match self {
            Self::Token { expires_at, .. }
            | Self::Session { expires_at, .. }
            | Self::Access { expires_at, .. }
            | Self::Subject { expires_at, .. } => *expires_at,
        }
    }
}
