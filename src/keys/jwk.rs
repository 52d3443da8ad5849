//! JWK (RFC 7517): the [`Jwk`] and [`JwkSet`] types, and a verification key from a JWK, pinned
//! to the caller's algorithm.

use std::fmt;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{
    Algorithm, KeyError, VerifyingKey,
    crypto::{Verify, ec_public, ed25519_public, hmac_key, rsa_public},
    error::invalid,
    public::PublicParts,
};
use crate::redact::Redacted;

/// A JSON Web Key (RFC 7517 §4) as this crate reads and writes it: the members that describe
/// a signature key. Private members (`d`, `p`, `q`, …) and certificate members (`x5c`, …)
/// are never read, so a `Jwk` never holds a private key; `k`, the secret of an `oct` key,
/// is never shown by `Debug`, and is a [`Zeroizing`] string: overwritten with zeros when it
/// is dropped.
///
/// ```
/// use tower_jwt_auth::keys::Jwk;
///
/// let jwk: Jwk = serde_json::from_str(
///     r#"{"kty":"OKP","crv":"Ed25519","kid":"a","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"secret"}"#,
/// )?;
/// assert_eq!(jwk.kty, "OKP");
/// assert_eq!(jwk.kid.as_deref(), Some("a"));
/// // The private member was not even read.
/// assert!(!serde_json::to_string(&jwk)?.contains("secret"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Jwk {
    /// `kty`: the key type (`OKP`, `EC`, `RSA`, `oct`).
    pub kty: String,
    /// `crv`: the curve of an `OKP` or `EC` key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// `kid`: the key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// `x`: the public point (`OKP`), or its x coordinate (`EC`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// `alg`: the algorithm the key is meant for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// `y`: the y coordinate of an `EC` public point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// `use`: `sig` or `enc`.
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
    /// `n`: the modulus of an `RSA` key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// `key_ops`: the operations the key is meant for (`verify`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_ops: Option<Vec<String>>,
    /// `e`: the public exponent of an `RSA` key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// `k`: the secret of an `oct` key (never in a published key set), wiped on drop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<Zeroizing<String>>,
}

impl fmt::Debug for Jwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { kty, kid, alg, .. } = self;
        let secret = self.k.as_ref().map(|_| Redacted);
        write!(
            f,
            "Jwk {{ kty: {kty:?}, kid: {kid:?}, alg: {alg:?}, k: {secret:?}, .. }}"
        )
    }
}

/// A JWK set (RFC 7517 §5): `{"keys": [...]}`, the document a JWKS endpoint serves.
///
/// ```
/// use tower_jwt_auth::{KeySet, SigningKey, keys::JwkSet};
///
/// let keys = KeySet::new(SigningKey::generate_ed25519()?);
/// let json = serde_json::to_string(&keys.jwks())?;
/// let set: JwkSet = serde_json::from_str(&json)?;
/// assert_eq!(set.keys.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<Jwk>,
}

impl JwkSet {
    /// A set of `keys`.
    ///
    /// ```
    /// use tower_jwt_auth::keys::JwkSet;
    ///
    /// assert!(JwkSet::new(Vec::new()).keys.is_empty());
    /// ```
    pub fn new(keys: Vec<Jwk>) -> Self {
        Self { keys }
    }
}

impl Jwk {
    /// The algorithm to pin this key to: its `alg` when present, otherwise the only one its
    /// key type allows (`EdDSA` for an Ed25519 `OKP` key, `ES256` for a P-256 `EC` key). An
    /// `RSA` or `oct` key without `alg` is ambiguous and refused.
    ///
    /// ```
    /// use tower_jwt_auth::keys::{Algorithm, Jwk};
    ///
    /// let jwk: Jwk = serde_json::from_str(r#"{"kty":"OKP","crv":"Ed25519","x":"AA"}"#)?;
    /// assert_eq!(jwk.algorithm()?, Algorithm::EdDSA);
    /// let rsa: Jwk = serde_json::from_str(r#"{"kty":"RSA","n":"AA","e":"AQAB"}"#)?;
    /// assert!(rsa.algorithm().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn algorithm(&self) -> Result<Algorithm, KeyError> {
        if let Some(alg) = &self.alg {
            return alg.parse();
        }
        match (self.kty.as_str(), self.crv.as_deref()) {
            ("OKP", Some("Ed25519")) => Ok(Algorithm::EdDSA),
            ("EC", Some("P-256")) => Ok(Algorithm::ES256),
            _ => Err(KeyError::AmbiguousAlgorithm),
        }
    }

    /// The member `name` (`x`, `y`, `n`, `e`, `k`), required for the key type.
    fn member(
        &self,
        value: Option<&String>,
        algorithm: Algorithm,
        name: &'static str,
    ) -> Result<Vec<u8>, KeyError> {
        let value = value.ok_or(invalid(algorithm, name))?;
        jwk_member(value, algorithm, name)
    }
}

/// Why each member can be refused: missing, or not canonical base64url.
const X: &str = "`x` is missing or not canonical base64url";
const Y: &str = "`y` is missing or not canonical base64url";
const N: &str = "`n` is missing or not canonical base64url";
const E: &str = "`e` is missing or not canonical base64url";
const K: &str = "`k` is missing or not canonical base64url";

/// Decodes one base64url member of a JWK: unpadded and canonical (RFC 7515 §2).
fn jwk_member(value: &str, algorithm: Algorithm, what: &'static str) -> Result<Vec<u8>, KeyError> {
    URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|_| invalid(algorithm, what))
}

