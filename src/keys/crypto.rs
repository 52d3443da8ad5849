//! The prepared crypto objects behind the keys: verification and signing contexts, HMAC keys
//! and ids, and the public halves of EC and RSA keys.

use crate::crypto::{
    EcdsaKeyPair, Ed25519KeyPair, PublicKey, RsaEncoding, RsaKeyPair, der_element, hmac,
};
use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use zeroize::Zeroizing;

use super::{Algorithm, KeyError, error::invalid, public::PublicParts};

/// A prepared verification key.
#[derive(Clone)]
pub(super) enum Verify {
    /// Boxed: an HMAC context is over a kilobyte.
    Hmac(Box<hmac::Key>),
    Public(PublicKey),
}

impl Verify {
    pub(super) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            // `hmac::verify` compares in constant time.
            Self::Hmac(key) => hmac::verify(key, message, signature).is_ok(),
            Self::Public(key) => key.verify(message, signature),
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

/// The public half of a P-256 key, an uncompressed point, prepared to verify.
pub(super) fn ec_public(
    point: &[u8],
    algorithm: Algorithm,
) -> Result<(Verify, PublicParts), KeyError> {
    match point {
        [4, rest @ ..] if rest.len() == 64 => {
            let (x, y) = rest.split_at(32);
            // Making the key checks that the point is on the curve.
            let verify =
                PublicKey::p256(point).ok_or_else(|| invalid(algorithm, "not a point on P-256"))?;
            let parts = PublicParts::Ec {
                x: x.to_vec(),
                y: y.to_vec(),
            };
            Ok((Verify::Public(verify), parts))
        }
        _ => Err(invalid(algorithm, "not an uncompressed P-256 public key")),
    }
}

/// The RSA modulus sizes the verification parameters accept (`RSA_*_2048_8192_*`).
const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=8192;

/// The public half of an RSA key (modulus `n`, exponent `e`) for `algorithm` (`RS256` or
/// `PS256`), with its size checked, prepared to verify.
pub(super) fn rsa_public(
    n: Vec<u8>,
    e: Vec<u8>,
    algorithm: Algorithm,
) -> Result<(Verify, PublicParts), KeyError> {
    let Some((params, _)) = algorithm.rsa_params() else {
        return Err(KeyError::WrongAlgorithm {
            algorithm,
            family: "public RSA",
        });
    };
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
    let verify = PublicKey::rsa(&n, &e, params)
        .ok_or_else(|| invalid(algorithm, "not an RSA public key"))?;
    Ok((Verify::Public(verify), PublicParts::Rsa { n, e }))
}

/// The DER of an Ed25519 `AlgorithmIdentifier`'s contents (RFC 8410 §3): the OID
/// 1.3.101.112, no parameters.
pub(super) const SPKI_ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
/// ... of a P-256 public key (RFC 5480 §2.1.1): id-ecPublicKey, then the curve secp256r1.
pub(super) const SPKI_P256: &[u8] = &[
    0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d,
    0x03, 0x01, 0x07,
];
/// ... of an RSA public key (RFC 3279 §2.3.1): rsaEncryption, NULL parameters.
pub(super) const SPKI_RSA: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];

/// The key inside a DER `SubjectPublicKeyInfo` (RFC 5280 §4.1.2.7) whose
/// `AlgorithmIdentifier` has exactly the contents `algorithm`: `SEQUENCE { SEQUENCE
/// { algorithm }, BIT STRING key }`, nothing after it. The key of every family the crate
/// reads is whole bytes (no unused bits).
pub(super) fn spki_key<'a>(der: &'a [u8], algorithm: &[u8]) -> Option<&'a [u8]> {
    let (spki, trailing) = der_element(der, 0x30)?;
    let (found, rest) = der_element(spki, 0x30)?;
    let (bits, rest) = der_element(rest, 0x03)?;
    let (&0, key) = bits.split_first()? else {
        return None;
    };
    (trailing.is_empty() && rest.is_empty() && found == algorithm).then_some(key)
}

