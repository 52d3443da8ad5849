//! [`KeySet`]: the signing key and the keys that verify, by `kid`.

use std::sync::Arc;

use jsonwebtoken::jwk::JwkSet;

use super::{KeyError, SigningKey, VerifyingKey};
#[cfg(any(test, feature = "test-util"))]
use crate::token::{DEFAULT_MAX_TOKEN_LEN, TokenError, jws};

/// The keys of an issuer: one active signing key plus keys that still verify.
///
/// Rotation: [`rotate`](KeySet::rotate) makes a new key the signing key and keeps the old one
/// verifying, so tokens already issued stay valid until they expire; drop the old key with
/// [`remove`](KeySet::remove) once the longest token lifetime has passed. Cloning is a
/// reference-count bump.
///
/// # Example
///
/// ```
/// use tower_jwt_auth::{KeySet, SigningKey};
///
/// let old = SigningKey::generate_ed25519()?;
/// let old_kid = old.kid().to_owned();
/// let keys = KeySet::new(old).rotate(SigningKey::generate_ed25519()?)?;
/// assert_ne!(keys.signing_key().kid(), old_kid);
/// assert!(keys.get(&old_kid).is_some());
/// assert_eq!(keys.jwks().keys.len(), 2);
/// # Ok::<(), tower_jwt_auth::keys::KeyError>(())
/// ```
#[derive(Clone, Debug)]
pub struct KeySet {
    signing: Arc<SigningKey>,
    /// Every key that verifies, the signing key's included. Key sets are small, so a linear
    /// scan beats hashing the `kid`.
    verifying: Arc<[VerifyingKey]>,
}

impl KeySet {
    /// A key set that signs with `signing` (which also verifies).
    pub fn new(signing: SigningKey) -> Self {
        let verifying = Arc::from(vec![signing.verifying_key()]);
        Self {
            signing: Arc::new(signing),
            verifying,
        }
    }

    /// Adds a key that only verifies. Fails if its `kid` is already in the set.
    ///
    /// ```
    /// use tower_jwt_auth::{KeySet, SigningKey, keys::{Algorithm, VerifyingKey}};
    ///
    /// let keys = KeySet::new(SigningKey::generate_ed25519()?)
    ///     .with_verifying_key(VerifyingKey::from_secret(Algorithm::HS256, &[9u8; 32])?)?;
    /// assert_eq!(keys.verifying_keys().count(), 2);
    /// # Ok::<(), tower_jwt_auth::keys::KeyError>(())
    /// ```
    pub fn with_verifying_key(self, key: VerifyingKey) -> Result<Self, KeyError> {
        if self.get(key.kid()).is_some() {
            return Err(KeyError::DuplicateKid(key.kid().to_owned()));
        }
        let mut verifying = self.verifying.to_vec();
        verifying.push(key);
        Ok(Self {
            signing: self.signing,
            verifying: verifying.into(),
        })
    }

    /// Makes `signing` the signing key; the previous one keeps verifying.
    /// Fails if the new key's `kid` is already in the set.
    pub fn rotate(self, signing: SigningKey) -> Result<Self, KeyError> {
        if self.get(signing.kid()).is_some() {
            return Err(KeyError::DuplicateKid(signing.kid().to_owned()));
        }
        let mut verifying = self.verifying.to_vec();
        verifying.push(signing.verifying_key());
        Ok(Self {
            signing: Arc::new(signing),
            verifying: verifying.into(),
        })
    }

    /// Removes a verification key; tokens signed with it stop verifying. The signing key
    /// cannot be removed (`self` is returned unchanged).
    ///
    /// ```
    /// use tower_jwt_auth::{KeySet, SigningKey};
    ///
    /// let old = SigningKey::generate_ed25519()?;
    /// let old_kid = old.kid().to_owned();
    /// let keys = KeySet::new(old).rotate(SigningKey::generate_ed25519()?)?.remove(&old_kid);
    /// assert!(keys.get(&old_kid).is_none());
    /// # Ok::<(), tower_jwt_auth::keys::KeyError>(())
    /// ```
    pub fn remove(self, kid: &str) -> Self {
        if kid == self.signing.kid() {
            return self;
        }
        let verifying: Vec<_> = self
            .verifying
            .iter()
            .filter(|k| k.kid() != kid)
            .cloned()
            .collect();
        Self {
            signing: self.signing,
            verifying: verifying.into(),
        }
    }