/// Refuses a JWK whose key type is not the family of the pinned `algorithm`, or whose curve
/// is not the one supported for it.
fn check_family(jwk: &Jwk, algorithm: Algorithm) -> Result<(), KeyError> {
    let only = |supported: bool, reason| supported.then_some(()).ok_or(reason);
    let crv = jwk.crv.as_deref();
    let (fits, family, curve) = match jwk.kty.as_str() {
        "OKP" => (
            algorithm == Algorithm::EdDSA,
            "public OKP",
            only(crv == Some("Ed25519"), "only Ed25519 is supported"),
        ),
        "EC" => (
            algorithm == Algorithm::ES256,
            "public EC",
            only(crv == Some("P-256"), "only P-256 is supported"),
        ),
        "RSA" => (algorithm.rsa_params().is_some(), "public RSA", Ok(())),
        "oct" => (algorithm.is_hmac(), "symmetric oct", Ok(())),
        _ => return Err(invalid(algorithm, "unsupported JWK key type")),
    };
    if !fits {
        return Err(KeyError::WrongAlgorithm { algorithm, family });
    }
    curve.map_err(|reason| invalid(algorithm, reason))
}

/// Checks the JWK members that restrict what the key may be used for: `alg` must be the
/// algorithm the caller pins the key to, `use` must be `sig` and `key_ops` must allow
/// `verify`, whenever they are present.
fn check_jwk_usage(jwk: &Jwk, algorithm: Algorithm) -> Result<(), KeyError> {
    if jwk
        .alg
        .as_deref()
        .is_some_and(|alg| alg != algorithm.as_str())
    {
        return Err(invalid(algorithm, "the JWK's `alg` is another algorithm"));
    }
    if jwk.key_use.as_deref().is_some_and(|u| u != "sig") {
        return Err(invalid(algorithm, "the JWK's `use` is not `sig`"));
    }
    if jwk
        .key_ops
        .as_ref()
        .is_some_and(|ops| !ops.iter().any(|op| op == "verify"))
    {
        return Err(invalid(
            algorithm,
            "the JWK's `key_ops` does not allow `verify`",
        ));
    }
    Ok(())
}

impl VerifyingKey {
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
    /// use tower_jwt_auth::keys::{Algorithm, Jwk, KeyError, VerifyingKey};
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
        check_jwk_usage(jwk, algorithm)?;
        check_family(jwk, algorithm)?;
        let (verify, parts) = match jwk.kty.as_str() {
            "OKP" => ed25519_public(&jwk.member(jwk.x.as_ref(), algorithm, X)?, algorithm)?,
            "EC" => {
                let x = jwk.member(jwk.x.as_ref(), algorithm, X)?;
                let y = jwk.member(jwk.y.as_ref(), algorithm, Y)?;
                if x.len() != 32 || y.len() != 32 {
                    return Err(invalid(algorithm, "`x` and `y` must be 32 bytes each"));
                }
                let mut point = Vec::with_capacity(65);
                point.push(4);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                ec_public(&point, algorithm)?
            }
            // The same checks as a PEM key's: no leading zeros, an odd exponent of at least
            // 3, 2048 to 8192 bits.
            "RSA" => rsa_public(
                jwk.member(jwk.n.as_ref(), algorithm, N)?,
                jwk.member(jwk.e.as_ref(), algorithm, E)?,
                algorithm,
            )?,
            "oct" => {
                let secret = Zeroizing::new(jwk.member(jwk.k.as_deref(), algorithm, K)?);
                let key = hmac_key(algorithm, &secret)?;
                (Verify::Hmac(Box::new(key)), PublicParts::Secret)
            }
            // `check_family` refused every other key type.
            _ => return Err(invalid(algorithm, "unsupported JWK key type")),
        };
        let key = Self::with_default_kid(algorithm, verify, parts);
        match &jwk.kid {
            Some(kid) => key.with_kid(kid.clone()),
            None => Ok(key),
        }
    }

    /// The public JWK of this key; `None` for an HMAC secret, which is never exported.
    ///
    /// ```
    /// use tower_jwt_auth::SigningKey;
    ///
    /// let key = SigningKey::generate_ed25519()?;
    /// let jwk = key.verifying_key().to_jwk().expect("public key");
    /// assert_eq!(jwk.kid.as_deref(), Some(key.kid()));
    /// # Ok::<(), tower_jwt_auth::keys::KeyError>(())
    /// ```
    pub fn to_jwk(&self) -> Option<Jwk> {
        self.parts.to_jwk(&self.kid, self.algorithm)
    }
}

#[cfg(test)]
mod tests {
    // Fixtures are made with aws-lc-rs whatever the backend under test.
    use aws_lc_rs::{
        encoding::AsDer,
        hmac,
        rand::SystemRandom,
        rsa,
        signature::{self as sig, EcdsaKeyPair, KeyPair, RsaPublicKeyComponents},
    };

    use super::*;
    use crate::keys::{KeyError, SigningKey};

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
    fn a_jwk_secret_is_wiped_on_drop() {
        fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>(_: &T) {}
        let jwk = jwk(serde_json::json!({"kty": "oct", "alg": "HS256", "k": "c2VjcmV0"}));
        let secret = jwk.k.as_ref().unwrap();
        wiped_on_drop(secret);
        assert_eq!(secret.as_str(), "c2VjcmV0");
        // It serialises as the plain string it was read from.
        assert!(
            serde_json::to_string(&jwk)
                .unwrap()
                .contains(r#""k":"c2VjcmV0""#)
        );
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
            (bare.kid, bare.alg, bare.key_use, bare.key_ops) = (None, None, None, None);
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
            (bare.kid, bare.alg, bare.key_use, bare.key_ops) = (None, None, None, None);
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
            ("crv", "P-384".to_owned(), "only P-256"),
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
        // X25519 and Ed448 are OKP keys too, but never Ed25519 ones.
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
        assert!(matches!(
            other.algorithm(),
            Err(KeyError::UnsupportedAlgorithm)
        ));
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