/// The DER inside the PEM armour (RFC 7468) of a key whose label is one of `labels`:
/// `-----BEGIN <label>-----`, base64 (line breaks and spaces ignored), `-----END <label>-----`;
/// text around the armour is ignored. The base64 text and the DER are kept in buffers sized
/// once, so never copied by a reallocation, and wiped on drop.
pub(super) fn pem_der(pem: &[u8], labels: &[&str]) -> Option<Zeroizing<Vec<u8>>> {
    fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
        haystack.windows(needle.len()).position(|w| w == needle)
    }
    const BEGIN: &[u8] = b"-----BEGIN ";
    const END: &[u8] = b"-----END ";
    const DASHES: &[u8] = b"-----";
    let rest = &pem[find(pem, BEGIN)? + BEGIN.len()..];
    let label_len = find(rest, DASHES)?;
    let label = &rest[..label_len];
    if !labels.iter().any(|l| l.as_bytes() == label) {
        return None;
    }
    let rest = &rest[label_len + DASHES.len()..];
    let body_len = find(rest, END)?;
    let closing = rest[body_len + END.len()..].strip_prefix(label)?;
    if !closing.starts_with(DASHES) {
        return None;
    }
    let body = &rest[..body_len];
    let mut text = Zeroizing::new(Vec::with_capacity(body.len()));
    text.extend(body.iter().filter(|b| !b.is_ascii_whitespace()));
    let mut der = Zeroizing::new(Vec::with_capacity(text.len().div_ceil(4) * 3));
    STANDARD.decode_vec(&*text, &mut der).ok()?;
    Some(der)
}

/// The public half of an Ed25519 key, prepared to verify.
pub(super) fn ed25519_public(
    x: &[u8],
    algorithm: Algorithm,
) -> Result<(Verify, PublicParts), KeyError> {
    let verify =
        PublicKey::ed25519(x).ok_or_else(|| invalid(algorithm, "not an Ed25519 public key"))?;
    Ok((Verify::Public(verify), PublicParts::Okp { x: x.to_vec() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The RFC 8037 appendix A.1 key, PKCS#8 in PEM.
    const ED_PEM: &str = "-----BEGIN PRIVATE KEY-----\n\
                          MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n\
                          -----END PRIVATE KEY-----\n";

    #[test]
    fn private_pem_is_decoded_into_a_wiped_buffer() {
        let der = STANDARD
            .decode("MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g")
            .unwrap();
        let decoded: Zeroizing<Vec<u8>> = pem_der(ED_PEM.as_bytes(), &["PRIVATE KEY"]).unwrap();
        assert_eq!(*decoded, der);
        // Sized once: the DER was never moved by a reallocation.
        assert!(decoded.capacity() <= der.len() + 2);
        // CRLF, indented lines and text around the armour are accepted.
        let crlf = format!("key:\r\n{}\r\n", ED_PEM.replace('\n', "\r\n  "));
        assert_eq!(*pem_der(crlf.as_bytes(), &["PRIVATE KEY"]).unwrap(), der);
    }

    #[test]
    fn private_pem_needs_a_wanted_label_on_both_lines_and_valid_base64() {
        let pem = ED_PEM.as_bytes();
        assert!(pem_der(pem, &["RSA PRIVATE KEY"]).is_none());
        let other_end = ED_PEM.replace("END PRIVATE", "END RSA PRIVATE");
        assert!(pem_der(other_end.as_bytes(), &["PRIVATE KEY", "RSA PRIVATE KEY"]).is_none());
        let bad = ED_PEM.replace("MC4C", "MC4*");
        assert!(pem_der(bad.as_bytes(), &["PRIVATE KEY"]).is_none());
        for len in 0..pem.len() - 6 {
            assert!(pem_der(&pem[..len], &["PRIVATE KEY"]).is_none(), "{len}");
        }
        assert!(pem_der(b"", &["PRIVATE KEY"]).is_none());
    }

    #[test]
    fn spki_key_needs_the_exact_algorithm_whole_bytes_and_nothing_more() {
        // An Ed25519 SubjectPublicKeyInfo (RFC 8410 §10.1).
        let mut spki = vec![0x30, 0x2a, 0x30, 0x05];
        spki.extend_from_slice(SPKI_ED25519);
        spki.extend_from_slice(&[0x03, 0x21, 0x00]);
        spki.extend_from_slice(&[7; 32]);
        assert_eq!(spki_key(&spki, SPKI_ED25519), Some(&[7; 32][..]));
        assert_eq!(spki_key(&spki, SPKI_P256), None);
        for len in 0..spki.len() {
            assert_eq!(spki_key(&spki[..len], SPKI_ED25519), None, "{len}");
        }
        let mut trailing = spki.clone();
        trailing.push(0);
        assert_eq!(spki_key(&trailing, SPKI_ED25519), None);
        let mut unused_bits = spki.clone();
        unused_bits[11] = 1;
        assert_eq!(spki_key(&unused_bits, SPKI_ED25519), None);
        let mut octet_string = spki;
        octet_string[9] = 0x04;
        assert_eq!(spki_key(&octet_string, SPKI_ED25519), None);
    }
}
