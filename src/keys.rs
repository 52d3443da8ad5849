//! Keys, algorithms and the key set: signing key, verification keys by `kid`, JWKS export.
//!
//! Every key is pinned to exactly one [`Algorithm`] when it is loaded. A token is only ever
//! verified with the algorithm its key is pinned to, whatever its header says, so `alg: none`,
//! HMAC-with-a-public-key confusion and algorithm substitution cannot happen. Keys are parsed
//! once, when they are loaded; verifying a token does no key parsing and no allocation.

use std::{fmt, sync::Arc};

use aws_lc_rs::{
    digest,
    encoding::AsDer,
    hmac,
    rand::SystemRandom,
    rsa,
    signature::{
        self as sig, EcdsaKeyPair, Ed25519KeyPair, KeyPair, ParsedPublicKey, RsaEncoding,
        RsaKeyPair, RsaPublicKeyComponents,
    },
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{
    DecodingKey, DecodingKeyKind, EncodingKey,
    jwk::{
        AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters,
        EllipticCurveKeyType, Jwk, JwkSet, KeyAlgorithm, KeyOperations, OctetKeyPairParameters,
        OctetKeyPairType, PublicKeyUse, RSAKeyParameters, RSAKeyType,
    },
};

use crate::error::KeyError;

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
    /// The JOSE name of the algorithm, as in the `alg` header.
    ///
    /// ```
    /// use tower_jwt_auth::Algorithm;
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
    /// use tower_jwt_auth::Algorithm;
    ///
    /// assert!(Algorithm::HS256.is_hmac());
    /// assert!(!Algorithm::EdDSA.is_hmac());
    /// ```
    pub const fn is_hmac(self) -> bool {
        matches!(self, Self::HS256 | Self::HS384 | Self::HS512)
    }

    fn hmac_algorithm(self) -> Option<(hmac::Algorithm, usize)> {
        match self {
            Self::HS256 => Some((hmac::HMAC_SHA256, 32)),
            Self::HS384 => Some((hmac::HMAC_SHA384, 48)),
            Self::HS512 => Some((hmac::HMAC_SHA512, 64)),
            _ => None,
        }
    }

    fn rsa_params(self) -> Option<(&'static sig::RsaParameters, &'static dyn RsaEncoding)> {
        match self {
            Self::RS256 => Some((&sig::RSA_PKCS1_2048_8192_SHA256, &sig::RSA_PKCS1_SHA256)),
            Self::PS256 => Some((&sig::RSA_PSS_2048_8192_SHA256, &sig::RSA_PSS_SHA256)),
            _ => None,
        }
    }

    fn jwk_algorithm(self) -> KeyAlgorithm {
        match self {
            Self::EdDSA => KeyAlgorithm::EdDSA,
            Self::ES256 => KeyAlgorithm::ES256,
            Self::RS256 => KeyAlgorithm::RS256,
            Self::PS256 => KeyAlgorithm::PS256,
            Self::HS256 => KeyAlgorithm::HS256,
            Self::HS384 => KeyAlgorithm::HS384,
            Self::HS512 => KeyAlgorithm::HS512,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The public half of a key, for the JWKS document and the RFC 7638 thumbprint.
#[derive(Clone)]
enum PublicParts {
    Okp {
        x: Vec<u8>,
    },
    Ec {
        x: Vec<u8>,
        y: Vec<u8>,
    },
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// HMAC secrets are never exported.
    Secret,
}

impl PublicParts {
    /// RFC 7638 canonical JSON: required members only, in lexicographic order.
    fn thumbprint(&self) -> Option<String> {
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let canonical = match self {
            Self::Okp { x } => format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, b64(x)),
            Self::Ec { x, y } => format!(
                r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
                b64(x),
                b64(y)
            ),
            Self::Rsa { n, e } => {
                format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, b64(e), b64(n))
            }
            Self::Secret => return None,
        };
        Some(b64(
            digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref()
        ))
    }

    fn to_jwk(&self, kid: &str, alg: Algorithm) -> Option<Jwk> {
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let algorithm = match self {
            Self::Okp { x } => AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                key_type: OctetKeyPairType::OctetKeyPair,
                curve: EllipticCurve::Ed25519,
                x: b64(x),
            }),
            Self::Ec { x, y } => AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
                key_type: EllipticCurveKeyType::EC,
                curve: EllipticCurve::P256,
                x: b64(x),
                y: b64(y),
            }),
            Self::Rsa { n, e } => AlgorithmParameters::RSA(RSAKeyParameters {
                key_type: RSAKeyType::RSA,
                n: b64(n),
                e: b64(e),
            }),
            Self::Secret => return None,
        };
        Some(Jwk {
            common: CommonParameters {
                public_key_use: Some(PublicKeyUse::Signature),
                key_algorithm: Some(alg.jwk_algorithm()),
                key_id: Some(kid.to_owned()),
                ..CommonParameters::default()
            },
            algorithm,
        })
    }
}

/// A prepared verification key.
#[derive(Clone)]
enum Verify {
    /// Boxed: an HMAC context is over a kilobyte.
    Hmac(Box<hmac::Key>),
    Public(ParsedPublicKey),
}

impl Verify {
    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            // `hmac::verify` compares in constant time.
            Self::Hmac(key) => hmac::verify(key, message, signature).is_ok(),
            Self::Public(key) => key.verify_sig(message, signature).is_ok(),
        }
    }
}

