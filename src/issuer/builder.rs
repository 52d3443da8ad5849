//! [`IssuerBuilder`]: lifetimes, policy and revocation backend of an [`Issuer`].

use std::{sync::Arc, time::Duration};

use super::{Issuer, issue::Config};
use crate::crypto::SystemRandom;
use crate::{
    clock::Clock,
    config::{ConfigError, Policy},
    keys::KeySet,
    store::{RevocationBackend, RevocationStore},
    token::VerifierBuilder,
};

/// Builds an [`Issuer`]. Defaults: access tokens 15 minutes, refresh tokens 14 days idle,
/// sessions 30 days absolute, no leeway, system clock, in-memory revocation.
///
/// The policy knobs (`with_issuer`, `with_audience`, `with_clock`, `with_leeway`,
/// `with_max_token_len`) are the ones of [`VerifierBuilder`]: the issuer writes with them and
/// its [`verifier`](Issuer::verifier) checks with them.
#[derive(Debug)]
#[must_use]
pub struct IssuerBuilder {
    keys: KeySet,
    policy: Policy,
    backend: Option<Arc<dyn RevocationBackend>>,
    store: Option<RevocationStore>,
    access_ttl: Duration,
    refresh_ttl: Duration,
    session_ttl: Duration,
}

impl Issuer {
    /// A builder for an issuer that signs with the signing key of `keys`.
    ///
    /// ```
    /// use tower_jwt_auth::{Issuer, KeySet, SigningKey};
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?))
    ///     .with_issuer("https://auth.example")
    ///     .with_audience("api")
    ///     .build()?;
    /// # let _ = issuer;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder(keys: KeySet) -> IssuerBuilder {
        IssuerBuilder {
            keys,
            policy: Policy::default(),
            backend: None,
            store: None,
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(14 * 24 * 3600),
            session_ttl: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

impl IssuerBuilder {
    /// The `iss` value: written into every issued token, and required of every verified one
    /// (a token without `iss` then fails).
    ///
    /// ```
    /// # use tower_jwt_auth::{Issuer, KeySet, SigningKey};
    /// # let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// let built = Issuer::builder(keys).with_issuer("https://auth.example").build()?;
    /// # let _ = built;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.policy.issuer = Some(issuer.into());
        self
    }

    /// The audience: written as `aud` into every issued token, and required among the `aud`
    /// of every verified one (a token without `aud` then fails).
    ///
    /// ```
    /// # use tower_jwt_auth::{Issuer, KeySet, SigningKey};
    /// # let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// let built = Issuer::builder(keys).with_audience("api").build()?;
    /// # let _ = built;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.policy.audience = Some(audience.into());
        self
    }

    /// The clock every time written and checked is read from (default the system clock);
    /// `clock::MockClock` (feature `test-util`) in tests.
    ///
    /// ```
    /// # use tower_jwt_auth::{Issuer, KeySet, SigningKey, clock::MockClock};
    /// # let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// let built = Issuer::builder(keys).with_clock(MockClock::at_secs(1_700_000_000)).build()?;
    /// # let _ = built;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.policy.clock = Arc::new(clock);
        self
    }

    /// Tolerance for clock skew on `exp`, `nbf` and `iat` (default 0, at most 300 s).
    ///
    /// Risk: every second of leeway is a second an expired token still works. Keep it to the
    /// skew you actually have between machines (a few seconds).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tower_jwt_auth::{Issuer, KeySet, SigningKey};
    /// # let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// let built = Issuer::builder(keys).with_leeway(Duration::from_secs(5)).build()?;
    /// # let _ = built;
    /// # let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// assert!(Issuer::builder(keys).with_leeway(Duration::from_secs(301)).build().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.policy.leeway = leeway;
        self
    }

    /// Tokens longer than `max` bytes are rejected before any decoding (default 8 KiB, at
    /// least 256).
    ///
    /// ```
    /// # use tower_jwt_auth::{Issuer, KeySet, SigningKey};
    /// # let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// assert!(Issuer::builder(keys).with_max_token_len(100).build().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_max_token_len(mut self, max: usize) -> Self {
        self.policy.max_len = max;
        self
    }

    /// Access-token lifetime (default 15 minutes). It is also the longest time a revoked
    /// access token would stay usable without a revocation check, so keep it short.
    ///
    /// ```
    /// # use tower_jwt_auth::{Issuer, KeySet, SigningKey};
    /// # let builder = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?));
    /// let builder = builder.with_access_ttl(std::time::Duration::from_secs(300));
    /// let issuer = builder.build()?;
    /// # let _ = issuer;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_access_ttl(mut self, value: Duration) -> Self {
        self.access_ttl = value;
        self
    }

    /// Refresh-token idle lifetime (default 14 days): a session not refreshed for this long
    /// ends. Each refresh renews it, never past the session's absolute expiry.
    ///
    /// ```
    /// # use tower_jwt_auth::{Issuer, KeySet, SigningKey};
    /// # let builder = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?));
    /// let builder = builder.with_refresh_ttl(std::time::Duration::from_secs(86_400));
    /// let issuer = builder.build()?;
    /// # let _ = issuer;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_refresh_ttl(mut self, value: Duration) -> Self {
        self.refresh_ttl = value;
        self
    }

    /// Absolute session lifetime (default 30 days), counted from login and never extended by
    /// refreshing.
    ///
    /// ```
    /// # use tower_jwt_auth::{Issuer, KeySet, SigningKey};
    /// # let builder = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?));
    /// let builder = builder.with_session_ttl(std::time::Duration::from_secs(90 * 86_400));
    /// let issuer = builder.build()?;
    /// # let _ = issuer;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_session_ttl(mut self, value: Duration) -> Self {
        self.session_ttl = value;
        self
    }

    /// Keeps session records and revocations in `backend`, shared between instances. Spawn
    /// `issuer.revocation().clone().run()` at start: until the shared state is loaded, every
    /// token is refused as [`RevocationUnavailable`](crate::token::TokenError::RevocationUnavailable).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use tower_jwt_auth::{Issuer, KeySet, SigningKey, store::MemoryBackend};
    /// # let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// let shared = Arc::new(MemoryBackend::new()); // or a database every instance reaches
    /// let issuer = Issuer::builder(keys).with_revocation_backend(shared).build()?;
    /// # let _ = issuer;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_revocation_backend(mut self, backend: Arc<dyn RevocationBackend>) -> Self {
        self.backend = Some(backend);
        self
    }

    /// Uses an existing revocation store (and the backend behind it) instead of making one:
    /// an issuer rebuilt with other settings keeps every session, logout and revocation of
    /// the one it replaces. The store reads its own clock; give it the issuer's.
    ///
    /// ```
    /// # use tower_jwt_auth::{Issuer, KeySet, SigningKey};
    /// # let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// let first = Issuer::builder(keys.clone()).build()?;
    /// let second = Issuer::builder(keys)
    ///     .with_revocation_store(first.revocation().clone())
    ///     .build()?;
    /// # let _ = second;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_revocation_store(mut self, store: RevocationStore) -> Self {
        self.store = Some(store);
        self
    }

    /// Checks the configuration and builds the issuer.
    ///
    /// Fails on a zero lifetime, an access lifetime longer than the refresh idle lifetime,
    /// an idle lifetime longer than the session, an empty `iss`/`aud`, or an invalid leeway
    /// or size cap.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tower_jwt_auth::{Issuer, KeySet, SigningKey};
    /// # let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// let err = Issuer::builder(keys).with_access_ttl(Duration::ZERO).build();
    /// assert!(err.is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(self) -> Result<Issuer, ConfigError> {
        let (access_ttl, refresh_ttl, session_ttl) = (
            self.access_ttl.as_secs(),
            self.refresh_ttl.as_secs(),
            self.session_ttl.as_secs(),
        );
        if access_ttl == 0 || refresh_ttl == 0 || session_ttl == 0 {
            return Err(ConfigError::Lifetime(
                "lifetimes must be at least one second",
            ));
        }
        if access_ttl > refresh_ttl {
            return Err(ConfigError::Lifetime(
                "the access lifetime must not exceed the refresh idle lifetime",
            ));
        }
        if refresh_ttl > session_ttl {
            return Err(ConfigError::Lifetime(
                "the refresh idle lifetime must not exceed the session lifetime",
            ));
        }
        self.policy.check()?;
        let revocation = match (self.store, self.backend) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::Conflict(
                    "give a revocation store or a backend for a new one, not both",
                ));
            }
            (Some(store), None) => store,
            (None, backend) => {
                let mut store =
                    RevocationStore::builder().with_shared_clock(self.policy.clock.clone());
                if let Some(backend) = backend {
                    store = store.with_backend(backend);
                }
                store.build()?
            }
        };
        let verifier = VerifierBuilder::from_policy(
            self.keys.clone(),
            self.policy.clone(),
            revocation.clone(),
        )
        .build()?;
        if self.keys.signing_kid().is_none() {
            return Err(ConfigError::Conflict(
                "an issuer needs a key set with a signing key (this one only verifies)",
            ));
        }
        Ok(Issuer {
            config: Arc::new(Config {
                keys: self.keys,
                clock: self.policy.clock,
                revocation,
                verifier,
                issuer: self.policy.issuer,
                audience: self.policy.audience,
                access_ttl,
                refresh_ttl,
                session_ttl,
                rng: SystemRandom::new(),
            }),
        })
    }
}
