//! [`VerifyingKey`]: a public key or secret that verifies tokens.

use std::{fmt, sync::Arc};

use jsonwebtoken::{DecodingKey, DecodingKeyKind};

use crate::crypto::rsa_public_from_der;

use super::{
    Algorithm, KeyError,
    crypto::{Verify, ec_public, ed25519_public, hmac_key, hmac_kid, parse_pem, rsa_public},
    error::invalid,
    public::PublicParts,
};

fn check_kid(kid: &str) -> Result<(), KeyError> {
    if kid.is_empty() {
        return Err(KeyError::InvalidKid("empty"));
    }
    if kid.len() > 128 {
        return Err(KeyError::InvalidKid("longer than 128 bytes"));
    }
    if !kid
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
    {
        return Err(KeyError::InvalidKid(
            "only printable ASCII without quotes or backslashes is allowed",
        ));
    }
    Ok(())
}

/// A key that verifies tokens, pinned to one algorithm: a public key, or an HMAC secret.
///
/// Its `Debug` output never shows key material.
///
/// # Example
///
/// ```
/// use tower_jwt_auth::keys::{Algorithm, VerifyingKey};
///
/// let pem = "-----BEGIN PUBLIC KEY-----\n\
///            MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n\
///            -----END PUBLIC KEY-----\n";
/// let key = VerifyingKey::from_pem(Algorithm::EdDSA, pem.as_bytes())?;
/// assert_eq!(key.algorithm(), Algorithm::EdDSA);
/// # Ok::<(), tower_jwt_auth::keys::KeyError>(())
/// ```
#[derive(Clone)]
pub struct VerifyingKey {
    pub(super) kid: Arc<str>,
    pub(super) algorithm: Algorithm,
    pub(super) verify: Verify,
    pub(super) parts: PublicParts,
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("key", &crate::redact::Redacted)
            .finish()
    }
}

impl VerifyingKey {
    /// A key under its default `kid`: the RFC 7638 thumbprint of a public key, or an id
    /// derived from an HMAC secret with HMAC.
    /// `true` when `other` is the same key for the same algorithm (whatever its `kid`).
    pub(super) fn same_key(&self, other: &Self) -> bool {
        self.algorithm == other.algorithm
            && match (&self.verify, &other.verify) {
                // A PRF of each secret: equal exactly when the secrets are.
                (Verify::Hmac(a), Verify::Hmac(b)) => hmac_kid(a) == hmac_kid(b),
                (Verify::Public(_), Verify::Public(_)) => self.parts == other.parts,
                _ => false,
            }
    }

    pub(super) fn with_default_kid(
        algorithm: Algorithm,
        verify: Verify,
        parts: PublicParts,
    ) -> Self {
        let kid = match &verify {
            Verify::Hmac(key) => hmac_kid(key),
            Verify::Public(_) => parts.thumbprint().unwrap_or_default(),
        };
        Self {
            kid: kid.into(),
            algorithm,
            verify,
            parts,
        }
    }

    /// Loads a public key from PEM (`-----BEGIN PUBLIC KEY-----`, or
    /// `-----BEGIN RSA PUBLIC KEY-----` for RSA). The `kid` is the RFC 7638 thumbprint unless
    /// [`with_kid`](Self::with_kid) sets one.
    ///
    /// ```
    /// use tower_jwt_auth::keys::{Algorithm, VerifyingKey};
    ///
    /// assert!(VerifyingKey::from_pem(Algorithm::RS256, b"garbage").is_err());
    /// ```
    pub fn from_pem(algorithm: Algorithm, pem: &[u8]) -> Result<Self, KeyError> {
        let decoded = parse_pem(
            algorithm,
            pem,
            [
                DecodingKey::from_ed_pem,
                DecodingKey::from_ec_pem,
                DecodingKey::from_rsa_pem,
            ],
            "not a PEM public key of this algorithm",
        )?;
        let DecodingKeyKind::SecretOrDer(bytes) = decoded.kind() else {
            return Err(invalid(algorithm, "unexpected key encoding"));
        };
        let (verify, parts) = match algorithm {
            Algorithm::EdDSA => ed25519_public(bytes, algorithm)?,
            Algorithm::ES256 => ec_public(bytes, algorithm)?,
            _ => {
                let (n, e) = rsa_public_from_der(bytes)
                    .ok_or_else(|| invalid(algorithm, "not an RSA public key"))?;
                rsa_public(n, e, algorithm)?
            }
        };
        Ok(Self::with_default_kid(algorithm, verify, parts))
    }

    /// An HMAC secret kept only to verify (for example a rotated-out signing secret).
    /// Same length rules and default `kid` as [`SigningKey::from_secret`](super::SigningKey::from_secret).
    ///
    /// ```
    /// use tower_jwt_auth::{SigningKey, keys::{Algorithm, VerifyingKey}};
    ///
    /// let secret = [42u8; 64];
    /// let a = SigningKey::from_secret(Algorithm::HS512, &secret)?;
    /// let b = VerifyingKey::from_secret(Algorithm::HS512, &secret)?;
    /// assert_eq!(a.kid(), b.kid());
    /// # Ok::<(), tower_jwt_auth::keys::KeyError>(())
    /// ```
    pub fn from_secret(algorithm: Algorithm, secret: &[u8]) -> Result<Self, KeyError> {
        let key = hmac_key(algorithm, secret)?;
        Ok(Self::with_default_kid(
            algorithm,
            Verify::Hmac(Box::new(key)),
            PublicParts::Secret,
        ))
    }

    /// Replaces the `kid` (same rules as [`SigningKey::with_kid`](super::SigningKey::with_kid)).
    ///
    /// ```
    /// use tower_jwt_auth::keys::{Algorithm, VerifyingKey};
    ///
    /// let key = VerifyingKey::from_secret(Algorithm::HS256, &[1u8; 32])?.with_kid("old")?;
    /// assert_eq!(key.kid(), "old");
    /// # Ok::<(), tower_jwt_auth::keys::KeyError>(())
    /// ```
    pub fn with_kid(mut self, kid: impl Into<String>) -> Result<Self, KeyError> {
        let kid = kid.into();
        check_kid(&kid)?;
        self.kid = kid.into();
        Ok(self)
    }

    /// The key id that selects this key.
    ///
    /// ```
    /// use tower_jwt_auth::SigningKey;
    ///
    /// let key = SigningKey::generate_ed25519()?.verifying_key().with_kid("2026-11")?;
    /// assert_eq!(key.kid(), "2026-11");
    /// # Ok::<(), tower_jwt_auth::keys::KeyError>(())
    /// ```
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm this key is pinned to.
    ///
    /// ```
    /// use tower_jwt_auth::{SigningKey, keys::Algorithm};
    ///
    /// assert_eq!(SigningKey::generate_ed25519()?.verifying_key().algorithm(), Algorithm::EdDSA);
    /// # Ok::<(), tower_jwt_auth::keys::KeyError>(())
    /// ```
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Verifies `signature` over `message` with this key's pinned algorithm.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.verify.verify(message, signature)
    }
}
