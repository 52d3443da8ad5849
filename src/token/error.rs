//! [`TokenError`]: why a token was rejected.

use super::TokenKind;

/// Why a token was rejected by the [`Verifier`](crate::Verifier).
///
/// Each variant names one rule; [`TokenError::description`] gives a short text safe to send to
/// the client (it never contains the token).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Longer than the configured maximum; rejected before any decoding.
    #[error("token exceeds the maximum length")]
    TooLarge,
    /// Not a compact JWS, bad base64url, bad JSON, or a claim of the wrong type.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// The header names no `kid`.
    #[error("token header has no key id")]
    MissingKid,
    /// The `kid` names no key of the key set.
    #[error("unknown key id")]
    UnknownKey,
    /// The header's `alg` is not the algorithm the key of `kid` is pinned to (this includes
    /// `none` and HMAC-with-a-public-key confusion).
    #[error("algorithm not allowed for this key")]
    AlgorithmMismatch,
    /// The header carries a `crit` parameter; no JWS extension is supported.
    #[error("unsupported critical header")]
    UnsupportedCritical,
    /// The header's `typ` is not the one of the expected kind of token.
    #[error("wrong token type: expected {expected}")]
    WrongType {
        /// The kind the verifier expected.
        expected: TokenKind,
    },
    /// The signature does not verify with the key of `kid`.
    #[error("invalid signature")]
    InvalidSignature,
    /// A claim this crate requires is absent.
    #[error("missing required claim `{0}`")]
    MissingClaim(&'static str),
    /// `exp` is in the past (beyond the leeway).
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("token not yet valid")]
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    #[error("token issued in the future")]
    IssuedInFuture,
    /// `iss` is not the configured issuer.
    #[error("invalid issuer")]
    InvalidIssuer,
    /// `aud` does not contain the configured audience.
    #[error("invalid audience")]
    InvalidAudience,
    /// The token, its session or its subject has been revoked.
    #[error("token revoked")]
    Revoked,
    /// The revocation state is not available (a backend whose state has not been loaded),
    /// so no token can be trusted: a server-side condition, answered 503.
    #[error("revocation state unavailable")]
    RevocationUnavailable,
}

impl TokenError {
    /// A short description for `error_description`, safe to send to the client.
    ///
    /// ```
    /// use tower_jwt_auth::token::TokenError;
    ///
    /// assert_eq!(TokenError::Expired.description(), "token expired");
    /// ```
    pub fn description(&self) -> &'static str {
        match self {
            Self::TooLarge => "token too large",
            Self::Malformed(_) => "malformed token",
            Self::MissingKid | Self::UnknownKey => "unknown signing key",
            Self::AlgorithmMismatch => "algorithm not allowed",
            Self::UnsupportedCritical => "unsupported critical header",
            Self::WrongType { .. } => "wrong token type",
            Self::InvalidSignature => "invalid signature",
            Self::MissingClaim(_) => "missing required claim",
            Self::Expired => "token expired",
            Self::NotYetValid => "token not yet valid",
            Self::IssuedInFuture => "token issued in the future",
            Self::InvalidIssuer => "invalid issuer",
            Self::InvalidAudience => "invalid audience",
            Self::Revoked => "token revoked",
            Self::RevocationUnavailable => "revocation state unavailable",
        }
    }

    /// A stable, machine-readable code for this rule, for logs and metrics labels
    /// (`snake_case`; never contains the token).
    ///
    /// ```
    /// use tower_jwt_auth::token::TokenError;
    ///
    /// assert_eq!(TokenError::InvalidSignature.reason(), "invalid_signature");
    /// assert_eq!(TokenError::Malformed("bad base64").reason(), "malformed");
    /// ```
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLarge => "too_large",
            Self::Malformed(_) => "malformed",
            Self::MissingKid => "missing_kid",
            Self::UnknownKey => "unknown_key",
            Self::AlgorithmMismatch => "algorithm_mismatch",
            Self::UnsupportedCritical => "unsupported_critical",
            Self::WrongType { .. } => "wrong_type",
            Self::InvalidSignature => "invalid_signature",
            Self::MissingClaim(_) => "missing_claim",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::IssuedInFuture => "issued_in_future",
            Self::InvalidIssuer => "invalid_issuer",
            Self::InvalidAudience => "invalid_audience",
            Self::Revoked => "revoked",
            Self::RevocationUnavailable => "revocation_unavailable",
        }
    }
}
