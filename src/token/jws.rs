//! Compact JWS (RFC 7515 §7.1): split, decode and verify a token's three parts, each exactly
//! once ([`verify_layer`], the signature layer every verification starts with), and assemble
//! signed tokens.
//!
//! Decoding uses fixed stack buffers for the header and the signature and for small payloads,
//! so the accepted path allocates only what the claims themselves own.

use std::{borrow::Cow, fmt};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{
    Deserialize, Deserializer,
    de::{self, IgnoredAny, Visitor},
};

use super::TokenError;
use crate::keys::{Keys, VerifyingKey};

/// The signature layer: the steps every verification starts with, in this order, each on
/// data the one before it accepted.
///
/// 1. The size cap: a token longer than `max_len` is refused before any decoding.
/// 2. Exactly three base64url parts.
/// 3. The header: `crit` is refused; `select` applies any rule of its own and chooses the
///    key; `alg` must name the algorithm that key is pinned to.
/// 4. The signature, over the exact received `header.payload` bytes.
/// 5. The payload, decoded from base64url and handed to `payload`.
///
/// The [`Verifier`](super::Verifier) runs it with its own rules in `select` (exact `typ`,
/// then [`key_by_kid`]) and parses the claims in `payload`; the `test-util` functions
/// `verify_signature_only` and `verify_signature_only_with_key` run it alone.
pub(crate) fn verify_layer<'k, R>(
    token: &str,
    max_len: usize,
    select: impl FnOnce(&Header<'_>) -> Result<&'k VerifyingKey, TokenError>,
    payload: impl FnOnce(&[u8]) -> Result<R, TokenError>,
) -> Result<R, TokenError> {
    if token.len() > max_len {
        return Err(TokenError::TooLarge);
    }
    let compact = Compact::split(token)?;
    let key = with_header(&compact, |header| {
        if header.crit {
            return Err(TokenError::UnsupportedCritical);
        }
        let key = select(header)?;
        if header.alg.as_deref() != Some(key.algorithm().as_str()) {
            return Err(TokenError::AlgorithmMismatch);
        }
        Ok(key)
    })?;
    verify_signature(&compact, key)?;
    with_payload(&compact, payload)
}

/// Reads the `iss` of a token whose signature is not checked yet, to choose among the
/// verifiers of several issuers: `choose` gets the claimed issuer (`None` when absent) and
/// its answer is returned. Nothing else of the payload is trusted or kept.
pub(crate) fn claimed_issuer<R>(
    token: &str,
    max_len: usize,
    choose: impl FnOnce(Option<&str>) -> R,
) -> Result<R, TokenError> {
    #[derive(serde::Deserialize)]
    struct Claimed<'a> {
        #[serde(borrow, default)]
        iss: Option<Cow<'a, str>>,
    }
    if token.len() > max_len {
        return Err(TokenError::TooLarge);
    }
    let compact = Compact::split(token)?;
    with_payload(&compact, |bytes| {
        let claimed: Claimed<'_> = serde_json::from_slice(bytes)
            .map_err(|_| TokenError::Malformed("the payload is not a JSON object"))?;
        Ok(choose(claimed.iss.as_deref()))
    })
}

/// The key of `keys` that the header's `kid` names.
pub(crate) fn key_by_kid<'k>(
    keys: &'k Keys,
    header: &Header<'_>,
) -> Result<&'k VerifyingKey, TokenError> {
    let kid = header.kid.as_deref().ok_or(TokenError::MissingKid)?;
    keys.get(kid).ok_or(TokenError::UnknownKey)
}

/// The three base64url parts of a compact JWS.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Compact<'a> {
    /// `header.payload`: the bytes the signature covers, exactly as received.
    pub(crate) signing_input: &'a str,
    pub(crate) header: &'a str,
    pub(crate) payload: &'a str,
    pub(crate) signature: &'a str,
}

