//! [`VerifyingKey`]: a public key or secret that verifies tokens.

use std::{fmt, sync::Arc};

use crate::crypto::rsa_public_from_der;

use super::{
    Algorithm, KeyError,
    crypto::{
        SPKI_ED25519, SPKI_P256, SPKI_RSA, Verify, ec_public, ed25519_public, hmac_key, hmac_kid,
        pem_der, rsa_public, spki_key,
    },
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
        let refused = || invalid(algorithm, "not a PEM public key of this algorithm");
        let spki = |family: &[u8]| {
            let der = pem_der(pem, &["PUBLIC KEY"]).ok_or_else(refused)?;
            spki_key(&der, family)
                .map(<[u8]>::to_vec)
                .ok_or_else(refused)
        };
        let (verify, parts) = match algorithm {
            Algorithm::EdDSA => ed25519_public(&spki(SPKI_ED25519)?, algorithm)?,
            Algorithm::ES256 => ec_public(&spki(SPKI_P256)?, algorithm)?,
            Algorithm::RS256 | Algorithm::PS256 => {
                // PKCS#1 `RSAPublicKey`, or the same inside a `SubjectPublicKeyInfo` (whose
                // NULL parameters some encoders leave out).
                let pkcs1 = match pem_der(pem, &["RSA PUBLIC KEY"]) {
                    Some(der) => der.to_vec(),
                    None => spki(SPKI_RSA).or_else(|_| spki(&SPKI_RSA[..SPKI_RSA.len() - 2]))?,
                };
                let (n, e) = rsa_public_from_der(&pkcs1)
                    .ok_or_else(|| invalid(algorithm, "not an RSA public key"))?;
                rsa_public(n, e, algorithm)?
            }
            _ => {
                return Err(KeyError::WrongAlgorithm {
                    algorithm,
                    family: "PEM",
                });
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

#[cfg(test)]
mod tests {
    use base64::{Engine, engine::general_purpose::STANDARD};

    use super::*;

    const EC_PEM: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEksUztg0ONXdt13aRjdmqKI5g7Oop
Ql9yCwWQKM14hFGiOiXknN3O67VElBJ+pIaCtJXk5bi2GL+32/DSQVoOPg==
-----END PUBLIC KEY-----
";
    /// The thumbprint of `EC_PEM`'s key (RFC 7638, computed independently).
    const EC_THUMBPRINT: &str = "JVUY1f9mSYe-9JN2vMkFR5HIRty5qjupQKsSpRUV2Xo";
    const P384_PEM: &str = "-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEjiH4qkl3qkA5DEYM7HorFmO0JG/AcshO
Z3YJ0E0poPZILxvFEC9XZKwCsP2cTf/DHQr51+dbee3dHO2teaUFcnJ/abdCbgWa
/EdAMFYUZwzMrBNNZ1P5Vg0gnQhn7e3R
-----END PUBLIC KEY-----
";
    /// One 2048-bit RSA key as a `SubjectPublicKeyInfo` and as a PKCS#1 `RSAPublicKey`.
    const RSA_SPKI_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA2MwLeU8Ugr6C+0mJG6Pb
3oAGiGsLhcPhlaG1jYZmCoAQECcoKl+hd2QWo9VnbDi1OlRKpxlwq6yo1uvJ8iBT
VxmslNCoW+rEB1RJY1aJpCr6Ixh3tCEEp3KCosb9MZ5gWSzCdFrfv+TD16E0/2OE
SgXBeLfg5ZcmnXv5o7ywdmfAxu1oR9bL34cebJ1VlNWMUBTAdlDHDZAgiOFfh8it
0+/LA2CnBJ3AtpQdbfu/dlIhCaoEGXjk7Ueo5vLVI7464t2OWhmwFWWs71ct7cGA
83NnjS9a9ssnrBxf+znmb0xUITUy/6LOXBHf49xEOn3tkfdFr1m9EWuSKHCzyE3r
DQIDAQAB
-----END PUBLIC KEY-----
";
    const RSA_PKCS1_PEM: &str = "-----BEGIN RSA PUBLIC KEY-----
MIIBCgKCAQEA2MwLeU8Ugr6C+0mJG6Pb3oAGiGsLhcPhlaG1jYZmCoAQECcoKl+h
d2QWo9VnbDi1OlRKpxlwq6yo1uvJ8iBTVxmslNCoW+rEB1RJY1aJpCr6Ixh3tCEE
p3KCosb9MZ5gWSzCdFrfv+TD16E0/2OESgXBeLfg5ZcmnXv5o7ywdmfAxu1oR9bL
34cebJ1VlNWMUBTAdlDHDZAgiOFfh8it0+/LA2CnBJ3AtpQdbfu/dlIhCaoEGXjk
7Ueo5vLVI7464t2OWhmwFWWs71ct7cGA83NnjS9a9ssnrBxf+znmb0xUITUy/6LO
XBHf49xEOn3tkfdFr1m9EWuSKHCzyE3rDQIDAQAB
-----END RSA PUBLIC KEY-----
";
    /// The thumbprint of the RSA key above (RFC 7638, computed independently).
    const RSA_THUMBPRINT: &str = "1emNByOLH1e7fkBmPxT0pL7EjJi8XiasXbtu8gRefY0";

    fn pem(label: &str, der: &[u8]) -> String {
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            STANDARD.encode(der)
        )
    }

    fn der(pem: &str) -> Vec<u8> {
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        STANDARD.decode(body).unwrap()
    }

    #[test]
    fn ec_and_rsa_public_keys_load_from_pem_under_their_thumbprint() {
        let ec = VerifyingKey::from_pem(Algorithm::ES256, EC_PEM.as_bytes()).unwrap();
        assert_eq!(ec.kid(), EC_THUMBPRINT);
        for algorithm in [Algorithm::RS256, Algorithm::PS256] {
            for pem in [RSA_SPKI_PEM, RSA_PKCS1_PEM] {
                let rsa = VerifyingKey::from_pem(algorithm, pem.as_bytes()).unwrap();
                assert_eq!(rsa.kid(), RSA_THUMBPRINT);
                assert_eq!(rsa.algorithm(), algorithm);
            }
        }
        // RSA's NULL parameters left out of the `AlgorithmIdentifier` (lengths adjusted).
        let spki = der(RSA_SPKI_PEM);
        let mut without_null = vec![0x30, 0x82, 0x01, 0x20, 0x30, 0x0b];
        without_null.extend_from_slice(&spki[6..17]);
        without_null.extend_from_slice(&spki[19..]);
        let rsa = VerifyingKey::from_pem(
            Algorithm::RS256,
            pem("PUBLIC KEY", &without_null).as_bytes(),
        )
        .unwrap();
        assert_eq!(rsa.kid(), RSA_THUMBPRINT);
    }

    #[test]
    fn a_public_pem_of_another_family_curve_or_shape_is_refused() {
        let refused = |algorithm, pem: &str| {
            assert!(
                matches!(
                    VerifyingKey::from_pem(algorithm, pem.as_bytes()),
                    Err(KeyError::InvalidKey { .. })
                ),
                "{algorithm:?} {pem}"
            );
        };
        refused(Algorithm::ES256, P384_PEM);
        refused(Algorithm::EdDSA, EC_PEM);
        refused(Algorithm::RS256, EC_PEM);
        refused(Algorithm::ES256, RSA_SPKI_PEM);
        refused(Algorithm::ES256, RSA_PKCS1_PEM);
        refused(Algorithm::EdDSA, RSA_PKCS1_PEM);
        // The key's DER under a label of another kind.
        refused(Algorithm::ES256, &pem("PRIVATE KEY", &der(EC_PEM)));
        refused(Algorithm::RS256, &pem("RSA PUBLIC KEY", &der(RSA_SPKI_PEM)));
        refused(Algorithm::RS256, &pem("PUBLIC KEY", &der(RSA_PKCS1_PEM)));
        // Trailing bytes after the key.
        let mut trailing = der(EC_PEM);
        trailing.push(0);
        refused(Algorithm::ES256, &pem("PUBLIC KEY", &trailing));
        assert!(matches!(
            VerifyingKey::from_pem(Algorithm::HS256, EC_PEM.as_bytes()),
            Err(KeyError::WrongAlgorithm { .. })
        ));
    }
}
