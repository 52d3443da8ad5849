//! [`KeySet`]: the signing key and the keys that verify, by `kid`, shared and swapped
//! atomically so that keys can change while the service runs.

use std::{
    fmt,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
};

use arc_swap::{ArcSwap, Guard};
use bytes::Bytes;

use super::{JwkSet, KeyError, SigningKey, VerifyingKey};

/// One version of a key set: what each signature and verification reads, never changed
/// once made.
pub(crate) struct Keys {
    signing: Option<Arc<SigningKey>>,
    /// Every key that verifies, the signing key's included. Key sets are small, so a linear
    /// scan beats hashing the `kid`.
    verifying: Box<[VerifyingKey]>,
    /// The public keys as a JWKS document, serialised once per version.
    jwks: Bytes,
    /// This version's number, unique in the process: every change of any set makes a new
    /// one, so that what was verified with an older version can tell.
    generation: u64,
}

/// The next version number of any key set.
static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);

impl Keys {
    fn new(signing: Option<Arc<SigningKey>>, verifying: Vec<VerifyingKey>) -> Self {
        let document = JwkSet::new(verifying.iter().filter_map(VerifyingKey::to_jwk).collect());
        let jwks = serde_json::to_vec(&document).unwrap_or_else(|_| b"{\"keys\":[]}".to_vec());
        Self {
            signing,
            verifying: verifying.into_boxed_slice(),
            jwks: Bytes::from(jwks),
            generation: NEXT_GENERATION.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// The key that signs, if the set has one.
    pub(crate) fn signing(&self) -> Option<&SigningKey> {
        self.signing.as_deref()
    }

    /// The verification key with this `kid`.
    pub(crate) fn get(&self, kid: &str) -> Option<&VerifyingKey> {
        self.verifying.iter().find(|k| k.kid() == kid)
    }

    /// The JWKS document of this version.
    pub(crate) fn jwks_document(&self) -> Bytes {
        self.jwks.clone()
    }
}

struct Shared {
    current: ArcSwap<Keys>,
    /// Serialises the changes (reads never wait for it).
    change: Mutex<()>,
    /// Told when a token names a `kid` this set lacks: the set of a remote JWKS, which then
    /// refetches (rate-limited).
    #[cfg(feature = "remote-jwks")]
    unknown_kid: Option<Arc<super::unknown_kid::UnknownKid>>,
}

/// The keys of an issuer or a resource server: at most one signing key, and the keys that
/// verify, each selected by its `kid`.
///
/// A `KeySet` is a handle: its clones — held by the [`Issuer`](crate::Issuer), every
/// [`Verifier`](crate::Verifier), [`BearerAuthLayer`](crate::BearerAuthLayer) and
/// [`JwksService`](crate::endpoints::JwksService) — share one set, read on every token
/// without a lock. [`publish`](Self::publish), [`sign_with`](Self::sign_with) and
/// [`retire`](Self::retire) change it for all of them at once, atomically, while the
/// service runs; nothing else is rebuilt and no session or revocation state is touched.
///
/// # Rotation
///
/// 1. `publish` the next key, so that it is in the JWKS document before any token is
///    signed with it (resource servers that cache the JWKS learn it in advance);
/// 2. `sign_with` it: new tokens are signed with it, and the previous signing key keeps
///    verifying the tokens it signed;
/// 3. `retire` the previous key once the longest-lived token it signed has expired (the
///    refresh idle lifetime, capped by the session lifetime, plus the leeway).
///
/// ```
/// use tower_jwt_auth::{KeySet, SigningKey};
///
/// let keys = KeySet::new(SigningKey::generate_ed25519()?);
/// let old_kid = keys.signing_kid().expect("a signing key");
///
/// let next = SigningKey::generate_ed25519()?;
/// keys.publish(next.verifying_key())?;      // 1. in the JWKS, not signing yet
/// assert_eq!(keys.jwks().keys.len(), 2);
/// let next_kid = next.kid().to_owned();
/// keys.sign_with(next)?;                    // 2. signs from now on
/// assert_eq!(keys.signing_kid().as_deref(), Some(next_kid.as_str()));
/// keys.retire(&old_kid)?;                   // 3. once its tokens have expired
/// assert!(!keys.contains(&old_kid));
/// # Ok::<(), tower_jwt_auth::keys::KeyError>(())
/// ```
#[derive(Clone)]
pub struct KeySet {
    shared: Arc<Shared>,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self.load();
        f.debug_struct("KeySet")
            .field("signing", &keys.signing)
            .field("verifying", &keys.verifying)
            .finish()
    }
}

impl KeySet {
    fn from_keys(keys: Keys) -> Self {
        Self {
            shared: Arc::new(Shared {
                current: ArcSwap::from_pointee(keys),
                change: Mutex::new(()),
                #[cfg(feature = "remote-jwks")]
                unknown_kid: None,
            }),
        }
    }