impl<'a> Compact<'a> {
    /// Splits a token into its parts; anything but exactly three non-empty-headed parts is
    /// malformed (a JWE has five, an unsecured JWS an empty signature).
    pub(crate) fn split(token: &'a str) -> Result<Self, TokenError> {
        let (signing_input, signature) = token
            .rsplit_once('.')
            .ok_or(TokenError::Malformed("not a compact JWS"))?;
        let (header, payload) = signing_input
            .split_once('.')
            .ok_or(TokenError::Malformed("not a compact JWS"))?;
        if payload.contains('.') {
            return Err(TokenError::Malformed("not a compact JWS"));
        }
        if header.is_empty() || payload.is_empty() || signature.is_empty() {
            return Err(TokenError::Malformed("empty token part"));
        }
        Ok(Self {
            signing_input,
            header,
            payload,
            signature,
        })
    }
}

/// The protected header parameters the verifier reads. `jwk`, `jku`, `x5u`, `x5c` and any
/// other key material in the header are ignored: keys only ever come from the key set.
///
/// The strings borrow from the decoded header unless they contain escapes (serde's own
/// `Option<Cow<str>>` always copies), so that reading a header allocates nothing.
#[derive(Debug, Deserialize)]
pub(crate) struct Header<'a> {
    #[serde(default, borrow, deserialize_with = "optional_str")]
    pub(crate) alg: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "optional_str")]
    pub(crate) typ: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "optional_str")]
    pub(crate) kid: Option<Cow<'a, str>>,
    /// Whether `crit` is present, whatever its value (`null` included): no extension is
    /// supported, so any `crit` refuses the token.
    #[serde(default, deserialize_with = "present")]
    pub(crate) crit: bool,
}

/// A string member, `null` as absent: borrowed from the input when it has no escapes.
pub(crate) fn optional_str<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Cow<'de, str>>, D::Error> {
    struct Text;
    impl<'de> Visitor<'de> for Text {
        type Value = Cow<'de, str>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Cow::Borrowed(v))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v.to_owned()))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v))
        }
    }
    struct Optional;
    impl<'de> Visitor<'de> for Optional {
        type Value = Option<Cow<'de, str>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or null")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_str(Text).map(Some)
        }
    }
    d.deserialize_option(Optional)
}

/// `true` for a member that is present, whatever its value.
pub(crate) fn present<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(d).map(|_| true)
}

/// Largest decoded header accepted.
const HEADER_MAX: usize = 1024;
/// Largest signature: RSA-8192.
const SIGNATURE_MAX: usize = 1024;
/// Payloads up to this size are decoded on the stack.
const PAYLOAD_STACK: usize = 2048;

fn decoded_len_bound(b64_len: usize) -> usize {
    b64_len.div_ceil(4) * 3
}

/// Decodes canonical unpadded base64url into `buf`, returning the filled prefix.
pub(crate) fn decode_into<'b>(
    input: &str,
    buf: &'b mut [u8],
    what: &'static str,
) -> Result<&'b [u8], TokenError> {
    if decoded_len_bound(input.len()) > buf.len() {
        return Err(TokenError::Malformed(what));
    }
    let n = URL_SAFE_NO_PAD
        .decode_slice(input, buf)
        .map_err(|_| TokenError::Malformed(what))?;
    buf.get(..n).ok_or(TokenError::Malformed(what))
}

