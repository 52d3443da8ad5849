//! Token forging: sign any header and claims with any key, and take tokens apart. The one
//! place the tests build malformed or hostile tokens and key material.

use aws_lc_rs::{
    hmac,
    rand::SystemRandom,
    signature::{Ed25519KeyPair, KeyPair},
};
use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use serde_json::Value;

/// The RFC 8037 appendix A.1 Ed25519 private key, as PKCS#8 DER.
pub fn rfc8037_pkcs8() -> Vec<u8> {
    STANDARD
        .decode("MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g")
        .unwrap()
}

/// DER in PEM armour with the given label ("PRIVATE KEY", "PUBLIC KEY").
pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// An Ed25519 public key as SubjectPublicKeyInfo DER (RFC 8410).
pub fn ed25519_spki(public_key: &[u8]) -> Vec<u8> {
    let mut spki = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    spki.extend_from_slice(public_key);
    spki
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes the header (0) or the payload (1) of a compact JWS.
pub fn jws_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Signs any header and claims: the means to build every malformed or hostile token.
pub enum Forger {
    Ed25519(Ed25519KeyPair),
    Hmac(Box<hmac::Key>),
}

impl Forger {
    pub fn ed25519(pkcs8: &[u8]) -> Self {
        Self::Ed25519(Ed25519KeyPair::from_pkcs8(pkcs8).unwrap())
    }

    pub fn random_ed25519() -> Self {
        let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        Self::ed25519(doc.as_ref())
    }

    pub fn hmac(alg: hmac::Algorithm, secret: &[u8]) -> Self {
        Self::Hmac(Box::new(hmac::Key::new(alg, secret)))
    }

    pub fn public_key(&self) -> Vec<u8> {
        match self {
            Self::Ed25519(pair) => pair.public_key().as_ref().to_vec(),
            Self::Hmac(_) => unreachable!("no public key"),
        }
    }

    pub fn sign_raw(&self, header_b64: &str, payload_b64: &str) -> String {
        let input = format!("{header_b64}.{payload_b64}");
        let sig = match self {
            Self::Ed25519(pair) => pair.sign(input.as_bytes()).as_ref().to_vec(),
            Self::Hmac(key) => hmac::sign(key, input.as_bytes()).as_ref().to_vec(),
        };
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        self.sign_raw(&b64(header.to_string()), &b64(claims.to_string()))
    }
}