enum Sign {
    Hmac(Box<hmac::Key>),
    Ed25519(Ed25519KeyPair),
    Ecdsa(EcdsaKeyPair),
    Rsa(RsaKeyPair, &'static dyn RsaEncoding),
}

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

fn invalid(algorithm: Algorithm, reason: &'static str) -> KeyError {
    KeyError::InvalidKey { algorithm, reason }
}

fn hmac_key(algorithm: Algorithm, secret: &[u8]) -> Result<hmac::Key, KeyError> {
    let Some((hmac_alg, min)) = algorithm.hmac_algorithm() else {
        return Err(KeyError::WrongAlgorithm {
            algorithm,
            family: "HMAC secret",
        });
    };
    if secret.len() < min {
        return Err(KeyError::SecretTooShort {
            algorithm,
            len: secret.len(),
            min,
        });
    }
    Ok(hmac::Key::new(hmac_alg, secret))
}

/// A key id for an HMAC secret that reveals nothing about it: a PRF of the secret.
fn hmac_kid(key: &hmac::Key) -> String {
    let tag = hmac::sign(key, b"tower-jwt-auth key id");
    let bytes = tag.as_ref();
    URL_SAFE_NO_PAD.encode(bytes.get(..16).unwrap_or(bytes))
}

fn ec_parts(point: &[u8], algorithm: Algorithm) -> Result<PublicParts, KeyError> {
    match point {
        [4, rest @ ..] if rest.len() == 64 => {
            let (x, y) = rest.split_at(32);
            Ok(PublicParts::Ec {
                x: x.to_vec(),
                y: y.to_vec(),
            })
        }
        _ => Err(invalid(algorithm, "not an uncompressed P-256 public key")),
    }
}

/// The RSA modulus sizes the verification parameters accept (`RSA_*_2048_8192_*`).
const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=8192;

fn rsa_parts(
    components: RsaPublicKeyComponents<Vec<u8>>,
    algorithm: Algorithm,
) -> Result<PublicParts, KeyError> {
    let n = components.n;
    let mut significant = n.iter().skip_while(|b| **b == 0);
    let bits = significant.next().map_or(0, |first| {
        (significant.count() + 1) * 8 - first.leading_zeros() as usize
    });
    if bits < *RSA_BITS.start() {
        return Err(invalid(algorithm, "RSA keys must have at least 2048 bits"));
    }
    if bits > *RSA_BITS.end() {
        return Err(invalid(
            algorithm,
            "RSA keys larger than 8192 bits are not supported",
        ));
    }
    Ok(PublicParts::Rsa { n, e: components.e })
}

/// Prepares a parsed RSA public key for `algorithm` (`RS256` or `PS256`).
fn rsa_verify(
    public: &rsa::PublicKey,
    algorithm: Algorithm,
) -> Result<(ParsedPublicKey, PublicParts), KeyError> {
    let Some((params, _)) = algorithm.rsa_params() else {
        return Err(KeyError::WrongAlgorithm {
            algorithm,
            family: "public RSA",
        });
    };
    let parts = rsa_parts(RsaPublicKeyComponents::<Vec<u8>>::from(public), algorithm)?;
    let verify = ParsedPublicKey::new(params, public.as_ref())
        .map_err(|_| invalid(algorithm, "not an RSA public key"))?;
    Ok((verify, parts))
}

/// Decodes one base64url member of a JWK: unpadded and canonical (RFC 7515 §2).
fn jwk_member(value: &str, algorithm: Algorithm, what: &'static str) -> Result<Vec<u8>, KeyError> {
    URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|_| invalid(algorithm, what))
}

/// Checks the JWK members that restrict what the key may be used for: `alg` must be the
/// algorithm the caller pins the key to, `use` must be `sig` and `key_ops` must allow
/// `verify`, whenever they are present.
fn check_jwk_usage(common: &CommonParameters, algorithm: Algorithm) -> Result<(), KeyError> {
    if common
        .key_algorithm
        .is_some_and(|alg| alg != algorithm.jwk_algorithm())
    {
        return Err(invalid(algorithm, "the JWK's `alg` is another algorithm"));
    }
    if common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
    {
        return Err(invalid(algorithm, "the JWK's `use` is not `sig`"));
    }
    if common
        .key_operations
        .as_ref()
        .is_some_and(|ops| !ops.contains(&KeyOperations::Verify))
    {
        return Err(invalid(
            algorithm,
            "the JWK's `key_ops` does not allow `verify`",
        ));
    }
    Ok(())
}

