//! The crypto backend: AWS-LC (feature `aws-lc-rs`, the default) or ring (feature `ring`).
//!
//! Everything that differs between the two is here, behind one set of names; the rest of the
//! crate never names a backend. With both features on, AWS-LC is used.

#[cfg(not(any(feature = "aws-lc-rs", feature = "ring")))]
compile_error!(
    "tower-jwt-auth needs a crypto backend: enable the `aws-lc-rs` (default) or the `ring` feature"
);

#[cfg(feature = "aws-lc-rs")]
use aws_lc_rs as provider;
#[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
use ring as provider;

pub(crate) use provider::{
    digest, hmac,
    rand::{SecureRandom, SystemRandom},
    signature::{
        ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ED25519, EcdsaKeyPair,
        Ed25519KeyPair, KeyPair, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256,
        RSA_PSS_2048_8192_SHA256, RSA_PSS_SHA256, RsaEncoding, RsaKeyPair, RsaParameters,
    },
};

/// A public key prepared to verify signatures of one algorithm, checked when it is made.
#[derive(Clone)]
pub(crate) struct PublicKey(Inner);

#[cfg(feature = "aws-lc-rs")]
type Inner = provider::signature::ParsedPublicKey;

#[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
#[derive(Clone)]
enum Inner {
    Unparsed(provider::signature::UnparsedPublicKey<Box<[u8]>>),
    Rsa(
        provider::signature::RsaPublicKeyComponents<Box<[u8]>>,
        &'static RsaParameters,
    ),
}

#[cfg(feature = "aws-lc-rs")]
impl PublicKey {
    /// An Ed25519 public key (32 bytes).
    pub(crate) fn ed25519(x: &[u8]) -> Option<Self> {
        (x.len() == 32)
            .then(|| provider::signature::ParsedPublicKey::new(&ED25519, x).ok())
            .flatten()
            .map(Self)
    }

    /// A P-256 public key, an uncompressed point; refused when it is not on the curve.
    pub(crate) fn p256(point: &[u8]) -> Option<Self> {
        provider::signature::ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
            .ok()
            .map(Self)
    }

    /// An RSA public key from its modulus and exponent (big-endian), with AWS-LC's checks
    /// (`RSA_check_key`: no leading zeros, an odd exponent of at least 3, …).
    pub(crate) fn rsa(n: &[u8], e: &[u8], params: &'static RsaParameters) -> Option<Self> {
        use provider::encoding::AsDer;
        let components = provider::signature::RsaPublicKeyComponents { n, e };
        let der = components.as_der().ok()?;
        let public = provider::rsa::PublicKey::from_der(der.as_ref()).ok()?;
        provider::signature::ParsedPublicKey::new(params, public.as_ref())
            .ok()
            .map(Self)
    }

    /// Verifies `signature` over `message`.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.0.verify_sig(message, signature).is_ok()
    }
}

#[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
impl PublicKey {
    /// An Ed25519 public key (32 bytes).
    pub(crate) fn ed25519(x: &[u8]) -> Option<Self> {
        (x.len() == 32).then(|| {
            Self(Inner::Unparsed(
                provider::signature::UnparsedPublicKey::new(&ED25519, x.into()),
            ))
        })
    }

    /// A P-256 public key, an uncompressed point; refused when it is not on the curve. ring
    /// parses verification keys lazily, so the point is checked the way ring checks a peer's
    /// key: by an ephemeral key agreement with it.
    pub(crate) fn p256(point: &[u8]) -> Option<Self> {
        use provider::agreement;
        let rng = SystemRandom::new();
        let ours = agreement::EphemeralPrivateKey::generate(&agreement::ECDH_P256, &rng).ok()?;
        let theirs = agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, point);
        agreement::agree_ephemeral(ours, &theirs, |_| ()).ok()?;
        Some(Self(Inner::Unparsed(
            provider::signature::UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point.into()),
        )))
    }

    /// An RSA public key from its modulus and exponent (big-endian), with the checks ring
    /// makes at verification done now: a minimal modulus encoding, and an odd exponent of at
    /// least 3 and at most 33 bits.
    pub(crate) fn rsa(n: &[u8], e: &[u8], params: &'static RsaParameters) -> Option<Self> {
        let minimal = |b: &[u8]| b.first().is_some_and(|first| *first != 0);
        let odd = e.last().is_some_and(|last| last & 1 == 1);
        let small = e.len() < 5 || (e.len() == 5 && e[0] == 1);
        let at_least_3 = e.len() > 1 || e.first().is_some_and(|b| *b >= 3);
        if !(minimal(n) && minimal(e) && odd && small && at_least_3) {
            return None;
        }
        let components = provider::signature::RsaPublicKeyComponents {
            n: Box::from(n),
            e: Box::from(e),
        };
        Some(Self(Inner::Rsa(components, params)))
    }

    /// Verifies `signature` over `message`.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match &self.0 {
            Inner::Unparsed(key) => key.verify(message, signature).is_ok(),
            Inner::Rsa(components, params) => components.verify(params, message, signature).is_ok(),
        }
    }
}

