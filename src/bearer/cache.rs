//! The verified-token cache of a [`BearerAuthLayer`](super::BearerAuthLayer): a token that
//! verified once is recognised on later requests by its exact bytes, and its parsed claims
//! are reused, so that the signature check and the JSON parse are skipped.
//!
//! What a hit still checks, on every request: that the key set is the version the token was
//! verified with (any change to the set — `publish`, `sign_with`, `retire`, a remote JWKS
//! refresh — makes every entry stale), `exp`, `nbf` and `iat` against the clock, and the
//! revocation store (ready, then `jti`, `sid`, `sub`). The layer checks the scopes after it.
//! Only successes are stored, and only tokens up to the per-entry size cap.

use std::{fmt, sync::Arc};

use serde::de::DeserializeOwned;

use crate::{
    telemetry,
    token::{Claims, TokenError, TokenKind, Verifier},
};

/// Default number of tokens a layer keeps.
pub(crate) const DEFAULT_CAPACITY: usize = 4096;
/// Default longest token kept, in bytes.
pub(crate) const DEFAULT_MAX_TOKEN_LEN: usize = 2048;

/// The cache's knobs, kept in the layer's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CacheSettings {
    /// Tokens kept; 0 turns the cache off.
    pub(crate) capacity: usize,
    /// Longer tokens are verified every time and never kept.
    pub(crate) max_token_len: usize,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            capacity: DEFAULT_CAPACITY,
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
        }
    }
}

/// One verified token: its claims and the key-set version that verified it.
struct Entry<T> {
    claims: Arc<Claims<T>>,
    generation: u64,
}

impl<T> Clone for Entry<T> {
    fn clone(&self) -> Self {
        Self {
            claims: self.claims.clone(),
            generation: self.generation,
        }
    }
}

/// Verified access tokens by their exact bytes: bounded (S3-FIFO eviction), sharded, safe
/// to share between threads; a lookup neither allocates nor waits for a writer of another
/// shard.
pub(crate) struct TokenCache<T> {
    map: quick_cache::sync::Cache<Box<str>, Entry<T>>,
    max_token_len: usize,
}

impl<T> fmt::Debug for TokenCache<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the tokens themselves.
        f.debug_struct("TokenCache")
            .field("len", &self.map.len())
            .field("capacity", &self.map.capacity())
            .field("max_token_len", &self.max_token_len)
            .finish()
    }
}

impl<T> TokenCache<T> {
    /// A cache with these settings, `None` when they turn it off.
    pub(crate) fn new(settings: CacheSettings) -> Option<Arc<Self>> {
        (settings.capacity > 0 && settings.max_token_len > 0).then(|| {
            Arc::new(Self {
                map: quick_cache::sync::Cache::new(settings.capacity),
                max_token_len: settings.max_token_len,
            })
        })
    }