/// A private (or secret) key that signs tokens, pinned to one algorithm.
///
/// Its `Debug` output never shows key material.
///
/// # Example
///
/// ```
/// use tower_jwt_auth::{Algorithm, SigningKey};
///
/// let key = SigningKey::generate_ed25519()?;
/// assert_eq!(key.algorithm(), Algorithm::EdDSA);
///
/// let hmac = SigningKey::from_secret(Algorithm::HS256, &[7u8; 32])?.with_kid("2026-11")?;
/// assert_eq!(hmac.kid(), "2026-11");
/// # Ok::<(), tower_jwt_auth::KeyError>(())
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
            .field("key", &crate::error::Redacted)
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
    /// # Ok::<(), tower_jwt_auth::KeyError>(())
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
    /// use tower_jwt_auth::{Algorithm, SigningKey};
    ///
    /// let pem = "-----BEGIN PRIVATE KEY-----\n\
    ///            MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n\
    ///            -----END PRIVATE KEY-----\n";
    /// let key = SigningKey::from_pem(Algorithm::EdDSA, pem.as_bytes())?;
    /// assert_eq!(key.kid(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    /// # Ok::<(), tower_jwt_auth::KeyError>(())
    /// ```
    pub fn from_pem(algorithm: Algorithm, pem: &[u8]) -> Result<Self, KeyError> {
        let parsed = match algorithm {
            Algorithm::EdDSA => EncodingKey::from_ed_pem(pem),
            Algorithm::ES256 => EncodingKey::from_ec_pem(pem),
            Algorithm::RS256 | Algorithm::PS256 => EncodingKey::from_rsa_pem(pem),
            _ => {
                return Err(KeyError::WrongAlgorithm {
                    algorithm,
                    family: "PEM",
                });
            }
        }
        .map_err(|_| invalid(algorithm, "not a PEM private key of this algorithm"))?;
        Self::from_der(algorithm, parsed.as_bytes())
    }

    /// Loads a private key from DER: PKCS#8 for `EdDSA` and `ES256`, PKCS#8 or PKCS#1 for
    /// `RS256`/`PS256`.
    ///
    /// ```
    /// use tower_jwt_auth::{Algorithm, SigningKey};
    ///
    /// assert!(SigningKey::from_der(Algorithm::ES256, b"not a key").is_err());
    /// ```
    pub fn from_der(algorithm: Algorithm, der: &[u8]) -> Result<Self, KeyError> {
        let (sign, verify, parts) = match algorithm {
            Algorithm::EdDSA => {
                let pair = Ed25519KeyPair::from_pkcs8(der)
                    .or_else(|_| Ed25519KeyPair::from_pkcs8_maybe_unchecked(der))
                    .map_err(|_| invalid(algorithm, "not a PKCS#8 Ed25519 private key"))?;
                let x = pair.public_key().as_ref().to_vec();
                let verify = ParsedPublicKey::new(&sig::ED25519, &x)
                    .map_err(|_| invalid(algorithm, "bad public key"))?;
                (Sign::Ed25519(pair), verify, PublicParts::Okp { x })
            }
            Algorithm::ES256 => {
                let pair = EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(|_| invalid(algorithm, "not a PKCS#8 P-256 private key"))?;
                let point = pair.public_key().as_ref().to_vec();
                let parts = ec_parts(&point, algorithm)?;
                let verify = ParsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, &point)
                    .map_err(|_| invalid(algorithm, "bad public key"))?;
                (Sign::Ecdsa(pair), verify, parts)
            }
            Algorithm::RS256 | Algorithm::PS256 => {
                let Some((params, encoding)) = algorithm.rsa_params() else {
                    return Err(invalid(algorithm, "unsupported RSA algorithm"));
                };
                let pair = RsaKeyPair::from_pkcs8(der)
                    .or_else(|_| RsaKeyPair::from_der(der))
                    .map_err(|_| invalid(algorithm, "not a PKCS#8 or PKCS#1 RSA private key"))?;
                let public = pair.public_key();
                let parts = rsa_parts(RsaPublicKeyComponents::<Vec<u8>>::from(public), algorithm)?;
                let verify = ParsedPublicKey::new(params, public.as_ref())
                    .map_err(|_| invalid(algorithm, "bad public key"))?;
                (Sign::Rsa(pair, encoding), verify, parts)
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
            verifying: VerifyingKey::with_default_kid(algorithm, Verify::Public(verify), parts),
        })
    }

    /// An HMAC key from a raw secret (use a random secret, not a password). The secret must be
    /// at least as long as the hash output: 32, 48 or 64 bytes. The default `kid` is derived
    /// from the secret with HMAC and reveals nothing about it.
    ///
    /// ```
    /// use tower_jwt_auth::{Algorithm, KeyError, SigningKey};
    ///
    /// assert!(matches!(
    ///     SigningKey::from_secret(Algorithm::HS256, b"too short"),
    ///     Err(KeyError::SecretTooShort { min: 32, .. })
    /// ));
    /// ```
    pub fn from_secret(algorithm: Algorithm, secret: &[u8]) -> Result<Self, KeyError> {
        let key = hmac_key(algorithm, secret)?;
        Ok(Self {
            sign: Sign::Hmac(Box::new(key.clone())),
            verifying: VerifyingKey::with_default_kid(
                algorithm,
                Verify::Hmac(Box::new(key)),
                PublicParts::Secret,
            ),
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
    /// # Ok::<(), tower_jwt_auth::KeyError>(())
    /// ```
    pub fn with_kid(mut self, kid: impl Into<String>) -> Result<Self, KeyError> {
        let kid = kid.into();
        check_kid(&kid)?;
        self.verifying.kid = kid.into();
        Ok(self)
    }

    /// The key id written in the `kid` header of every token this key signs.
    pub fn kid(&self) -> &str {
        &self.verifying.kid
    }

    /// The algorithm this key is pinned to.
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
    /// # Ok::<(), tower_jwt_auth::KeyError>(())
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
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(*encoding, &SystemRandom::new(), message, &mut sig)
                    .map_err(|_| ())?;
                URL_SAFE_NO_PAD.encode_string(sig, out);
            }
        }
        Ok(())
    }
}

/// A key that verifies tokens, pinned to one algorithm: a public key, or an HMAC secret.
///
/// Its `Debug` output never shows key material.
///
/// # Example
///
/// ```
/// use tower_jwt_auth::{Algorithm, VerifyingKey};
///
/// let pem = "-----BEGIN PUBLIC KEY-----\n\
///            MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n\
///            -----END PUBLIC KEY-----\n";
/// let key = VerifyingKey::from_pem(Algorithm::EdDSA, pem.as_bytes())?;
/// assert_eq!(key.algorithm(), Algorithm::EdDSA);
/// # Ok::<(), tower_jwt_auth::KeyError>(())
/// ```
#[derive(Clone)]
pub struct VerifyingKey {
    kid: Arc<str>,
    algorithm: Algorithm,
    verify: Verify,
    parts: PublicParts,
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("key", &crate::error::Redacted)
            .finish()
    }
}