/// One DER element of `tag` at the start of `input`: its contents, and what follows it.
/// Lengths are definite and minimal, at most two bytes long (65535): enough for any key
/// the crate accepts.
pub(crate) fn der_element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&found, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = match first {
        0..=0x7f => (usize::from(first), rest),
        0x81..=0x82 => {
            let (bytes, rest) = rest.split_at_checked(usize::from(first & 0x7f))?;
            let len = bytes.iter().fold(0usize, |l, b| (l << 8) | usize::from(*b));
            // DER: the long form only where the short one cannot say it, minimally.
            (len >= 0x80 && bytes[0] != 0).then_some((len, rest))?
        }
        _ => return None,
    };
    (found == tag).then_some(rest.split_at_checked(len)?)
}

/// The modulus and exponent of a DER `RSAPublicKey` (PKCS#1), as PEM files carry them:
/// `SEQUENCE { INTEGER n, INTEGER e }`, nothing after it, whatever the backend.
pub(crate) fn rsa_public_from_der(der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    /// A non-negative INTEGER's magnitude, without its sign byte.
    fn unsigned(contents: &[u8]) -> Option<Vec<u8>> {
        match contents {
            [0, next, ..] if *next >= 0x80 => Some(contents[1..].to_vec()),
            [0, ..] | [] => None,
            [first, ..] if *first >= 0x80 => None,
            _ => Some(contents.to_vec()),
        }
    }
    let (sequence, trailing) = der_element(der, 0x30)?;
    let (n, rest) = der_element(sequence, 0x02)?;
    let (e, rest) = der_element(rest, 0x02)?;
    (trailing.is_empty() && rest.is_empty()).then_some(())?;
    Some((unsigned(n)?, unsigned(e)?))
}

/// A P-256 ECDSA signing key from PKCS#8.
pub(crate) fn ecdsa_from_pkcs8(der: &[u8]) -> Option<EcdsaKeyPair> {
    #[cfg(feature = "aws-lc-rs")]
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der);
    #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &SystemRandom::new());
    pair.ok()
}

/// The length of an RSA signing key's signatures (its modulus), in bytes.
pub(crate) fn rsa_signature_len(pair: &RsaKeyPair) -> usize {
    #[cfg(feature = "aws-lc-rs")]
    let len = pair.public_modulus_len();
    #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
    let len = pair.public().modulus_len();
    len
}

/// The modulus and exponent of an RSA signing key's public half.
pub(crate) fn rsa_public_of(pair: &RsaKeyPair) -> (Vec<u8>, Vec<u8>) {
    #[cfg(feature = "aws-lc-rs")]
    let public = pair.public_key();
    #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
    let public = pair.public();
    let components = provider::signature::RsaPublicKeyComponents::<Vec<u8>>::from(public);
    (components.n, components.e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_der_round_trips_through_the_backend() {
        // A DER RSAPublicKey: n = 0x00C5… (2048 bits, sign byte), e = 65537.
        let mut n = vec![0xC5; 256];
        n[255] = 0x01;
        let mut der = vec![0x30, 0x82, 0x01, 0x0a, 0x02, 0x82, 0x01, 0x01, 0x00];
        der.extend_from_slice(&n);
        der.extend_from_slice(&[0x02, 0x03, 0x01, 0x00, 0x01]);
        let (parsed_n, e) = rsa_public_from_der(&der).unwrap();
        assert_eq!(parsed_n, n);
        assert_eq!(e, [1, 0, 1]);
        // Trailing bytes and truncations never parse.
        let mut trailing = der.clone();
        trailing.push(0);
        assert!(rsa_public_from_der(&trailing).is_none());
        for len in 0..der.len() {
            assert!(rsa_public_from_der(&der[..len]).is_none(), "{len}");
        }
    }

    #[test]
    fn off_curve_points_and_bad_exponents_are_refused_at_once() {
        let mut point = vec![4u8];
        point.extend_from_slice(&[1; 64]);
        assert!(PublicKey::p256(&point).is_none());
        let n = [0xC5; 256];
        assert!(PublicKey::rsa(&n, &[1], &RSA_PKCS1_2048_8192_SHA256).is_none());
        assert!(PublicKey::rsa(&n, &[1, 0, 0], &RSA_PKCS1_2048_8192_SHA256).is_none());
        assert!(PublicKey::rsa(&n, &[], &RSA_PKCS1_2048_8192_SHA256).is_none());
        assert!(PublicKey::rsa(&[0, 1], &[3], &RSA_PKCS1_2048_8192_SHA256).is_none());
        assert!(PublicKey::ed25519(&[0; 31]).is_none());
    }
}
