//! [`Algorithm`]: the JWS algorithms keys are pinned to.

use std::{fmt, str::FromStr};

use super::KeyError;

use crate::crypto::{
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RSA_PSS_2048_8192_SHA256, RSA_PSS_SHA256,
    RsaEncoding, RsaParameters, hmac,
};

/// A JWS signature algorithm this crate signs and verifies with.
///
/// `EdDSA` (Ed25519) is the recommended default: small keys, small signatures, fast, and no
/// nonce to get wrong. `none` does not exist here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// Ed25519 (RFC 8037).
    EdDSA,
    /// ECDSA with P-256 and SHA-256.
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (keys of 2048 bits or more).
    RS256,
    /// RSASSA-PSS with SHA-256 (keys of 2048 bits or more).
    PS256,
    /// HMAC with SHA-256 (secret of at least 32 bytes).
    HS256,
    /// HMAC with SHA-384 (secret of at least 48 bytes).
    HS384,
    /// HMAC with SHA-512 (secret of at least 64 bytes).
    HS512,
}

impl Algorithm {
    /// Every algorithm, in the order of the enum.
    const ALL: [Self; 7] = [
        Self::EdDSA,
        Self::ES256,
        Self::RS256,
        Self::PS256,
        Self::HS256,
        Self::HS384,
        Self::HS512,
    ];

    /// The JOSE name of the algorithm, as in the `alg` header.
    ///
    /// ```
    /// use tower_jwt_auth::keys::Algorithm;
    ///
    /// assert_eq!(Algorithm::EdDSA.as_str(), "EdDSA");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::EdDSA => "EdDSA",
            Self::ES256 => "ES256",
            Self::RS256 => "RS256",
            Self::PS256 => "PS256",
            Self::HS256 => "HS256",
            Self::HS384 => "HS384",
            Self::HS512 => "HS512",
        }
    }

    /// `true` for the HMAC (symmetric) algorithms.
    ///
    /// ```
    /// use tower_jwt_auth::keys::Algorithm;
    ///
    /// assert!(Algorithm::HS256.is_hmac());
    /// assert!(!Algorithm::EdDSA.is_hmac());
    /// ```
    pub const fn is_hmac(self) -> bool {
        matches!(self, Self::HS256 | Self::HS384 | Self::HS512)
    }

    pub(super) fn hmac_algorithm(self) -> Option<(hmac::Algorithm, usize)> {
        match self {
            Self::HS256 => Some((hmac::HMAC_SHA256, 32)),
            Self::HS384 => Some((hmac::HMAC_SHA384, 48)),
            Self::HS512 => Some((hmac::HMAC_SHA512, 64)),
            _ => None,
        }
    }

    pub(super) fn rsa_params(self) -> Option<(&'static RsaParameters, &'static dyn RsaEncoding)> {
        match self {
            Self::RS256 => Some((&RSA_PKCS1_2048_8192_SHA256, &RSA_PKCS1_SHA256)),
            Self::PS256 => Some((&RSA_PSS_2048_8192_SHA256, &RSA_PSS_SHA256)),
            _ => None,
        }
    }
}

/// Parses a JOSE algorithm name, exactly as in the `alg` header (case-sensitive).
///
/// ```
/// use tower_jwt_auth::keys::Algorithm;
///
/// assert_eq!("ES256".parse::<Algorithm>()?, Algorithm::ES256);
/// assert!("none".parse::<Algorithm>().is_err());
/// assert!("es256".parse::<Algorithm>().is_err());
/// # Ok::<(), tower_jwt_auth::keys::KeyError>(())
/// ```
impl FromStr for Algorithm {
    type Err = KeyError;

    fn from_str(name: &str) -> Result<Self, KeyError> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == name)
            .ok_or(KeyError::UnsupportedAlgorithm)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
