//! Configuration shared by the builders: [`ConfigError`], and the verification policy that
//! issuing and verifying share.

use std::{sync::Arc, time::Duration};

use crate::{
    clock::{Clock, SystemClock},
    token::DEFAULT_MAX_TOKEN_LEN,
};

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
}

/// The largest leeway a builder accepts.
pub(crate) const MAX_LEEWAY: Duration = Duration::from_secs(300);

/// The verification policy that issuing and verifying share: `iss`, `aud`, clock, leeway and
/// the size cap. [`IssuerBuilder`](crate::issuer::IssuerBuilder) and
/// [`VerifierBuilder`](crate::token::VerifierBuilder) both hold one, configured through the
/// same knobs (`policy_knobs!`), and check it in one place.
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

/// The policy knobs of a builder with a `policy: Policy` field; `$example` builds one from
/// `keys` in the doctests.
macro_rules! policy_knobs {
    ($builder:ty, $example:literal) => {
        impl $builder {
            /// The `iss` value: written into every issued token, and required of every
            /// verified one (a token without `iss` then fails).
            ///
            /// ```
            /// # use tower_jwt_auth::{Issuer, KeySet, SigningKey, Verifier};
            /// # let keys = KeySet::new(SigningKey::generate_ed25519()?);
            #[doc = concat!("let built = ", $example, ".with_issuer(\"https://auth.example\").build()?;")]
            /// # let _ = built;
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
                self.policy.issuer = Some(issuer.into());
                self
            }

            /// The audience: written as `aud` into every issued token, and required among the
            /// `aud` of every verified one (a token without `aud` then fails).
            ///
            /// ```
            /// # use tower_jwt_auth::{Issuer, KeySet, SigningKey, Verifier};
            /// # let keys = KeySet::new(SigningKey::generate_ed25519()?);
            #[doc = concat!("let built = ", $example, ".with_audience(\"api\").build()?;")]
            /// # let _ = built;
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
                self.policy.audience = Some(audience.into());
                self
            }

            /// The clock every time written and checked is read from (default the system
            /// clock); `clock::MockClock` (feature `test-util`) in tests.
            ///
            /// ```
            /// # use tower_jwt_auth::{Issuer, KeySet, SigningKey, Verifier, clock::MockClock};
            /// # let keys = KeySet::new(SigningKey::generate_ed25519()?);
            #[doc = concat!("let built = ", $example, ".with_clock(MockClock::at_secs(1_700_000_000)).build()?;")]
            /// # let _ = built;
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn with_clock(mut self, clock: impl $crate::clock::Clock) -> Self {
                self.policy.clock = std::sync::Arc::new(clock);
                self
            }

            /// Tolerance for clock skew on `exp`, `nbf` and `iat` (default 0, at most 300 s).
            ///
            /// Risk: every second of leeway is a second an expired token still works. Keep it
            /// to the skew you actually have between machines (a few seconds).
            ///
            /// ```
            /// # use std::time::Duration;
            /// # use tower_jwt_auth::{Issuer, KeySet, SigningKey, Verifier};
            /// # let keys = KeySet::new(SigningKey::generate_ed25519()?);
            #[doc = concat!("let built = ", $example, ".with_leeway(Duration::from_secs(5)).build()?;")]
            /// # let _ = built;
            #[doc = concat!("# let keys = KeySet::new(SigningKey::generate_ed25519()?);\nassert!(", $example, ".with_leeway(Duration::from_secs(301)).build().is_err());")]
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn with_leeway(mut self, leeway: std::time::Duration) -> Self {
                self.policy.leeway = leeway;
                self
            }

            /// Tokens longer than `max` bytes are rejected before any decoding (default 8 KiB,
            /// at least 256).
            ///
            /// ```
            /// # use tower_jwt_auth::{Issuer, KeySet, SigningKey, Verifier};
            /// # let keys = KeySet::new(SigningKey::generate_ed25519()?);
            #[doc = concat!("assert!(", $example, ".with_max_token_len(100).build().is_err());")]
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn with_max_token_len(mut self, max: usize) -> Self {
                self.policy.max_len = max;
                self
            }
        }
    };
}
pub(crate) use policy_knobs;

/// Builder methods that each set one `Duration` field, with their documentation and a
/// doctest: `$setup` is the doctest's opening (it defines `builder`), `$close` its end.
macro_rules! duration_knobs {
    (
        $builder:ty, $setup:literal, $close:literal;
        $( $(#[$doc:meta])* $name:ident => $field:ident, $example:literal; )*
    ) => {
        impl $builder {
            $(
                $(#[$doc])*
                ///
                #[doc = concat!(
                    "```\n", $setup, "\nlet builder = builder.", stringify!($name),
                    "(std::time::Duration::from_secs(", $example, "));\n", $close, "\n```"
                )]
                pub fn $name(mut self, value: ::std::time::Duration) -> Self {
                    self.$field = value;
                    self
                }
            )*
        }
    };
}
#[allow(unused_imports)]
pub(crate) use duration_knobs;
