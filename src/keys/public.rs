//! The public half of a key: its JWK (RFC 7517) for the JWKS document and its RFC 7638
//! thumbprint, the default `kid`.

use crate::crypto::digest;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use super::{Algorithm, Jwk};

/// The public half of a key, for the JWKS document and the RFC 7638 thumbprint.
#[derive(Clone, PartialEq, Eq)]
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
        let b64 = |b: &[u8]| Some(URL_SAFE_NO_PAD.encode(b));
        let mut jwk = Jwk {
            kid: Some(kid.to_owned()),
            alg: Some(alg.as_str().to_owned()),
            key_use: Some("sig".to_owned()),
            ..Jwk::default()
        };
        match self {
            Self::Okp { x } => {
                jwk.kty = "OKP".to_owned();
                jwk.crv = Some("Ed25519".to_owned());
                jwk.x = b64(x);
            }
            Self::Ec { x, y } => {
                jwk.kty = "EC".to_owned();
                jwk.crv = Some("P-256".to_owned());
                jwk.x = b64(x);
                jwk.y = b64(y);
            }
            Self::Rsa { n, e } => {
                jwk.kty = "RSA".to_owned();
                jwk.n = b64(n);
                jwk.e = b64(e);
            }
            Self::Secret => return None,
        }
        Some(jwk)
    }
}
