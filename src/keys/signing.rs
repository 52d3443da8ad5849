//! [`SigningKey`]: a private key or secret that signs tokens.

use std::fmt;

use crate::crypto::{
    Ed25519KeyPair, KeyPair, RsaKeyPair, SystemRandom, ecdsa_from_pkcs8, hmac, rsa_public_of,
    rsa_signature_len,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use super::{
    Algorithm, KeyError, VerifyingKey,
    crypto::{Sign, Verify, ec_public, ed25519_public, pem_der, rsa_public},
    error::invalid,
};

/// A private (or secret) key that signs tokens, pinned to one algorithm.
///
/// Its `Debug` output never shows key material.
///
/// # Example
///
/// ```
/// use tower_jwt_auth::{SigningKey, keys::Algorithm};
///
/// let key = SigningKey::generate_ed25519()?;
/// assert_eq!(key.algorithm(), Algorithm::EdDSA);
///
/// let hmac = SigningKey::from_secret(Algorithm::HS256, &[7u8; 32])?.with_kid("2026-11")?;
/// assert_eq!(hmac.kid(), "2026-11");
/// # Ok::<(), tower_jwt_auth::keys::KeyError>(())
/// ```
pub struct SigningKey {
    sign: Sign,
    verifying: VerifyingKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.verifying.kid)
            .field("algorithm", &self.verifying.algorithm)
            .field("key", &crate::redact::Redacted)
            .finish()
    }
}