    /// Number of tokens kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

impl<T: DeserializeOwned> TokenCache<T> {
    /// Verifies an access token with `verifier`, from the cache when it holds the token.
    pub(crate) fn verify(
        &self,
        verifier: &Verifier,
        token: &str,
    ) -> Result<Arc<Claims<T>>, TokenError> {
        // Read before verifying: a change of the key set between this read and the
        // verification leaves an entry tagged with an older version, which is never a hit.
        let generation = verifier.keys_generation();
        if let Some(entry) = self.map.get(token) {
            if entry.generation == generation {
                telemetry::cache_lookup(true);
                return match verifier.check_live(&entry.claims) {
                    Ok(()) => Ok(entry.claims),
                    Err(err) => {
                        if matches!(err, TokenError::Expired | TokenError::Revoked) {
                            // It can never pass again.
                            self.map.remove(token);
                        }
                        Err(err)
                    }
                };
            }
            // Verified with keys the set no longer is: verify again, from the bytes.
            self.map.remove(token);
        }
        telemetry::cache_lookup(false);
        let claims = Arc::new(verifier.verify(token, TokenKind::Access)?);
        if token.len() <= self.max_token_len {
            self.map.insert(
                token.into(),
                Entry {
                    claims: claims.clone(),
                    generation,
                },
            );
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use super::*;
    use crate::{
        clock::MockClock,
        issuer::Issuer,
        keys::{KeySet, SigningKey},
        store::{MemoryBackend, RevocationStore},
        token::NoCustomClaims,
    };

    fn issuer(clock: &MockClock) -> Issuer {
        Issuer::builder(KeySet::new(SigningKey::generate_ed25519().unwrap()))
            .with_clock(clock.clone())
            .build()
            .unwrap()
    }

    fn token(issuer: &Issuer) -> String {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let pair = runtime
            .block_on(crate::session::Sessions::new(issuer.clone()).start("alice"))
            .unwrap();
        pair.access_token().to_owned()
    }

    #[test]
    fn successes_are_kept_and_shared_failures_and_long_tokens_are_not() {
        let clock = MockClock::at_secs(1_800_000_000);
        let issuer = issuer(&clock);
        let verifier = issuer.verifier();
        let cache = TokenCache::<NoCustomClaims>::new(CacheSettings::default()).unwrap();
        let token = token(&issuer);

        let first = cache.verify(verifier, &token).unwrap();
        assert_eq!(cache.len(), 1);
        let second = cache.verify(verifier, &token).unwrap();
        assert!(Arc::ptr_eq(&first, &second), "a hit shares the kept claims");

        // A tampered signature, a refresh token, garbage: refused, never kept.
        let mut tampered = token.clone();
        let last = tampered.pop().unwrap();
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        assert!(cache.verify(verifier, &tampered).is_err());
        assert!(cache.verify(verifier, "a.b.c").is_err());
        assert_eq!(cache.len(), 1);

        // An expired kept token is refused and dropped.
        clock.advance(std::time::Duration::from_secs(24 * 3600));
        assert_eq!(
            cache.verify(verifier, &token).unwrap_err(),
            TokenError::Expired
        );
        assert_eq!(cache.len(), 0);

        // Over the per-entry cap: verified every time, never kept.
        let small = TokenCache::<NoCustomClaims>::new(CacheSettings {
            capacity: 16,
            max_token_len: 64,
        })
        .unwrap();
        let token = self::token(&issuer);
        assert!(small.verify(verifier, &token).is_ok());
        assert!(small.verify(verifier, &token).is_ok());
        assert_eq!(small.len(), 0);

        assert!(
            TokenCache::<NoCustomClaims>::new(CacheSettings {
                capacity: 0,
                max_token_len: 2048
            })
            .is_none()
        );
    }

    #[test]
    fn a_hit_fails_closed_when_the_revocation_state_is_unavailable() {
        let clock = MockClock::at_secs(1_800_000_000);
        let issuer = issuer(&clock);
        let cache = TokenCache::<NoCustomClaims>::new(CacheSettings::default()).unwrap();
        let token = token(&issuer);
        cache.verify(issuer.verifier(), &token).unwrap();
        assert_eq!(cache.len(), 1);

        // The same keys and clock, with a shared store that has not loaded yet.
        let unready = RevocationStore::builder()
            .with_backend(Arc::new(MemoryBackend::new()))
            .build()
            .unwrap();
        assert!(!unready.is_ready());
        let verifier = Verifier::builder(issuer.keys().clone())
            .with_clock(clock)
            .with_revocation(unready)
            .build()
            .unwrap();
        assert_eq!(
            cache.verify(&verifier, &token).unwrap_err(),
            TokenError::RevocationUnavailable
        );
        // Still kept: the token is fine, the state is not.
        assert_eq!(cache.len(), 1);
    }

    #[cfg(feature = "remote-jwks")]
    #[test]
    fn a_remote_refresh_that_drops_the_key_drops_its_kept_tokens() {
        let clock = MockClock::at_secs(1_800_000_000);
        let issuer = issuer(&clock);
        let cache = TokenCache::<NoCustomClaims>::new(CacheSettings::default()).unwrap();
        let token = token(&issuer);
        cache.verify(issuer.verifier(), &token).unwrap();
        // What a JWKS refresh does: the whole set replaced, here by one without the key.
        issuer.keys().replace_verifying(Vec::new());
        assert_eq!(
            cache.verify(issuer.verifier(), &token).unwrap_err(),
            TokenError::UnknownKey
        );
        assert_eq!(cache.len(), 0);
    }
}