    /// The empty verify-only set of a remote JWKS: `signal` is told of every token naming a
    /// `kid` the set lacks.
    #[cfg(feature = "remote-jwks")]
    pub(crate) fn remote(signal: Arc<super::unknown_kid::UnknownKid>) -> Self {
        Self {
            shared: Arc::new(Shared {
                current: ArcSwap::from_pointee(Keys::new(None, Vec::new())),
                change: Mutex::new(()),
                unknown_kid: Some(signal),
            }),
        }
    }

    /// Replaces the whole set with `verifying` (no signing key), atomically: a token is
    /// checked against either the previous set or this one, never a mix. The keys must have
    /// distinct `kid`s.
    #[cfg(feature = "remote-jwks")]
    pub(crate) fn replace_verifying(&self, verifying: Vec<VerifyingKey>) {
        let keys = Keys::new(None, verifying);
        let _serialised = self
            .shared
            .change
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.shared.current.store(Arc::new(keys));
    }

    /// A token named a `kid` this set lacks: tells the remote JWKS feeding the set, if any.
    /// Never blocks, allocates or takes a lock.
    #[inline]
    pub(crate) fn note_unknown_kid(&self) {
        #[cfg(feature = "remote-jwks")]
        if let Some(signal) = &self.shared.unknown_kid {
            signal.poke();
        }
    }

    /// A key set that signs with `signing` (which also verifies).
    ///
    /// ```
    /// use tower_jwt_auth::{KeySet, SigningKey};
    ///
    /// let key = SigningKey::generate_ed25519()?;
    /// let kid = key.kid().to_owned();
    /// let keys = KeySet::new(key);
    /// assert_eq!(keys.signing_kid(), Some(kid));
    /// # Ok::<(), tower_jwt_auth::keys::KeyError>(())
    /// ```
    pub fn new(signing: SigningKey) -> Self {
        let verifying = vec![signing.verifying_key()];
        Self::from_keys(Keys::new(Some(Arc::new(signing)), verifying))
    }

    /// A key set that only verifies (a resource server): no key signs. Fails on two keys
    /// with one `kid`.
    ///
    /// ```
    /// use tower_jwt_auth::{KeySet, SigningKey};
    ///
    /// let issuers_key = SigningKey::generate_ed25519()?.verifying_key();
    /// let keys = KeySet::verify_only([issuers_key])?;
    /// assert_eq!(keys.signing_kid(), None);
    /// # Ok::<(), tower_jwt_auth::keys::KeyError>(())
    /// ```
    pub fn verify_only(keys: impl IntoIterator<Item = VerifyingKey>) -> Result<Self, KeyError> {
        let mut verifying: Vec<VerifyingKey> = Vec::new();
        for key in keys {
            if verifying.iter().any(|k| k.kid() == key.kid()) {
                return Err(KeyError::DuplicateKid(key.kid().to_owned()));
            }
            verifying.push(key);
        }
        Ok(Self::from_keys(Keys::new(None, verifying)))
    }

    /// A verify-only key set from a JWK set (another issuer's JWKS document). Each key is
    /// pinned to [`Jwk::algorithm`](super::Jwk::algorithm) (its `alg`, or the only one its
    /// key type allows) and loaded with
    /// [`VerifyingKey::from_jwk`](super::VerifyingKey::from_jwk) (`use` and `key_ops` can
    /// only narrow it). Strict: any key that cannot be loaded fails the whole set, so that a
    /// typo in a configured JWKS is found at start.
    ///
    /// ```
    /// use tower_jwt_auth::{KeySet, SigningKey, keys::JwkSet};
    ///
    /// let issuer_keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// let document: JwkSet = serde_json::from_str(&serde_json::to_string(&issuer_keys.jwks())?)?;
    /// let keys = KeySet::from_jwks(&document)?;
    /// assert!(keys.contains(&issuer_keys.signing_kid().expect("signing key")));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_jwks(set: &JwkSet) -> Result<Self, KeyError> {
        let keys = set
            .keys
            .iter()
            .map(|jwk| VerifyingKey::from_jwk(jwk, jwk.algorithm()?))
            .collect::<Result<Vec<_>, _>>()?;
        Self::verify_only(keys)
    }

    /// Adds a key that only verifies, at set-up. Fails if its `kid` is already in the set.
    ///
    /// ```
    /// use tower_jwt_auth::{KeySet, SigningKey, keys::{Algorithm, VerifyingKey}};
    ///
    /// let keys = KeySet::new(SigningKey::generate_ed25519()?)
    ///     .with_verifying_key(VerifyingKey::from_secret(Algorithm::HS256, &[9u8; 32])?)?;
    /// assert_eq!(keys.verifying_keys().len(), 2);
    /// # Ok::<(), tower_jwt_auth::keys::KeyError>(())
    /// ```
    pub fn with_verifying_key(self, key: VerifyingKey) -> Result<Self, KeyError> {
        self.publish(key)?;
        Ok(self)
    }

