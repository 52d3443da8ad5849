//! Configuration shared by the builders: [`ConfigError`], and the verification policy that
//! issuing and verifying share.

use std::{sync::Arc, time::Duration};

use crate::clock::{Clock, SystemClock};

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
    /// Settings that contradict each other.
    #[error("conflicting settings: {0}")]
    Conflict(&'static str),
    /// A name (such as a table prefix) that is not allowed.
    #[error("invalid name: {0}")]
    Name(&'static str),
    /// A count limit outside its allowed range.
    #[error("invalid limit: {0}")]
    Limit(&'static str),
}

// Public as `token::DEFAULT_MAX_TOKEN_LEN`; defined here, where the policy defaults are.
/// The default maximum token length: 8 KiB.
///
/// ```
/// assert_eq!(tower_jwt_auth::token::DEFAULT_MAX_TOKEN_LEN, 8 * 1024);
/// ```
pub const DEFAULT_MAX_TOKEN_LEN: usize = 8 * 1024;

/// The largest leeway a builder accepts.
pub(crate) const MAX_LEEWAY: Duration = Duration::from_secs(300);

/// The verification policy that issuing and verifying share: `iss`, `aud`, clock, leeway and
/// the size cap. [`IssuerBuilder`](crate::issuer::IssuerBuilder) and
/// [`VerifierBuilder`](crate::token::VerifierBuilder) both hold one, configured through
/// methods of the same names (`with_issuer`, `with_audience`, `with_clock`, `with_leeway`,
/// `with_max_token_len`), and check it in one place.
#[derive(Clone, Debug)]
pub(crate) struct Policy {
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) issuer: Option<String>,
    pub(crate) audience: Option<String>,
    pub(crate) leeway: Duration,
    pub(crate) max_len: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            issuer: None,
            audience: None,
            leeway: Duration::ZERO,
            max_len: DEFAULT_MAX_TOKEN_LEN,
        }
    }
}

impl Policy {
    /// Refuses a leeway over [`MAX_LEEWAY`], a size cap under 256 bytes and an empty `iss` or
    /// `aud`.
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        if self.leeway > MAX_LEEWAY {
            return Err(ConfigError::Leeway(self.leeway.as_secs()));
        }
        if self.max_len < 256 {
            return Err(ConfigError::MaxTokenLen(self.max_len));
        }
        if self.issuer.as_deref() == Some("") {
            return Err(ConfigError::Empty("issuer"));
        }
        if self.audience.as_deref() == Some("") {
            return Err(ConfigError::Empty("audience"));
        }
        Ok(())
    }
}