impl SigningKey {
    /// Generates a new Ed25519 key from the system's CSPRNG; its `kid` is its RFC 7638
    /// thumbprint.
    ///
    /// ```
    /// use tower_jwt_auth::SigningKey;
    ///
    /// let a = SigningKey::generate_ed25519()?;
    /// let b = SigningKey::generate_ed25519()?;
    /// assert_ne!(a.kid(), b.kid());
    /// # Ok::<(), tower_jwt_auth::keys::KeyError>(())
    /// ```
    pub fn generate_ed25519() -> Result<Self, KeyError> {
        let doc =
            Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| KeyError::Rng)?;
        Self::from_der(Algorithm::EdDSA, doc.as_ref())
    }

    /// Loads a private key from PEM.
    ///
    /// `EdDSA` and `ES256` take PKCS#8 (`-----BEGIN PRIVATE KEY-----`, as
    /// `openssl genpkey -algorithm ed25519` writes it); `RS256` and `PS256` take PKCS#1 or
    /// PKCS#8. HMAC algorithms take [`SigningKey::from_secret`] instead. The `kid` is the key's
    /// RFC 7638 thumbprint unless [`with_kid`](Self::with_kid) sets one.
    ///
    /// ```
    /// use tower_jwt_auth::{SigningKey, keys::Algorithm};
    ///
    /// let pem = "-----BEGIN PRIVATE KEY-----\n\
    ///            MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n\
    ///            -----END PRIVATE KEY-----\n";
    /// let key = SigningKey::from_pem(Algorithm::EdDSA, pem.as_bytes())?;
    /// assert_eq!(key.kid(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    /// # Ok::<(), tower_jwt_auth::keys::KeyError>(())
    /// ```
    pub fn from_pem(algorithm: Algorithm, pem: &[u8]) -> Result<Self, KeyError> {
        let labels: &[&str] = match algorithm {
            Algorithm::EdDSA | Algorithm::ES256 => &["PRIVATE KEY"],
            Algorithm::RS256 | Algorithm::PS256 => &["PRIVATE KEY", "RSA PRIVATE KEY"],
            _ => {
                return Err(KeyError::WrongAlgorithm {
                    algorithm,
                    family: "PEM",
                });
            }
        };
        // Decoded here rather than by a PEM library, so that no copy of the key outlives
        // this call: the buffers are wiped on drop.
        let der = pem_der(pem, labels)
            .ok_or_else(|| invalid(algorithm, "not a PEM private key of this algorithm"))?;
        Self::from_der(algorithm, &der)
    }

    /// Loads a private key from DER: PKCS#8 for `EdDSA` and `ES256`, PKCS#8 or PKCS#1 for
    /// `RS256`/`PS256`.
    ///
    /// ```
    /// use tower_jwt_auth::{SigningKey, keys::Algorithm};
    ///
    /// assert!(SigningKey::from_der(Algorithm::ES256, b"not a key").is_err());
    /// ```
    pub fn from_der(algorithm: Algorithm, der: &[u8]) -> Result<Self, KeyError> {
        let (sign, (verify, parts)) = match algorithm {
            Algorithm::EdDSA => {
                let pair = Ed25519KeyPair::from_pkcs8(der)
                    .or_else(|_| Ed25519KeyPair::from_pkcs8_maybe_unchecked(der))
                    .map_err(|_| invalid(algorithm, "not a PKCS#8 Ed25519 private key"))?;
                let public = ed25519_public(pair.public_key().as_ref(), algorithm)?;
                (Sign::Ed25519(pair), public)
            }
            Algorithm::ES256 => {
                let pair = ecdsa_from_pkcs8(der)
                    .ok_or_else(|| invalid(algorithm, "not a PKCS#8 P-256 private key"))?;
                let public = ec_public(pair.public_key().as_ref(), algorithm)?;
                (Sign::Ecdsa(pair), public)
            }
            Algorithm::RS256 | Algorithm::PS256 => {
                let Some((_, encoding)) = algorithm.rsa_params() else {
                    return Err(invalid(algorithm, "unsupported RSA algorithm"));
                };
                let pair = RsaKeyPair::from_pkcs8(der)
                    .or_else(|_| RsaKeyPair::from_der(der))
                    .map_err(|_| invalid(algorithm, "not a PKCS#8 or PKCS#1 RSA private key"))?;
                let (n, e) = rsa_public_of(&pair);
                let public = rsa_public(n, e, algorithm)?;
                (Sign::Rsa(pair, encoding), public)
            }
            _ => {
                return Err(KeyError::WrongAlgorithm {
                    algorithm,
                    family: "DER",
                });
            }
        };
        Ok(Self {
            sign,
            verifying: VerifyingKey::with_default_kid(algorithm, verify, parts),
        })
    }

    /// An HMAC key from a raw secret (use a random secret, not a password). The secret must be
    /// at least as long as the hash output: 32, 48 or 64 bytes. The default `kid` is derived
    /// from the secret with HMAC and reveals nothing about it.
    ///
    /// ```
    /// use tower_jwt_auth::{SigningKey, keys::{Algorithm, KeyError}};
    ///
    /// assert!(matches!(
    ///     SigningKey::from_secret(Algorithm::HS256, b"too short"),
    ///     Err(KeyError::SecretTooShort { min: 32, .. })
    /// ));
    /// ```
    pub fn from_secret(algorithm: Algorithm, secret: &[u8]) -> Result<Self, KeyError> {
        let verifying = VerifyingKey::from_secret(algorithm, secret)?;
        let Verify::Hmac(key) = &verifying.verify else {
            return Err(invalid(algorithm, "not an HMAC secret"));
        };
        Ok(Self {
            sign: Sign::Hmac(key.clone()),
            verifying,
        })
    }

    /// Replaces the `kid` (1 to 128 printable ASCII characters, no quotes or backslashes).
    ///
    /// ```
    /// use tower_jwt_auth::SigningKey;
    ///
    /// let key = SigningKey::generate_ed25519()?.with_kid("primary")?;
    /// assert_eq!(key.kid(), "primary");
    /// assert!(SigningKey::generate_ed25519()?.with_kid("").is_err());
    /// # Ok::<(), tower_jwt_auth::keys::KeyError>(())
    /// ```
    pub fn with_kid(mut self, kid: impl Into<String>) -> Result<Self, KeyError> {
        self.verifying = self.verifying.with_kid(kid)?;
        Ok(self)
    }

    /// The key id written in the `kid` header of every token this key signs.
    ///
    /// ```
    /// use tower_jwt_auth::SigningKey;
    ///
    /// let key = SigningKey::generate_ed25519()?.with_kid("2026-11")?;
    /// assert_eq!(key.kid(), "2026-11");
    /// # Ok::<(), tower_jwt_auth::keys::KeyError>(())
    /// ```
    pub fn kid(&self) -> &str {
        &self.verifying.kid
    }

    /// The algorithm this key is pinned to.
    ///
    /// ```
    /// use tower_jwt_auth::{SigningKey, keys::Algorithm};
    ///
    /// assert_eq!(SigningKey::generate_ed25519()?.algorithm(), Algorithm::EdDSA);
    /// # Ok::<(), tower_jwt_auth::keys::KeyError>(())
    /// ```
    pub fn algorithm(&self) -> Algorithm {
        self.verifying.algorithm
    }

    /// The key that verifies what this key signs.
    ///
    /// ```
    /// use tower_jwt_auth::SigningKey;
    ///
    /// let key = SigningKey::generate_ed25519()?;
    /// assert_eq!(key.verifying_key().kid(), key.kid());
    /// # Ok::<(), tower_jwt_auth::keys::KeyError>(())
    /// ```
    pub fn verifying_key(&self) -> VerifyingKey {
        self.verifying.clone()
    }

    /// Signs `message`, appending the base64url signature to `out`.
    pub(crate) fn sign_into(&self, message: &[u8], out: &mut String) -> Result<(), ()> {
        match &self.sign {
            Sign::Hmac(key) => URL_SAFE_NO_PAD.encode_string(hmac::sign(key, message), out),
            Sign::Ed25519(pair) => URL_SAFE_NO_PAD.encode_string(pair.sign(message), out),
            Sign::Ecdsa(pair) => {
                let sig = pair.sign(&SystemRandom::new(), message).map_err(|_| ())?;
                URL_SAFE_NO_PAD.encode_string(sig, out);
            }
            Sign::Rsa(pair, encoding) => {
                let mut sig = vec![0; rsa_signature_len(pair)];
                pair.sign(*encoding, &SystemRandom::new(), message, &mut sig)
                    .map_err(|_| ())?;
                URL_SAFE_NO_PAD.encode_string(sig, out);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeySet;

    #[test]
    fn debug_never_shows_key_material() {
        let secret = [0xABu8; 32];
        let key = SigningKey::from_secret(Algorithm::HS256, &secret).unwrap();
        let text = format!("{key:?} {:?}", key.verifying_key());
        let text = format!("{text} {:?}", KeySet::new(key));
        assert!(text.contains("[redacted]"));
        assert!(!text.contains("171"), "{text}");
        assert!(!text.to_lowercase().contains("abab"), "{text}");
    }

    #[test]
    fn hmac_secret_length_is_enforced_per_algorithm() {
        for (alg, min) in [
            (Algorithm::HS256, 32),
            (Algorithm::HS384, 48),
            (Algorithm::HS512, 64),
        ] {
            assert!(matches!(
                SigningKey::from_secret(alg, &vec![1; min - 1]),
                Err(KeyError::SecretTooShort { .. })
            ));
            assert!(SigningKey::from_secret(alg, &vec![1; min]).is_ok());
        }
        assert!(matches!(
            SigningKey::from_secret(Algorithm::EdDSA, &[1; 64]),
            Err(KeyError::WrongAlgorithm { .. })
        ));
    }

    #[test]
    fn generated_key_round_trips_a_signature() {
        let key = SigningKey::generate_ed25519().unwrap();
        let mut sig = String::new();
        key.sign_into(b"message", &mut sig).unwrap();
        let raw = URL_SAFE_NO_PAD.decode(sig).unwrap();
        assert!(key.verifying_key().verify(b"message", &raw));
        assert!(!key.verifying_key().verify(b"messagf", &raw));
    }

    #[test]
    fn kid_is_rfc7638_thumbprint() {
        // RFC 8037 appendix A.3: the thumbprint of the A.2 public key.
        let pem = "-----BEGIN PUBLIC KEY-----\n\
                   MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n\
                   -----END PUBLIC KEY-----\n";
        let key = VerifyingKey::from_pem(Algorithm::EdDSA, pem.as_bytes()).unwrap();
        assert_eq!(key.kid(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    }
}
