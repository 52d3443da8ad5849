//! [`IssueError`]: why a token could not be issued.

/// Why a token could not be issued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// The application's claims could not be serialised, or collide with a registered claim.
    #[error("claims could not be serialised")]
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
    /// The key set has no signing key.
    #[error("the key set has no signing key")]
    NoSigningKey,
}