    /// The current version; lock-free.
    pub(crate) fn load(&self) -> Guard<Arc<Keys>> {
        self.shared.current.load()
    }

    /// The number of the current version: it changes with every [`publish`](Self::publish),
    /// [`sign_with`](Self::sign_with), [`retire`](Self::retire) and remote JWKS refresh, and
    /// is never reused, so a token verified under one number was verified with exactly the
    /// keys of that version. Lock-free.
    pub(crate) fn generation(&self) -> u64 {
        self.load().generation
    }

    /// Makes the next version from the current one, under the change lock.
    fn change(
        &self,
        next: impl FnOnce(&Keys) -> Result<Option<Keys>, KeyError>,
    ) -> Result<(), KeyError> {
        let _serialised = self
            .shared
            .change
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let current = self.shared.current.load_full();
        if let Some(keys) = next(&current)? {
            self.shared.current.store(Arc::new(keys));
        }
        Ok(())
    }

    /// Adds a key that verifies (and appears in the JWKS) without signing: the first step of
    /// a rotation, or a key of another issuer. Seen by every clone at once. Fails if another
    /// key has its `kid`; publishing the same key again changes nothing.
    ///
    /// ```
    /// use tower_jwt_auth::{KeySet, SigningKey};
    ///
    /// let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// let next = SigningKey::generate_ed25519()?;
    /// keys.clone().publish(next.verifying_key())?;
    /// assert!(keys.contains(next.kid()));
    /// # Ok::<(), tower_jwt_auth::keys::KeyError>(())
    /// ```
    pub fn publish(&self, key: VerifyingKey) -> Result<(), KeyError> {
        self.change(|keys| match keys.get(key.kid()) {
            Some(known) if known.same_key(&key) => Ok(None),
            Some(_) => Err(KeyError::DuplicateKid(key.kid().to_owned())),
            None => {
                let mut verifying = keys.verifying.to_vec();
                verifying.push(key);
                Ok(Some(Keys::new(keys.signing.clone(), verifying)))
            }
        })
    }

    /// Makes `signing` the signing key, for every clone at once; the previous signing key
    /// keeps verifying. The key may have been [`publish`](Self::publish)ed before (the
    /// recommended order); fails if another key has its `kid`.
    ///
    /// ```
    /// use tower_jwt_auth::{KeySet, SigningKey};
    ///
    /// let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// let next = SigningKey::generate_ed25519()?;
    /// let kid = next.kid().to_owned();
    /// keys.sign_with(next)?;
    /// assert_eq!(keys.signing_kid(), Some(kid));
    /// assert_eq!(keys.verifying_keys().len(), 2);
    /// # Ok::<(), tower_jwt_auth::keys::KeyError>(())
    /// ```
    pub fn sign_with(&self, signing: SigningKey) -> Result<(), KeyError> {
        let public = signing.verifying_key();
        let signing = Arc::new(signing);
        self.change(|keys| {
            let mut verifying = keys.verifying.to_vec();
            match keys.get(public.kid()) {
                Some(known) if known.same_key(&public) => {}
                Some(_) => return Err(KeyError::DuplicateKid(public.kid().to_owned())),
                None => verifying.push(public),
            }
            Ok(Some(Keys::new(Some(signing), verifying)))
        })
    }

    /// Removes the key `kid`, for every clone at once: tokens it signed stop verifying and
    /// it leaves the JWKS. Retire a former signing key only once every token it signed has
    /// expired. The signing key cannot be retired ([`KeyError::SigningKeyInUse`]); an
    /// unknown `kid` changes nothing.
    ///
    /// ```
    /// use tower_jwt_auth::{KeySet, SigningKey, keys::KeyError};
    ///
    /// let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// let kid = keys.signing_kid().expect("a signing key");
    /// assert!(matches!(keys.retire(&kid), Err(KeyError::SigningKeyInUse(_))));
    /// # Ok::<(), tower_jwt_auth::keys::KeyError>(())
    /// ```
    pub fn retire(&self, kid: &str) -> Result<(), KeyError> {
        self.change(|keys| {
            if keys.signing().is_some_and(|s| s.kid() == kid) {
                return Err(KeyError::SigningKeyInUse(kid.to_owned()));
            }
            if keys.get(kid).is_none() {
                return Ok(None);
            }
            let verifying = keys
                .verifying
                .iter()
                .filter(|k| k.kid() != kid)
                .cloned()
                .collect();
            Ok(Some(Keys::new(keys.signing.clone(), verifying)))
        })
    }