    /// The active signing key.
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    /// The verification key with this `kid`.
    pub fn get(&self, kid: &str) -> Option<&VerifyingKey> {
        self.verifying.iter().find(|k| &*k.kid == kid)
    }

    /// Runs `token` through the signature layer alone, with the key its header's `kid`
    /// names; **checks no claims** (feature `test-util`).
    ///
    /// The steps are the ones every [`Verifier`](crate::Verifier) check starts with, run by
    /// the same code in the same order, and nothing after them: the size cap
    /// ([`DEFAULT_MAX_TOKEN_LEN`]), exactly three base64url parts, the header (`crit`
    /// refused, `kid` present and naming a key of this set, `alg` equal to the algorithm
    /// that key is pinned to), the signature over the exact received bytes, and the payload
    /// decoding as base64url. Only the exact `typ` check, which the verifier makes before
    /// the key lookup, is left out.
    ///
    /// Token type, `exp`, `nbf`, `iat`, `iss`, `aud`, the required claims and revocation are
    /// not checked: a token this accepts may be expired, revoked, or not a token at all. It
    /// is for tests of key loading against public test vectors (RFC 7520, Wycheproof), whose
    /// tokens were never minted for this crate's policy. **Never use it to authorise a
    /// request**: that is what the [`Verifier`](crate::Verifier) is for.
    ///
    /// # Example
    ///
    /// ```
    /// use tower_jwt_auth::{
    ///     KeySet, SigningKey,
    ///     keys::{Algorithm, Jwk, VerifyingKey},
    ///     token::TokenError,
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
    /// assert_eq!(keys.verify_signature_only(token), Err(TokenError::UnknownKey));
    ///
    /// let keys = keys.with_verifying_key(VerifyingKey::from_jwk(&jwk, Algorithm::HS256)?)?;
    /// keys.verify_signature_only(token)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(any(test, feature = "test-util"))]
    #[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
    pub fn verify_signature_only(&self, token: &str) -> Result<(), TokenError> {
        jws::verify_layer(
            token,
            DEFAULT_MAX_TOKEN_LEN,
            |header| jws::key_by_kid(self, header),
            |_| Ok(()),
        )
    }

    /// Every verification key, the signing key's included.
    pub fn verifying_keys(&self) -> impl Iterator<Item = &VerifyingKey> {
        self.verifying.iter()
    }

    /// The public keys as a JWKS document (RFC 7517 §5). Private keys and HMAC secrets are
    /// never included.
    ///
    /// ```
    /// use tower_jwt_auth::{KeySet, SigningKey, keys::Algorithm};
    ///
    /// let keys = KeySet::new(SigningKey::from_secret(Algorithm::HS256, &[3u8; 32])?);
    /// assert!(keys.jwks().keys.is_empty());
    /// # Ok::<(), tower_jwt_auth::keys::KeyError>(())
    /// ```
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: self
                .verifying
                .iter()
                .filter_map(VerifyingKey::to_jwk)
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Algorithm;

    #[test]
    fn duplicate_kids_are_refused() {
        let key = SigningKey::generate_ed25519().unwrap();
        let same = key.verifying_key();
        assert!(matches!(
            KeySet::new(key).with_verifying_key(same),
            Err(KeyError::DuplicateKid(_))
        ));
    }

    #[test]
    fn jwks_contains_public_keys_only() {
        let keys = KeySet::new(SigningKey::generate_ed25519().unwrap())
            .with_verifying_key(VerifyingKey::from_secret(Algorithm::HS256, &[5; 32]).unwrap())
            .unwrap();
        let json = serde_json::to_value(keys.jwks()).unwrap();
        let list = json["keys"].as_array().unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["kty"], "OKP");
        assert_eq!(list[0]["alg"], "EdDSA");
        assert!(list[0].get("d").is_none());
        assert!(list[0].get("k").is_none());
    }
}
