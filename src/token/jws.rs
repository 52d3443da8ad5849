//! Compact JWS (RFC 7515 §7.1): split, decode and verify a token's three parts, each exactly
//! once, and assemble signed tokens.
//!
//! Decoding uses fixed stack buffers for the header and the signature and for small payloads,
//! so the accepted path allocates only what the claims themselves own.

use std::borrow::Cow;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, de::IgnoredAny};

use super::TokenError;
use crate::keys::VerifyingKey;

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
#[derive(Debug, Deserialize)]
pub(crate) struct Header<'a> {
    #[serde(borrow)]
    pub(crate) alg: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) typ: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) kid: Option<Cow<'a, str>>,
    pub(crate) crit: Option<IgnoredAny>,
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
fn decode_into<'b>(
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
pub(crate) fn with_header<R>(
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
pub(crate) fn verify_signature(
    compact: &Compact<'_>,
    key: &VerifyingKey,
) -> Result<(), TokenError> {
    let mut buf = [0u8; SIGNATURE_MAX];
    let signature = decode_into(compact.signature, &mut buf, "signature is not base64url")?;
    if key.verify(compact.signing_input.as_bytes(), signature) {
        Ok(())
    } else {
        Err(TokenError::InvalidSignature)
    }
}

/// Decodes the payload, passing the bytes to `f`.
pub(crate) fn with_payload<R>(
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
mod vectors;

#[cfg(test)]
mod tests {
    use super::*;

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
    fn non_canonical_base64_is_rejected() {
        let mut buf = [0u8; 16];
        assert!(decode_into("QQ", &mut buf, "x").is_ok());
        // Same byte with non-zero trailing bits, padding, and the standard alphabet.
        assert!(decode_into("QR", &mut buf, "x").is_err());
        assert!(decode_into("QQ==", &mut buf, "x").is_err());
        assert!(decode_into("+/8", &mut buf, "x").is_err());
    }
}