impl VerifyingKey {
    /// A key under its default `kid`: the RFC 7638 thumbprint of a public key, or an id
    /// derived from an HMAC secret with HMAC.
    fn with_default_kid(algorithm: Algorithm, verify: Verify, parts: PublicParts) -> Self {
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
    /// use tower_jwt_auth::{Algorithm, VerifyingKey};
    ///
    /// assert!(VerifyingKey::from_pem(Algorithm::RS256, b"garbage").is_err());
    /// ```
    pub fn from_pem(algorithm: Algorithm, pem: &[u8]) -> Result<Self, KeyError> {
        let decoded = match algorithm {
            Algorithm::EdDSA => DecodingKey::from_ed_pem(pem),
            Algorithm::ES256 => DecodingKey::from_ec_pem(pem),
            Algorithm::RS256 | Algorithm::PS256 => DecodingKey::from_rsa_pem(pem),
            _ => {
                return Err(KeyError::WrongAlgorithm {
                    algorithm,
                    family: "PEM",
                });
            }
        }
        .map_err(|_| invalid(algorithm, "not a PEM public key of this algorithm"))?;
        let DecodingKeyKind::SecretOrDer(bytes) = decoded.kind() else {
            return Err(invalid(algorithm, "unexpected key encoding"));
        };
        let (verify, parts) = match algorithm {
            Algorithm::EdDSA => {
                if bytes.len() != 32 {
                    return Err(invalid(algorithm, "not an Ed25519 public key"));
                }
                let verify = ParsedPublicKey::new(&sig::ED25519, bytes)
                    .map_err(|_| invalid(algorithm, "not an Ed25519 public key"))?;
                (verify, PublicParts::Okp { x: bytes.clone() })
            }
            Algorithm::ES256 => {
                let parts = ec_parts(bytes, algorithm)?;
                let verify = ParsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, bytes)
                    .map_err(|_| invalid(algorithm, "not a P-256 public key"))?;
                (verify, parts)
            }
            _ => {
                let public = rsa::PublicKey::from_der(bytes)
                    .map_err(|_| invalid(algorithm, "not an RSA public key"))?;
                rsa_verify(&public, algorithm)?
            }
        };
        Ok(Self::with_default_kid(
            algorithm,
            Verify::Public(verify),
            parts,
        ))
    }

    /// An HMAC secret kept only to verify (for example a rotated-out signing secret).
    /// Same length rules and default `kid` as [`SigningKey::from_secret`].
    ///
    /// ```
    /// use tower_jwt_auth::{Algorithm, SigningKey, VerifyingKey};
    ///
    /// let secret = [42u8; 64];
    /// let a = SigningKey::from_secret(Algorithm::HS512, &secret)?;
    /// let b = VerifyingKey::from_secret(Algorithm::HS512, &secret)?;
    /// assert_eq!(a.kid(), b.kid());
    /// # Ok::<(), tower_jwt_auth::KeyError>(())
    /// ```
    pub fn from_secret(algorithm: Algorithm, secret: &[u8]) -> Result<Self, KeyError> {
        let key = hmac_key(algorithm, secret)?;
        Ok(Self::with_default_kid(
            algorithm,
            Verify::Hmac(Box::new(key)),
            PublicParts::Secret,
        ))
    }

