//! The prepared crypto objects behind the keys: verification and signing contexts, HMAC keys
//! and ids, and the public halves of EC and RSA keys.

use aws_lc_rs::{
    hmac, rsa,
    signature::{
        EcdsaKeyPair, Ed25519KeyPair, ParsedPublicKey, RsaEncoding, RsaKeyPair,
        RsaPublicKeyComponents,
    },
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use super::{Algorithm, KeyError, error::invalid, public::PublicParts};

/// A prepared verification key.
#[derive(Clone)]
pub(super) enum Verify {
    /// Boxed: an HMAC context is over a kilobyte.
    Hmac(Box<hmac::Key>),
    Public(ParsedPublicKey),
}

impl Verify {
    pub(super) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            // `hmac::verify` compares in constant time.
            Self::Hmac(key) => hmac::verify(key, message, signature).is_ok(),
            Self::Public(key) => key.verify_sig(message, signature).is_ok(),
        }
    }
}

pub(super) enum Sign {
    Hmac(Box<hmac::Key>),
    Ed25519(Ed25519KeyPair),
    Ecdsa(EcdsaKeyPair),
    Rsa(RsaKeyPair, &'static dyn RsaEncoding),
}

pub(super) fn hmac_key(algorithm: Algorithm, secret: &[u8]) -> Result<hmac::Key, KeyError> {
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
pub(super) fn hmac_kid(key: &hmac::Key) -> String {
    let tag = hmac::sign(key, b"tower-jwt-auth key id");
    let bytes = tag.as_ref();
    URL_SAFE_NO_PAD.encode(bytes.get(..16).unwrap_or(bytes))
}

pub(super) fn ec_parts(point: &[u8], algorithm: Algorithm) -> Result<PublicParts, KeyError> {
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

pub(super) fn rsa_parts(
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
pub(super) fn rsa_verify(
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

/// A PEM parser of one key family.
pub(super) type PemParser<K, E> = fn(&[u8]) -> Result<K, E>;

/// Parses `pem` with the parser of `algorithm`'s key family: `[Ed25519, EC, RSA]`. HMAC
/// secrets have no PEM form.
pub(super) fn parse_pem<K, E>(
    algorithm: Algorithm,
    pem: &[u8],
    [ed, ec, rsa]: [PemParser<K, E>; 3],
    refusal: &'static str,
) -> Result<K, KeyError> {
    let parse = match algorithm {
        Algorithm::EdDSA => ed,
        Algorithm::ES256 => ec,
        Algorithm::RS256 | Algorithm::PS256 => rsa,
        _ => {
            return Err(KeyError::WrongAlgorithm {
                algorithm,
                family: "PEM",
            });
        }
    };
    parse(pem).map_err(|_| invalid(algorithm, refusal))
}
