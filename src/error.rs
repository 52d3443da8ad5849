//! Error types, one per concern.
//!
//! No error ever contains a token, a secret or key material: they say *why*, never *what*.

use std::{error::Error as StdError, fmt};

use crate::{keys::Algorithm, verifier::TokenKind};

/// A boxed error from a revocation backend, kept with its source chain.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Why a key could not be loaded or a key set could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key material could not be parsed for the algorithm it was loaded for.
    #[error("invalid {algorithm} key: {reason}")]
    InvalidKey {
        /// The algorithm the key was loaded for.
        algorithm: Algorithm,
        /// What was wrong with it.
        reason: &'static str,
    },
    /// An HMAC secret shorter than the hash output (RFC 7518 §3.2).
    #[error("{algorithm} secret is {len} bytes; at least {min} are required")]
    SecretTooShort {
        /// The HMAC algorithm.
        algorithm: Algorithm,
        /// The length given.
        len: usize,
        /// The minimum length for this algorithm.
        min: usize,
    },
    /// The key's algorithm family cannot be used with the requested algorithm.
    #[error("a {family} key cannot be used for {algorithm}")]
    WrongAlgorithm {
        /// The requested algorithm.
        algorithm: Algorithm,
        /// The family of key that was given.
        family: &'static str,
    },
    /// A `kid` that is empty, too long or not printable ASCII.
    #[error("invalid key id: {0}")]
    InvalidKid(&'static str),
    /// Two keys of one set share a `kid`.
    #[error("duplicate key id {0:?}")]
    DuplicateKid(String),
    /// The system's random number generator failed.
    #[error("the system random number generator failed")]
    Rng,
}

/// Why the configuration given to a builder was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A lifetime of zero, or lifetimes in an impossible order.
    #[error("invalid lifetime: {0}")]
    Lifetime(&'static str),
    /// An empty `iss` or `aud` value.
    #[error("{0} must not be empty")]
    Empty(&'static str),
    /// A leeway larger than the documented maximum.
    #[error("leeway of {0} s exceeds the maximum of 300 s")]
    Leeway(u64),
    /// A maximum token length too small to hold any token.
    #[error("maximum token length {0} is below 256 bytes")]
    MaxTokenLen(usize),
    /// An interval or window outside its allowed range.
    #[error("invalid interval: {0}")]
    Interval(&'static str),
}

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
    /// use tower_jwt_auth::TokenError;
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
}

/// Why a token could not be issued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// The application's claims could not be serialised, or collide with a registered claim.
    #[error("claims could not be serialised: {0}")]
    Claims(#[source] serde_json::Error),
    /// The application's claims use a registered claim name (`sub`, `exp`, …).
    #[error("custom claim `{0}` collides with a registered claim")]
    ReservedClaim(String),
    /// An empty subject, a scope that is not a list of RFC 6749 scope tokens, or custom
    /// claims that are not a JSON object.
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),
    /// The signing operation or the random number generator failed.
    #[error("signing failed")]
    Crypto,
    /// The session record could not be written (fail closed: no token is handed out).
    #[error(transparent)]
    Revocation(#[from] RevocationError),
}

/// The revocation state could not be read or written; the operation failed closed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RevocationError {
    /// The persistent backend failed; the cause is kept as the source.
    #[error("revocation backend failed")]
    Backend(#[source] BoxError),
}

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
    /// use tower_jwt_auth::RefreshError;
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
}

/// A write-only wrapper that renders as `[redacted]` in `Debug` and `Display`.
pub(crate) struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}
