//! The signature layer alone, for key-loading tests against public test vectors (feature
//! `test-util`).

use super::{DEFAULT_MAX_TOKEN_LEN, TokenError, jws};
use crate::keys::{KeySet, VerifyingKey};

/// Runs `token` through the signature layer alone, with the key of `keys` that its header's
/// `kid` names; **checks no claims** (feature `test-util`).
///
/// The steps are the ones every [`Verifier`](super::Verifier) check starts with, run by the
/// same code in the same order, and nothing after them: the size cap
/// ([`DEFAULT_MAX_TOKEN_LEN`]), exactly three base64url parts, the header (`crit` refused,
/// `kid` present and naming a key of the set, `alg` equal to the algorithm that key is pinned
/// to), the signature over the exact received bytes, and the payload decoding as base64url.
/// Only the exact `typ` check, which the verifier makes before the key lookup, is left out.
///
/// Token type, `exp`, `nbf`, `iat`, `iss`, `aud`, the required claims and revocation are not
/// checked: a token this accepts may be expired, revoked, or not a token at all. It is for
/// tests of key loading against public test vectors (RFC 7520, Wycheproof), whose tokens were
/// never minted for this crate's policy. **Never use it to authorise a request**: that is
/// what the [`Verifier`](super::Verifier) is for.
///
/// # Example
///
/// ```
/// use tower_jwt_auth::{
///     KeySet, SigningKey,
///     keys::{Algorithm, Jwk, VerifyingKey},
///     token::{TokenError, verify_signature_only},
/// };
///
/// // RFC 7520 §4.4: an HMAC key, and a token that names it by `kid`.
/// let jwk: Jwk = serde_json::from_str(
///     r#"{"kty": "oct", "kid": "018c0ae5-4d9b-471b-bfd6-eef314bc7037", "use": "sig",
///         "alg": "HS256", "k": "hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg"}"#,
/// )?;
/// let token = concat!(
///     "eyJhbGciOiJIUzI1NiIsImtpZCI6IjAxOGMwYWU1LTRkOWItNDcxYi1iZmQ2LWVlZjMxNGJjNzAzNyJ9.",
///     "SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IHlvdXIgZG9vci4gWW91IHN0",
///     "ZXAgb250byB0aGUgcm9hZCwgYW5kIGlmIHlvdSBkb24ndCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5v",
///     "IGtub3dpbmcgd2hlcmUgeW91IG1pZ2h0IGJlIHN3ZXB0IG9mZiB0by4.",
///     "s0h6KThzkfBBBkLspW1h84VsJZFTsPPqMDA7g1Md7p0",
/// );
///
/// let keys = KeySet::new(SigningKey::generate_ed25519()?);
/// assert_eq!(verify_signature_only(&keys, token), Err(TokenError::UnknownKey));
///
/// keys.publish(VerifyingKey::from_jwk(&jwk, Algorithm::HS256)?)?;
/// verify_signature_only(&keys, token)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub fn verify_signature_only(keys: &KeySet, token: &str) -> Result<(), TokenError> {
    let keys = keys.load();
    jws::verify_layer(
        token,
        DEFAULT_MAX_TOKEN_LEN,
        |header| jws::key_by_kid(&keys, header),
        |_| Ok(()),
    )
}

/// Runs `token` through the signature layer alone, with `key`; **checks no claims** (feature
/// `test-util`).
///
/// The steps are the ones every [`Verifier`](super::Verifier) check starts with, run by the
/// same code in the same order, and nothing after them: the size cap
/// ([`DEFAULT_MAX_TOKEN_LEN`]), exactly three base64url parts, the header (`crit` refused,
/// `alg` equal to the algorithm `key` is pinned to; `kid` is not looked at), the signature
/// over the exact received bytes, and the payload decoding as base64url.
///
/// Token type, `exp`, `nbf`, `iat`, `iss`, `aud`, the required claims and revocation are not
/// checked: a token this accepts may be expired, revoked, or not a token at all. It is for
/// tests of key loading against public test vectors (RFC 7515, RFC 7520, RFC 8037,
/// Wycheproof), whose tokens were never minted for this crate's policy. **Never use it to
/// authorise a request**: that is what the [`Verifier`](super::Verifier) is for.
/// [`verify_signature_only`] chooses the key of a [`KeySet`] by `kid` instead.
///
/// # Example
///
/// ```
/// use tower_jwt_auth::{
///     KeySet, SigningKey, Verifier,
///     keys::{Algorithm, VerifyingKey},
///     token::{NoCustomClaims, TokenError, verify_signature_only_with_key},
/// };
///
/// // RFC 8037 appendix A.4: an Ed25519 signature over the text "Example of Ed25519 signing".
/// let pem = "-----BEGIN PUBLIC KEY-----\n\
///            MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n\
///            -----END PUBLIC KEY-----\n";
/// let key = VerifyingKey::from_pem(Algorithm::EdDSA, pem.as_bytes())?;
/// let token = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.\
///              hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
/// verify_signature_only_with_key(&key, token)?;
///
/// // Pinned to another algorithm, the same key material refuses it.
/// let hs256 = VerifyingKey::from_secret(Algorithm::HS256, &[7u8; 32])?;
/// assert_eq!(
///     verify_signature_only_with_key(&hs256, token),
///     Err(TokenError::AlgorithmMismatch)
/// );
///
/// // The verifier refuses it: it is not an access token (no `typ`, no `kid`, no claims).
/// let keys = KeySet::new(SigningKey::generate_ed25519()?).with_verifying_key(key)?;
/// let verifier = Verifier::builder(keys).build()?;
/// assert!(verifier.verify_access::<NoCustomClaims>(token).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub fn verify_signature_only_with_key(key: &VerifyingKey, token: &str) -> Result<(), TokenError> {
    jws::verify_layer(token, DEFAULT_MAX_TOKEN_LEN, |_| Ok(key), |_| Ok(()))
}