    /// Loads a verification key from a JWK (RFC 7517), pinned to `algorithm`.
    ///
    /// The algorithm is the caller's choice, never the JWK's: `alg`, `use` and `key_ops`
    /// can only narrow it. The key is refused when `alg` is present and names another
    /// algorithm, when `use` is present and is not `sig`, or when `key_ops` is present
    /// without `verify`. Supported key types:
    ///
    /// | `kty` | `crv` | algorithms |
    /// | --- | --- | --- |
    /// | `OKP` | `Ed25519` | `EdDSA` |
    /// | `EC` | `P-256` (`x` and `y` of exactly 32 bytes) | `ES256` |
    /// | `RSA` | | `RS256`, `PS256` (2048 to 8192 bits) |
    /// | `oct` | | `HS256`, `HS384`, `HS512` (same lengths as [`from_secret`](Self::from_secret)) |
    ///
    /// Base64url members must be unpadded and canonical. Private members (`d`, `p`, …) are
    /// ignored, and so are certificate members (`x5c`, `x5t`, `x5u`): only the key itself is
    /// read. The `kid` is the JWK's own when present (it must satisfy the rules of
    /// [`with_kid`](Self::with_kid), so that tokens naming it can select the key); otherwise
    /// the RFC 7638 thumbprint, or for an `oct` key the same `kid` as
    /// [`from_secret`](Self::from_secret). Errors never contain key material.
    ///
    /// ```
    /// use tower_jwt_auth::{Algorithm, KeyError, VerifyingKey, jwk::Jwk};
    ///
    /// // RFC 8037 appendix A.2: an Ed25519 public key.
    /// let jwk: Jwk = serde_json::from_str(
    ///     r#"{"kty":"OKP","crv":"Ed25519","use":"sig",
    ///         "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
    /// )?;
    /// let key = VerifyingKey::from_jwk(&jwk, Algorithm::EdDSA)?;
    /// assert_eq!(key.algorithm(), Algorithm::EdDSA);
    /// // No `kid` member: the RFC 7638 thumbprint (RFC 8037 appendix A.3).
    /// assert_eq!(key.kid(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    ///
    /// // An Ed25519 key verifies EdDSA and nothing else.
    /// assert!(matches!(
    ///     VerifyingKey::from_jwk(&jwk, Algorithm::HS256),
    ///     Err(KeyError::WrongAlgorithm { .. })
    /// ));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_jwk(jwk: &Jwk, algorithm: Algorithm) -> Result<Self, KeyError> {
        check_jwk_usage(&jwk.common, algorithm)?;
        let wrong_family = |family| KeyError::WrongAlgorithm { algorithm, family };
        let (verify, parts) = match &jwk.algorithm {
            AlgorithmParameters::OctetKeyPair(okp) => {
                if algorithm != Algorithm::EdDSA {
                    return Err(wrong_family("public OKP"));
                }
                if okp.curve != EllipticCurve::Ed25519 {
                    return Err(invalid(algorithm, "only the Ed25519 curve is supported"));
                }
                let x = jwk_member(&okp.x, algorithm, "`x` is not canonical base64url")?;
                if x.len() != 32 {
                    return Err(invalid(algorithm, "not an Ed25519 public key"));
                }
                let verify = ParsedPublicKey::new(&sig::ED25519, &x)
                    .map_err(|_| invalid(algorithm, "not an Ed25519 public key"))?;
                (Verify::Public(verify), PublicParts::Okp { x })
            }
            AlgorithmParameters::EllipticCurve(ec) => {
                if algorithm != Algorithm::ES256 {
                    return Err(wrong_family("public EC"));
                }
                if ec.curve != EllipticCurve::P256 {
                    return Err(invalid(algorithm, "only the P-256 curve is supported"));
                }
                let x = jwk_member(&ec.x, algorithm, "`x` is not canonical base64url")?;
                let y = jwk_member(&ec.y, algorithm, "`y` is not canonical base64url")?;
                if x.len() != 32 || y.len() != 32 {
                    return Err(invalid(algorithm, "`x` and `y` must be 32 bytes each"));
                }
                let mut point = Vec::with_capacity(65);
                point.push(4);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                // Parsing checks that the point is on the curve.
                let verify = ParsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, &point)
                    .map_err(|_| invalid(algorithm, "not a point on P-256"))?;
                (Verify::Public(verify), PublicParts::Ec { x, y })
            }
            AlgorithmParameters::RSA(params) => {
                if algorithm.rsa_params().is_none() {
                    return Err(wrong_family("public RSA"));
                }
                let components = RsaPublicKeyComponents {
                    n: jwk_member(&params.n, algorithm, "`n` is not canonical base64url")?,
                    e: jwk_member(&params.e, algorithm, "`e` is not canonical base64url")?,
                };
                // Through DER, so a JWK gets exactly the checks of `from_pem` (aws-lc's
                // `RSA_check_key`: no leading zeros, an odd exponent of at least 3, …).
                let der = components
                    .as_der()
                    .map_err(|_| invalid(algorithm, "not an RSA public key"))?;
                let public = rsa::PublicKey::from_der(der.as_ref())
                    .map_err(|_| invalid(algorithm, "not an RSA public key"))?;
                let (verify, parts) = rsa_verify(&public, algorithm)?;
                (Verify::Public(verify), parts)
            }
            AlgorithmParameters::OctetKey(oct) => {
                if !algorithm.is_hmac() {
                    return Err(wrong_family("symmetric oct"));
                }
                let secret = jwk_member(&oct.value, algorithm, "`k` is not canonical base64url")?;
                let key = hmac_key(algorithm, &secret)?;
                (Verify::Hmac(Box::new(key)), PublicParts::Secret)
            }
            _ => return Err(invalid(algorithm, "unsupported JWK key type")),
        };
        let key = Self::with_default_kid(algorithm, verify, parts);
        match &jwk.common.key_id {
            Some(kid) => key.with_kid(kid.clone()),
            None => Ok(key),
        }
    }

    /// Replaces the `kid` (same rules as [`SigningKey::with_kid`]).
    ///
    /// ```
    /// use tower_jwt_auth::{Algorithm, VerifyingKey};
    ///
    /// let key = VerifyingKey::from_secret(Algorithm::HS256, &[1u8; 32])?.with_kid("old")?;
    /// assert_eq!(key.kid(), "old");
    /// # Ok::<(), tower_jwt_auth::KeyError>(())
    /// ```
    pub fn with_kid(mut self, kid: impl Into<String>) -> Result<Self, KeyError> {
        let kid = kid.into();
        check_kid(&kid)?;
        self.kid = kid.into();
        Ok(self)
    }

    /// The key id that selects this key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm this key is pinned to.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The public JWK of this key; `None` for an HMAC secret, which is never exported.
    ///
    /// ```
    /// use tower_jwt_auth::SigningKey;
    ///
    /// let key = SigningKey::generate_ed25519()?;
    /// let jwk = key.verifying_key().to_jwk().expect("public key");
    /// assert_eq!(jwk.common.key_id.as_deref(), Some(key.kid()));
    /// # Ok::<(), tower_jwt_auth::KeyError>(())
    /// ```
    pub fn to_jwk(&self) -> Option<Jwk> {
        self.parts.to_jwk(&self.kid, self.algorithm)
    }

    /// Verifies `signature` over `message` with this key's pinned algorithm.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.verify.verify(message, signature)
    }
}

/// The keys of an issuer: one active signing key plus keys that still verify.
///
/// Rotation: [`rotate`](KeySet::rotate) makes a new key the signing key and keeps the old one
/// verifying, so tokens already issued stay valid until they expire; drop the old key with
/// [`remove`](KeySet::remove) once the longest token lifetime has passed. Cloning is a
/// reference-count bump.
///
/// # Example
///
/// ```
/// use tower_jwt_auth::{KeySet, SigningKey};
///
/// let old = SigningKey::generate_ed25519()?;
/// let old_kid = old.kid().to_owned();
/// let keys = KeySet::new(old).rotate(SigningKey::generate_ed25519()?)?;
/// assert_ne!(keys.signing_key().kid(), old_kid);
/// assert!(keys.get(&old_kid).is_some());
/// assert_eq!(keys.jwks().keys.len(), 2);
/// # Ok::<(), tower_jwt_auth::KeyError>(())
/// ```
#[derive(Clone, Debug)]
pub struct KeySet {
    signing: Arc<SigningKey>,
    /// Every key that verifies, the signing key's included. Key sets are small, so a linear
    /// scan beats hashing the `kid`.
    verifying: Arc<[VerifyingKey]>,
}

impl KeySet {
    /// A key set that signs with `signing` (which also verifies).
    pub fn new(signing: SigningKey) -> Self {
        let verifying = Arc::from(vec![signing.verifying_key()]);
        Self {
            signing: Arc::new(signing),
            verifying,
        }
    }