/// Decodes and parses the header, passing it to `f` while its borrowed strings live.
fn with_header<R>(
    compact: &Compact<'_>,
    f: impl FnOnce(&Header<'_>) -> Result<R, TokenError>,
) -> Result<R, TokenError> {
    let mut buf = [0u8; HEADER_MAX];
    let bytes = decode_into(compact.header, &mut buf, "header is not base64url")?;
    let header: Header<'_> = serde_json::from_slice(bytes)
        .map_err(|_| TokenError::Malformed("header is not a valid JSON object"))?;
    f(&header)
}

/// Checks the signature over the exact received `header.payload` bytes.
fn verify_signature(compact: &Compact<'_>, key: &VerifyingKey) -> Result<(), TokenError> {
    let mut buf = [0u8; SIGNATURE_MAX];
    let signature = decode_into(compact.signature, &mut buf, "signature is not base64url")?;
    if key.verify(compact.signing_input.as_bytes(), signature) {
        Ok(())
    } else {
        Err(TokenError::InvalidSignature)
    }
}

/// Decodes the payload, passing the bytes to `f`.
fn with_payload<R>(
    compact: &Compact<'_>,
    f: impl FnOnce(&[u8]) -> Result<R, TokenError>,
) -> Result<R, TokenError> {
    const WHAT: &str = "payload is not base64url";
    if decoded_len_bound(compact.payload.len()) <= PAYLOAD_STACK {
        let mut buf = [0u8; PAYLOAD_STACK];
        f(decode_into(compact.payload, &mut buf, WHAT)?)
    } else {
        let bytes = URL_SAFE_NO_PAD
            .decode(compact.payload)
            .map_err(|_| TokenError::Malformed(WHAT))?;
        f(&bytes)
    }
}

/// Base64url-encodes a protected header for `alg`, `kid` and `typ`.
pub(crate) fn encode_header(alg: &str, kid: &str, typ: &str) -> String {
    let json = serde_json::json!({ "alg": alg, "kid": kid, "typ": typ });
    URL_SAFE_NO_PAD.encode(json.to_string())
}

/// `header_b64.base64url(payload)`, ready to be signed, with room for `.signature` after it.
pub(crate) fn signing_input(header_b64: &str, payload: &[u8]) -> String {
    // An Ed25519 signature is 86 base64url characters; longer ones grow the string once.
    let payload_len = base64::encoded_len(payload.len(), false).unwrap_or(0);
    let mut out = String::with_capacity(header_b64.len() + 1 + payload_len + 1 + 86);
    out.push_str(header_b64);
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Algorithm, Jwk};

    #[test]
    fn split_requires_exactly_three_parts() {
        assert!(Compact::split("a.b.c").is_ok());
        for bad in [
            "",
            "a",
            "a.b",
            "a.b.c.d",
            "a.b.c.d.e",
            ".b.c",
            "a..c",
            "a.b.",
        ] {
            assert!(Compact::split(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn header_strings_borrow_unless_escaped_and_null_is_absent() {
        let h: Header<'_> =
            serde_json::from_slice(br#"{"alg":"EdDSA","kid":"k\/1","typ":null}"#).unwrap();
        assert!(matches!(h.alg, Some(Cow::Borrowed("EdDSA"))));
        assert!(matches!(h.kid.as_deref(), Some("k/1")));
        assert!(matches!(h.kid, Some(Cow::Owned(_))));
        assert_eq!(h.typ, None);
        assert!(!h.crit);
        for bad in [
            &br#"{"alg":1}"#[..],
            br#"{"kid":["a"]}"#,
            br#"{"alg":"a","alg":"b"}"#,
        ] {
            assert!(serde_json::from_slice::<Header<'_>>(bad).is_err());
        }
    }

    #[test]
    fn non_canonical_base64_is_rejected() {
        let mut buf = [0u8; 16];
        assert!(decode_into("QQ", &mut buf, "x").is_ok());
        // Same byte with non-zero trailing bits, padding, and the standard alphabet.
        assert!(decode_into("QR", &mut buf, "x").is_err());
        assert!(decode_into("QQ==", &mut buf, "x").is_err());
        assert!(decode_into("+/8", &mut buf, "x").is_err());
    }

    /// RFC 7520 §4.2 signs with PS384, which this crate does not implement. The signature
    /// layer refuses the token at the `alg` rule (`tests/vectors.rs`); stepping over that
    /// rule, its signature verifies as neither RS256 nor PS256 with the same RSA key.
    #[test]
    fn rfc7520_ps384_signature_verifies_as_no_implemented_algorithm() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/vectors/jose-cookbook/jws/4_2.rsa-pss_signature.json");
        let bytes = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "test vector file {} cannot be read ({e}); the vectors are part of the repository",
                path.display()
            )
        });
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["input"]["alg"], "PS384");
        let jwk: Jwk = serde_json::from_value(v["input"]["key"].clone()).unwrap();
        let token = v["output"]["compact"].as_str().unwrap();
        let parts = Compact::split(token).unwrap();
        for alg in [Algorithm::RS256, Algorithm::PS256] {
            let key = VerifyingKey::from_jwk(&jwk, alg).unwrap();
            assert_eq!(
                verify_signature(&parts, &key),
                Err(TokenError::InvalidSignature),
                "{alg}"
            );
        }
    }
}
