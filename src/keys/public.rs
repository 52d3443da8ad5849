//! The public half of a key: its JWK (RFC 7517) for the JWKS document and its RFC 7638
//! thumbprint, the default `kid`.

use aws_lc_rs::digest;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters,
    EllipticCurveKeyType, Jwk, OctetKeyPairParameters, OctetKeyPairType, PublicKeyUse,
    RSAKeyParameters, RSAKeyType,
};

use super::Algorithm;

/// The public half of a key, for the JWKS document and the RFC 7638 thumbprint.
#[derive(Clone)]
pub(super) enum PublicParts {
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
    pub(super) fn thumbprint(&self) -> Option<String> {
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

    pub(super) fn to_jwk(&self, kid: &str, alg: Algorithm) -> Option<Jwk> {
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