    /// Adds a key that only verifies. Fails if its `kid` is already in the set.
    ///
    /// ```
    /// use tower_jwt_auth::{Algorithm, KeySet, SigningKey, VerifyingKey};
    ///
    /// let keys = KeySet::new(SigningKey::generate_ed25519()?)
    ///     .with_verifying_key(VerifyingKey::from_secret(Algorithm::HS256, &[9u8; 32])?)?;
    /// assert_eq!(keys.verifying_keys().count(), 2);
    /// # Ok::<(), tower_jwt_auth::KeyError>(())
    /// ```
    pub fn with_verifying_key(self, key: VerifyingKey) -> Result<Self, KeyError> {
        if self.get(key.kid()).is_some() {
            return Err(KeyError::DuplicateKid(key.kid().to_owned()));
        }
        let mut verifying = self.verifying.to_vec();
        verifying.push(key);
        Ok(Self {
            signing: self.signing,
            verifying: verifying.into(),
        })
    }

    /// Makes `signing` the signing key; the previous one keeps verifying.
    /// Fails if the new key's `kid` is already in the set.
    pub fn rotate(self, signing: SigningKey) -> Result<Self, KeyError> {
        if self.get(signing.kid()).is_some() {
            return Err(KeyError::DuplicateKid(signing.kid().to_owned()));
        }
        let mut verifying = self.verifying.to_vec();
        verifying.push(signing.verifying_key());
        Ok(Self {
            signing: Arc::new(signing),
            verifying: verifying.into(),
        })
    }

    /// Removes a verification key; tokens signed with it stop verifying. The signing key
    /// cannot be removed (`self` is returned unchanged).
    ///
    /// ```
    /// use tower_jwt_auth::{KeySet, SigningKey};
    ///
    /// let old = SigningKey::generate_ed25519()?;
    /// let old_kid = old.kid().to_owned();
    /// let keys = KeySet::new(old).rotate(SigningKey::generate_ed25519()?)?.remove(&old_kid);
    /// assert!(keys.get(&old_kid).is_none());
    /// # Ok::<(), tower_jwt_auth::KeyError>(())
    /// ```
    pub fn remove(self, kid: &str) -> Self {
        if kid == self.signing.kid() {
            return self;
        }
        let verifying: Vec<_> = self
            .verifying
            .iter()
            .filter(|k| k.kid() != kid)
            .cloned()
            .collect();
        Self {
            signing: self.signing,
            verifying: verifying.into(),
        }
    }

    /// The active signing key.
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    /// The verification key with this `kid`.
    pub fn get(&self, kid: &str) -> Option<&VerifyingKey> {
        self.verifying.iter().find(|k| &*k.kid == kid)
    }

    /// Every verification key, the signing key's included.
    pub fn verifying_keys(&self) -> impl Iterator<Item = &VerifyingKey> {
        self.verifying.iter()
    }

    /// The public keys as a JWKS document (RFC 7517 §5). Private keys and HMAC secrets are
    /// never included.
    ///
    /// ```
    /// use tower_jwt_auth::{Algorithm, KeySet, SigningKey};
    ///
    /// let keys = KeySet::new(SigningKey::from_secret(Algorithm::HS256, &[3u8; 32])?);
    /// assert!(keys.jwks().keys.is_empty());
    /// # Ok::<(), tower_jwt_auth::KeyError>(())
    /// ```
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: self
                .verifying
                .iter()
                .filter_map(VerifyingKey::to_jwk)
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn duplicate_kids_are_refused() {
        let key = SigningKey::generate_ed25519().unwrap();
        let same = key.verifying_key();
        assert!(matches!(
            KeySet::new(key).with_verifying_key(same),
            Err(KeyError::DuplicateKid(_))
        ));
    }