    /// The `kid` of the signing key; `None` for a verify-only set.
    pub fn signing_kid(&self) -> Option<String> {
        self.load().signing().map(|k| k.kid().to_owned())
    }

    /// `true` when a key with this `kid` verifies.
    pub fn contains(&self, kid: &str) -> bool {
        self.load().get(kid).is_some()
    }

    /// The verification key with this `kid`.
    pub fn get(&self, kid: &str) -> Option<VerifyingKey> {
        self.load().get(kid).cloned()
    }

    /// Every verification key, the signing key's included.
    pub fn verifying_keys(&self) -> Vec<VerifyingKey> {
        self.load().verifying.to_vec()
    }

    /// The public keys as a JWK set (RFC 7517 §5). Private keys and HMAC secrets are never
    /// included.
    ///
    /// ```
    /// use tower_jwt_auth::{KeySet, SigningKey, keys::Algorithm};
    ///
    /// let keys = KeySet::new(SigningKey::from_secret(Algorithm::HS256, &[3u8; 32])?);
    /// assert!(keys.jwks().keys.is_empty());
    /// # Ok::<(), tower_jwt_auth::keys::KeyError>(())
    /// ```
    pub fn jwks(&self) -> JwkSet {
        JwkSet::new(
            self.load()
                .verifying
                .iter()
                .filter_map(VerifyingKey::to_jwk)
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Algorithm;

    #[test]
    fn duplicate_kids_are_refused() {
        let key = SigningKey::generate_ed25519().unwrap();
        let other = SigningKey::generate_ed25519()
            .unwrap()
            .with_kid(key.kid())
            .unwrap();
        let keys = KeySet::new(key);
        assert!(matches!(
            keys.publish(other.verifying_key()),
            Err(KeyError::DuplicateKid(_))
        ));
        assert!(matches!(
            keys.sign_with(other),
            Err(KeyError::DuplicateKid(_))
        ));
    }

    #[test]
    fn publishing_then_signing_with_a_key_is_one_key() {
        let keys = KeySet::new(SigningKey::generate_ed25519().unwrap());
        let next = SigningKey::generate_ed25519().unwrap();
        keys.publish(next.verifying_key()).unwrap();
        keys.publish(next.verifying_key()).unwrap();
        keys.sign_with(next).unwrap();
        assert_eq!(keys.verifying_keys().len(), 2);
        assert_eq!(keys.jwks().keys.len(), 2);
    }

    #[test]
    fn every_clone_sees_each_change_and_the_jwks_document_follows() {
        let keys = KeySet::new(SigningKey::generate_ed25519().unwrap());
        let clone = keys.clone();
        let old = keys.signing_kid().unwrap();
        let before = keys.load().jwks_document();
        let next = SigningKey::generate_ed25519().unwrap();
        let next_kid = next.kid().to_owned();
        clone.sign_with(next).unwrap();
        assert_eq!(keys.signing_kid().as_deref(), Some(next_kid.as_str()));
        let after = keys.load().jwks_document();
        assert_ne!(before, after);
        assert!(String::from_utf8_lossy(&after).contains(&next_kid));
        clone.retire(&old).unwrap();
        assert!(!keys.contains(&old));
        assert!(!String::from_utf8_lossy(&keys.load().jwks_document()).contains(&old));
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
        assert_eq!(list[0]["use"], "sig");
        assert!(list[0].get("d").is_none());
        assert!(list[0].get("k").is_none());
        assert_eq!(
            keys.load().jwks_document(),
            serde_json::to_vec(&keys.jwks()).unwrap()
        );
    }

    #[test]
    fn a_jwks_document_loads_as_a_verify_only_set() {
        let issuer = KeySet::new(SigningKey::generate_ed25519().unwrap());
        let set: JwkSet = serde_json::from_slice(&issuer.load().jwks_document()).unwrap();
        let keys = KeySet::from_jwks(&set).unwrap();
        assert_eq!(keys.signing_kid(), None);
        assert!(keys.contains(&issuer.signing_kid().unwrap()));
        // An RSA key without `alg` is ambiguous; an unknown `alg` is refused.
        let ambiguous: JwkSet =
            serde_json::from_str(r#"{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}"#).unwrap();
        assert!(matches!(
            KeySet::from_jwks(&ambiguous),
            Err(KeyError::AmbiguousAlgorithm)
        ));
        let none: JwkSet =
            serde_json::from_str(r#"{"keys":[{"kty":"oct","alg":"none","k":"AAAA"}]}"#).unwrap();
        assert!(matches!(
            KeySet::from_jwks(&none),
            Err(KeyError::UnsupportedAlgorithm)
        ));
    }
}