    #[test]
    fn jwks_contains_public_keys_only() {
        let keys = KeySet::new(SigningKey::generate_ed25519().unwrap())
            .with_verifying_key(VerifyingKey::from_secret(Algorithm::HS256, &[5; 32]).unwrap())
            .unwrap();
        let json = serde_json::to_value(keys.jwks()).unwrap();
        let list = json["keys"].as_array().unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["kty"], "OKP");
        assert_eq!(list[0]["alg"], "EdDSA");
        assert!(list[0].get("d").is_none());
        assert!(list[0].get("k").is_none());
    }

    fn jwk(value: serde_json::Value) -> Jwk {
        serde_json::from_value(value).unwrap()
    }

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// A JWK as JSON, to edit members before parsing it back.
    fn json(jwk: &Jwk) -> serde_json::Value {
        serde_json::to_value(jwk).unwrap()
    }

    fn signing_keys() -> Vec<SigningKey> {
        let rng = SystemRandom::new();
        let ec = EcdsaKeyPair::generate_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let rsa = rsa::KeyPair::generate(rsa::KeySize::Rsa2048).unwrap();
        let rsa_der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der<'_>>::as_der(&rsa).unwrap();
        vec![
            SigningKey::generate_ed25519().unwrap(),
            SigningKey::from_der(Algorithm::ES256, ec.as_ref()).unwrap(),
            SigningKey::from_der(Algorithm::RS256, rsa_der.as_ref()).unwrap(),
            SigningKey::from_der(Algorithm::PS256, rsa_der.as_ref()).unwrap(),
        ]
    }

    fn rsa_jwk(n: &[u8], e: &[u8]) -> Jwk {
        jwk(serde_json::json!({ "kty": "RSA", "n": b64(n), "e": b64(e) }))
    }

    #[test]
    fn from_jwk_round_trips_every_public_key_type() {
        for key in signing_keys() {
            let alg = key.algorithm();
            let exported = key.verifying_key().to_jwk().unwrap();
            let loaded = VerifyingKey::from_jwk(&exported, alg).unwrap();
            assert_eq!(loaded.kid(), key.kid(), "{alg}");
            assert_eq!(loaded.algorithm(), alg);
            assert_eq!(json(&loaded.to_jwk().unwrap()), json(&exported), "{alg}");

            let mut sig = String::new();
            key.sign_into(b"message", &mut sig).unwrap();
            let raw = URL_SAFE_NO_PAD.decode(sig).unwrap();
            assert!(loaded.verify(b"message", &raw), "{alg}");
            assert!(!loaded.verify(b"messagf", &raw), "{alg}");

            // Without `kid` (and `alg`, `use`): the RFC 7638 thumbprint, as for generated keys.
            let mut bare = exported.clone();
            bare.common = CommonParameters::default();
            assert_eq!(VerifyingKey::from_jwk(&bare, alg).unwrap().kid(), key.kid());
        }
    }

    #[test]
    fn from_jwk_loads_oct_keys_like_from_secret() {
        let secret = [0x5Au8; 48];
        let oct = |secret: &[u8]| jwk(serde_json::json!({ "kty": "oct", "k": b64(secret) }));
        let key = VerifyingKey::from_jwk(&oct(&secret), Algorithm::HS384).unwrap();
        let same = VerifyingKey::from_secret(Algorithm::HS384, &secret).unwrap();
        assert_eq!(key.kid(), same.kid());
        assert!(key.to_jwk().is_none(), "secrets are never exported");
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA384, &secret), b"m");
        assert!(key.verify(b"m", tag.as_ref()));

        assert!(matches!(
            VerifyingKey::from_jwk(&oct(&secret), Algorithm::HS512),
            Err(KeyError::SecretTooShort {
                len: 48,
                min: 64,
                ..
            })
        ));
        assert!(matches!(
            VerifyingKey::from_jwk(&oct(&[]), Algorithm::HS256),
            Err(KeyError::SecretTooShort { len: 0, .. })
        ));
        for alg in [Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256] {
            assert!(matches!(
                VerifyingKey::from_jwk(&oct(&secret), alg),
                Err(KeyError::WrongAlgorithm { .. })
            ));
        }
    }

    #[test]
    fn from_jwk_never_crosses_key_families() {
        for key in signing_keys() {
            let exported = key.verifying_key().to_jwk().unwrap();
            let mut bare = exported.clone();
            bare.common = CommonParameters::default();
            for alg in [
                Algorithm::EdDSA,
                Algorithm::ES256,
                Algorithm::RS256,
                Algorithm::HS256,
                Algorithm::HS512,
            ] {
                let same_family = alg == key.algorithm()
                    || (alg == Algorithm::RS256 && key.algorithm() == Algorithm::PS256);
                if same_family {
                    continue;
                }
                // A public key is never an HMAC secret, whatever the caller asks for.
                assert!(
                    matches!(
                        VerifyingKey::from_jwk(&bare, alg),
                        Err(KeyError::WrongAlgorithm { .. })
                    ),
                    "{} key as {alg}",
                    key.algorithm()
                );
                // With its `alg` member, the mismatch is caught first.
                assert!(VerifyingKey::from_jwk(&exported, alg).is_err());
            }
        }
    }

    #[test]
    fn from_jwk_honours_alg_use_and_key_ops() {
        let key = SigningKey::generate_ed25519().unwrap();
        let mut base = json(&key.verifying_key().to_jwk().unwrap());
        base.as_object_mut().unwrap().remove("use");
        let with = |member: &str, value: serde_json::Value| {
            let mut v = base.clone();
            v[member] = value;
            VerifyingKey::from_jwk(&jwk(v), Algorithm::EdDSA)
        };
        assert!(with("use", "sig".into()).is_ok());
        assert!(with("key_ops", serde_json::json!(["verify"])).is_ok());
        assert!(with("key_ops", serde_json::json!(["sign", "verify"])).is_ok());
        for (member, value, reason) in [
            ("alg", serde_json::json!("ES256"), "`alg`"),
            ("alg", serde_json::json!("ES521"), "`alg`"),
            ("use", serde_json::json!("enc"), "`use`"),
            ("use", serde_json::json!("other"), "`use`"),
            ("key_ops", serde_json::json!(["sign"]), "`key_ops`"),
            ("key_ops", serde_json::json!(["encrypt"]), "`key_ops`"),
            ("key_ops", serde_json::json!([]), "`key_ops`"),
        ] {
            let err = with(member, value).unwrap_err();
            assert!(err.to_string().contains(reason), "{member}: {err}");
        }
    }

    #[test]
    fn from_jwk_uses_a_valid_kid_and_refuses_an_invalid_one() {
        let key = SigningKey::generate_ed25519().unwrap();
        let base = json(&key.verifying_key().to_jwk().unwrap());
        let with_kid = |kid: &str| {
            let mut v = base.clone();
            v["kid"] = kid.into();
            VerifyingKey::from_jwk(&jwk(v), Algorithm::EdDSA)
        };
        assert_eq!(
            with_kid("bilbo.baggins@hobbiton.example").unwrap().kid(),
            "bilbo.baggins@hobbiton.example"
        );
        for bad in ["", "has space", "quote\"", &"k".repeat(129)] {
            assert!(
                matches!(with_kid(bad), Err(KeyError::InvalidKid(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn from_jwk_checks_ec_and_okp_members() {
        let key = SigningKey::from_der(
            Algorithm::ES256,
            EcdsaKeyPair::generate_pkcs8(
                &sig::ECDSA_P256_SHA256_FIXED_SIGNING,
                &SystemRandom::new(),
            )
            .unwrap()
            .as_ref(),
        )
        .unwrap();
        let base = json(&key.verifying_key().to_jwk().unwrap());
        let x = URL_SAFE_NO_PAD.decode(base["x"].as_str().unwrap()).unwrap();
        let y = URL_SAFE_NO_PAD.decode(base["y"].as_str().unwrap()).unwrap();
        let with = |member: &str, value: String| {
            let mut v = base.clone();
            v[member] = value.into();
            VerifyingKey::from_jwk(&jwk(v), Algorithm::ES256)
        };
        let mut off_curve = y;
        off_curve[31] ^= 1;
        let mut long = vec![0];
        long.extend_from_slice(&x);
        for (member, value, reason) in [
            ("y", b64(&off_curve), "not a point on P-256"),
            ("x", b64(&x[1..]), "32 bytes"),
            ("x", b64(&long), "32 bytes"),
            ("crv", "P-384".to_owned(), "only the P-256 curve"),
        ] {
            let err = with(member, value).unwrap_err();
            assert!(
                matches!(err, KeyError::InvalidKey { .. }) && err.to_string().contains(reason),
                "{member}: {err}"
            );
        }

        // OKP: Ed25519 only, 32 bytes.
        let okp = |crv: &str, x: &[u8]| {
            let v = serde_json::json!({ "kty": "OKP", "crv": crv, "x": b64(x) });
            serde_json::from_value::<Jwk>(v)
                .ok()
                .map(|j| VerifyingKey::from_jwk(&j, Algorithm::EdDSA))
        };
        assert!(matches!(okp("Ed25519", &[9; 32]), Some(Ok(_))));
        assert!(matches!(okp("Ed25519", &[9; 31]), Some(Err(_))));
        assert!(matches!(okp("P-256", &[9; 32]), Some(Err(_))));
        // X25519 and Ed448 are not even parsed as OKP keys by `jsonwebtoken`.
        assert!(!matches!(okp("X25519", &[9; 32]), Some(Ok(_))));
        assert!(!matches!(okp("Ed448", &[9; 57]), Some(Ok(_))));
    }

    #[test]
    fn from_jwk_checks_rsa_keys() {
        let pair = rsa::KeyPair::generate(rsa::KeySize::Rsa2048).unwrap();
        let public = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        let (n, e) = (public.n, public.e);
        assert!(VerifyingKey::from_jwk(&rsa_jwk(&n, &e), Algorithm::PS256).is_ok());

        let mut leading_zero = vec![0];
        leading_zero.extend_from_slice(&n);
        // 2041 bits: 256 bytes, but not a 2048-bit modulus.
        let mut short_top = n.clone();
        short_top[0] = 1;
        let e = &e[..];
        let bad: [(&str, &[u8], &[u8], &str); 7] = [
            ("1024 bits", &[0xC5; 128], e, "at least 2048 bits"),
            ("2041 bits", &short_top, e, "at least 2048 bits"),
            ("8200 bits", &[0xC5; 1025], e, "larger than 8192 bits"),
            // The rest is refused by aws-lc (`RSA_check_key`), as from PEM.
            ("leading zero", &leading_zero, e, "not an RSA public key"),
            ("e = 1", &n, &[1], "not an RSA public key"),
            ("even e", &n, &[1, 0, 0], "not an RSA public key"),
            ("empty e", &n, &[], "not an RSA public key"),
        ];
        for (what, n, e, reason) in bad {
            let err = VerifyingKey::from_jwk(&rsa_jwk(n, e), Algorithm::RS256).unwrap_err();
            assert!(
                matches!(err, KeyError::InvalidKey { .. }) && err.to_string().contains(reason),
                "{what}: {err}"
            );
        }
    }

    #[test]
    fn from_jwk_requires_canonical_unpadded_base64url() {
        let x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
        let okp = |x: &str| jwk(serde_json::json!({ "kty": "OKP", "crv": "Ed25519", "x": x }));
        assert!(VerifyingKey::from_jwk(&okp(x), Algorithm::EdDSA).is_ok());
        for bad in [
            format!("{x}="),
            x.replace('_', "/"),
            // Same 32 bytes, non-zero trailing bits.
            x.replace("URo", "URp"),
            format!(" {x}"),
        ] {
            assert!(
                VerifyingKey::from_jwk(&okp(&bad), Algorithm::EdDSA).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn from_jwk_refuses_unknown_key_types() {
        let other = jwk(serde_json::json!({ "kty": "AKP", "alg": "ML-DSA-44", "pub": "AAAA" }));
        assert!(matches!(other.algorithm, AlgorithmParameters::Other(_)));
        assert!(VerifyingKey::from_jwk(&other, Algorithm::EdDSA).is_err());
    }

    #[test]
    fn from_jwk_errors_and_debug_never_show_key_material() {
        let secret = [0xCDu8; 31];
        let k = b64(&secret);
        let short = jwk(serde_json::json!({ "kty": "oct", "k": k }));
        let err = VerifyingKey::from_jwk(&short, Algorithm::HS256).unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(!text.contains(&k) && !text.contains("205"), "{text}");

        let x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
        let okp = jwk(serde_json::json!({ "kty": "OKP", "crv": "Ed25519", "x": x }));
        let key = VerifyingKey::from_jwk(&okp, Algorithm::EdDSA).unwrap();
        let err = VerifyingKey::from_jwk(&okp, Algorithm::HS256).unwrap_err();
        let text = format!("{key:?} {err} {err:?}");
        assert!(text.contains("[redacted]"), "{text}");
        assert!(!text.contains(x), "{text}");

        let secret = [0xABu8; 32];
        let oct = jwk(serde_json::json!({ "kty": "oct", "k": b64(&secret) }));
        let key = VerifyingKey::from_jwk(&oct, Algorithm::HS256).unwrap();
        let text = format!("{key:?}");
        assert!(
            !text.contains(&b64(&secret)) && !text.contains("171"),
            "{text}"
        );
    }
}
