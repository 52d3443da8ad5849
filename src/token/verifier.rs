//! The verifier: decodes and validates a token of an expected kind.
//!
//! The rules run in a fixed order, cheapest and least trusting first:
//! size cap → header (`crit`, exact `typ`, `kid` lookup, `alg` pinned to that key) →
//! signature → claims (required claims present) → `exp`/`nbf`/`iat` against the [`Clock`] →
//! `iss`/`aud` → revocation. Nothing after the signature check runs on unauthenticated data.

use std::{sync::Arc, time::Duration};

use serde::de::DeserializeOwned;

use super::{Claims, TokenError, TokenKind, jws};
use crate::{
    clock::Clock,
    config::{ConfigError, Policy},
    keys::KeySet,
    store::RevocationStore,
};

#[derive(Debug, Clone)]
struct Config {
    keys: KeySet,
    clock: Arc<dyn Clock>,
    revocation: Option<RevocationStore>,
    issuer: Option<Box<str>>,
    audience: Option<Box<str>>,
    leeway: u64,
    max_len: usize,
}

/// Verifies tokens: signature with the key of `kid` pinned to its algorithm, exact token
/// type, required claims, times on the configured [`Clock`], issuer, audience, revocation.
///
/// Cloning is a reference-count bump; share one verifier between every request.
///
/// # Example
///
/// ```
/// use tower_jwt_auth::{Claims, Issuer, KeySet, SigningKey, token::{NoCustomClaims, TokenError}};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?))
///     .with_issuer("https://auth.example")
///     .with_audience("api")
///     .build()?;
/// let pair = tower_jwt_auth::Sessions::new(issuer.clone()).start("alice").await?;
///
/// let claims: Claims = issuer.verifier().verify_access(pair.access_token())?;
/// assert_eq!(claims.sub, "alice");
///
/// // A refresh token is never accepted as an access token.
/// let err = issuer.verifier().verify_access::<NoCustomClaims>(pair.refresh_token());
/// assert!(matches!(err, Err(TokenError::WrongType { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Verifier {
    /// One issuer's configuration; several ([`Verifier::for_issuers`]), each with its `iss`.
    /// Never empty.
    configs: Arc<[Config]>,
}

impl Verifier {
    /// A builder for a verifier that trusts `keys`.
    ///
    /// ```
    /// use tower_jwt_auth::{KeySet, SigningKey, Verifier};
    ///
    /// let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// let verifier = Verifier::builder(keys).with_audience("api").build()?;
    /// # let _ = verifier;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder(keys: KeySet) -> VerifierBuilder {
        VerifierBuilder {
            keys,
            policy: Policy::default(),
            revocation: None,
        }
    }

    /// Verifies an access token and returns its claims.
    pub fn verify_access<T: DeserializeOwned>(&self, token: &str) -> Result<Claims<T>, TokenError> {
        self.verify(token, TokenKind::Access)
    }

    /// Verifies a refresh token (without consuming it) and returns its claims.
    pub fn verify_refresh<T: DeserializeOwned>(
        &self,
        token: &str,
    ) -> Result<Claims<T>, TokenError> {
        self.verify(token, TokenKind::Refresh)
    }

    /// Verifies a token of the expected `kind`, revocation included.
    pub fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        kind: TokenKind,
    ) -> Result<Claims<T>, TokenError> {
        let c = self.select_for(token)?;
        let claims = c.verify_unrevoked(token, kind)?;
        c.check_revocation(&claims, kind)?;
        Ok(claims)
    }

    /// A verifier for tokens of several issuers, each checked only with its own
    /// verifier: its keys, audience, leeway, size cap and revocation store. A token is
    /// routed by the `iss` it claims (read before anything is trusted), then verified from
    /// scratch by that issuer's verifier alone, so a key of one issuer never verifies a
    /// token claiming another; a token without `iss`, or claiming none of them, is refused.
    ///
    /// Each verifier must require an issuer ([`VerifierBuilder::with_issuer`]), no two the
    /// same, and be a verifier of one issuer: else [`ConfigError::Conflict`].
    /// [`keys`](Self::keys), [`clock`](Self::clock), [`issuer`](Self::issuer) and
    /// [`revocation`](Self::revocation) answer for the first one.
    ///
    /// ```
    /// use tower_jwt_auth::{BearerAuthLayer, Claims, Issuer, KeySet, Sessions, SigningKey, Verifier};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let staff = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?))
    ///     .with_issuer("https://staff.example").with_audience("api").build()?;
    /// let customers = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?))
    ///     .with_issuer("https://customers.example").with_audience("api").build()?;
    /// let both = Verifier::for_issuers([staff.verifier().clone(), customers.verifier().clone()])?;
    /// let pair = Sessions::new(customers).start("carol").await?;
    /// let claims: Claims = both.verify_access(pair.access_token())?;
    /// assert_eq!(claims.iss.as_deref(), Some("https://customers.example"));
    /// let layer = BearerAuthLayer::new(both);
    /// # let _ = layer;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn for_issuers(
        verifiers: impl IntoIterator<Item = Verifier>,
    ) -> Result<Verifier, ConfigError> {
        let mut configs: Vec<Config> = Vec::new();
        for verifier in verifiers {
            let [config] = &*verifier.configs else {
                return Err(ConfigError::Conflict(
                    "a verifier of several issuers cannot be one of several issuers",
                ));
            };
            let Some(issuer) = config.issuer.as_deref() else {
                return Err(ConfigError::Conflict(
                    "each verifier of several issuers must require its `iss`",
                ));
            };
            if configs.iter().any(|c| c.issuer.as_deref() == Some(issuer)) {
                return Err(ConfigError::Conflict("two verifiers of one issuer"));
            }
            configs.push(config.clone());
        }
        if configs.is_empty() {
            return Err(ConfigError::Conflict("no verifier"));
        }
        Ok(Verifier {
            configs: configs.into(),
        })
    }

    /// The first (for one issuer, the only) configuration.
    fn primary(&self) -> &Config {
        &self.configs[0]
    }

    /// The configuration that verifies `token`: the only one, or the one of the issuer the
    /// token claims.
    fn select_for(&self, token: &str) -> Result<&Config, TokenError> {
        match &*self.configs {
            [only] => Ok(only),
            configs => {
                let max_len = configs.iter().map(|c| c.max_len).max().unwrap_or(0);
                jws::claimed_issuer(token, max_len, |iss| self.select_by(iss))?
            }
        }
    }

    /// The configuration of the issuer `iss` (the only one, whatever `iss`, for one issuer:
    /// it checks `iss` itself).
    fn select_by(&self, iss: Option<&str>) -> Result<&Config, TokenError> {
        match &*self.configs {
            [only] => Ok(only),
            configs => {
                let iss = iss.ok_or(TokenError::MissingClaim("iss"))?;
                configs
                    .iter()
                    .find(|c| c.issuer.as_deref() == Some(iss))
                    .ok_or(TokenError::InvalidIssuer)
            }
        }
    }

    /// A number that changes whenever the keys of any issuer change: each key set's version
    /// only grows, so their sum does too.
    pub(crate) fn keys_generation(&self) -> u64 {
        self.configs
            .iter()
            .fold(0u64, |sum, c| sum.wrapping_add(c.keys.generation()))
    }

    /// The checks that depend on the time and on the revocation state rather than on the
    /// token's bytes: what an access token verified before must pass again on every use.
    pub(crate) fn check_live<T>(&self, claims: &Claims<T>) -> Result<(), TokenError> {
        let c = self.select_by(claims.iss.as_deref())?;
        c.check_times(claims)?;
        c.check_revocation(claims, TokenKind::Access)
    }

    /// Every check but revocation.
    pub(crate) fn verify_unrevoked<T: DeserializeOwned>(
        &self,
        token: &str,
        kind: TokenKind,
    ) -> Result<Claims<T>, TokenError> {
        self.select_for(token)?.verify_unrevoked(token, kind)
    }
}

impl Config {
    /// Revocation: the store must be ready, and the token not revoked. An access token
    /// without a number (`seq`, which every token minted since carries) cannot be placed
    /// against its session's watermark: it is refused (fail closed).
    fn check_revocation<T>(&self, claims: &Claims<T>, kind: TokenKind) -> Result<(), TokenError> {
        if let Some(store) = &self.revocation {
            if !store.is_ready() {
                return Err(TokenError::RevocationUnavailable);
            }
            let access_seq = match kind {
                TokenKind::Access => Some(claims.seq.ok_or(TokenError::MissingClaim("seq"))?),
                _ => None,
            };
            if store.is_revoked(
                &claims.jti,
                &claims.sid,
                &claims.sub,
                claims.session_started_millis(),
                access_seq,
            ) {
                return Err(TokenError::Revoked);
            }
        }
        Ok(())
    }

    /// `exp`, `nbf` and `iat` against the clock, with the leeway.
    fn check_times<T>(&self, claims: &Claims<T>) -> Result<(), TokenError> {
        let c = self;
        let now = c.clock.now_secs();
        if now >= claims.exp.saturating_add(c.leeway) {
            return Err(TokenError::Expired);
        }
        if claims
            .nbf
            .is_some_and(|nbf| now.saturating_add(c.leeway) < nbf)
        {
            return Err(TokenError::NotYetValid);
        }
        if claims.iat > now.saturating_add(c.leeway) {
            return Err(TokenError::IssuedInFuture);
        }
        Ok(())
    }

    /// Every check but revocation, by this configuration.
    fn verify_unrevoked<T: DeserializeOwned>(
        &self,
        token: &str,
        kind: TokenKind,
    ) -> Result<Claims<T>, TokenError> {
        let c = self;
        let keys = c.keys.load();
        let claims: Claims<T> = jws::verify_layer(
            token,
            c.max_len,
            |header| {
                if !header.typ.as_deref().is_some_and(|t| kind.matches(t)) {
                    return Err(TokenError::WrongType { expected: kind });
                }
                jws::key_by_kid(&keys, header)
            },
            Claims::from_json,
        )
        .inspect_err(|err| {
            if *err == TokenError::UnknownKey {
                c.keys.note_unknown_kid();
            }
        })?;

        if let Some(ms) = claims.auth_time_ms {
            // The precise session start must agree with `auth_time`.
            if claims.auth_time != Some(ms / 1000) {
                return Err(TokenError::Malformed(
                    "auth_time_ms does not match auth_time",
                ));
            }
        }
        // A session cannot start after its token was minted. Its start may lead `iat` only
        // when it was moved past a "log out everywhere" cut-off, which lies at most the
        // leeway ahead of the clock of the instance that made it, whose clock is at most the
        // leeway ahead of this token's minter: twice the leeway, plus the second `iat` is
        // rounded down from.
        let latest_start_secs = claims
            .iat
            .saturating_add(c.leeway.saturating_mul(2))
            .saturating_add(1);
        if claims.session_started_millis() > latest_start_secs.saturating_mul(1000) {
            return Err(TokenError::Malformed(
                "the session starts after the token was issued",
            ));
        }
        self.check_times(&claims)?;
        if let Some(expected) = c.issuer.as_deref() {
            match claims.iss.as_deref() {
                None => return Err(TokenError::MissingClaim("iss")),
                Some(iss) if iss != expected => return Err(TokenError::InvalidIssuer),
                Some(_) => {}
            }
        }
        if let Some(expected) = c.audience.as_deref() {
            if claims.aud.is_empty() {
                return Err(TokenError::MissingClaim("aud"));
            }
            if !claims.aud.iter().any(|a| a == expected) {
                return Err(TokenError::InvalidAudience);
            }
        }
        Ok(claims)
    }
}

impl Verifier {
    /// The key set this verifier trusts (of the first issuer, for
    /// [several](Self::for_issuers)).
    pub fn keys(&self) -> &KeySet {
        &self.primary().keys
    }

    /// The clock this verifier reads.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.primary().clock
    }

    /// The `iss` every token must carry, if one is required.
    ///
    /// ```
    /// use tower_jwt_auth::{KeySet, SigningKey, Verifier};
    ///
    /// let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// let verifier = Verifier::builder(keys).with_issuer("https://auth.example").build()?;
    /// assert_eq!(verifier.issuer(), Some("https://auth.example"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn issuer(&self) -> Option<&str> {
        self.primary().issuer.as_deref()
    }

    /// The revocation store consulted for every token, if any.
    pub fn revocation(&self) -> Option<&RevocationStore> {
        self.primary().revocation.as_ref()
    }

    /// The configured leeway, in seconds.
    pub(crate) fn leeway_secs(&self) -> u64 {
        self.primary().leeway
    }
}

impl From<&Verifier> for Verifier {
    fn from(verifier: &Verifier) -> Self {
        verifier.clone()
    }
}

/// Builds a [`Verifier`]. Secure by default: no leeway, 8 KiB size cap, system clock.
#[derive(Debug)]
#[must_use]
pub struct VerifierBuilder {
    keys: KeySet,
    policy: Policy,
    revocation: Option<RevocationStore>,
}

impl VerifierBuilder {
    /// The `iss` value: written into every issued token, and required of every verified one
    /// (a token without `iss` then fails).
    ///
    /// ```
    /// # use tower_jwt_auth::{KeySet, SigningKey, Verifier};
    /// # let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// let built = Verifier::builder(keys).with_issuer("https://auth.example").build()?;
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
    /// # use tower_jwt_auth::{KeySet, SigningKey, Verifier};
    /// # let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// let built = Verifier::builder(keys).with_audience("api").build()?;
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
    /// # use tower_jwt_auth::{KeySet, SigningKey, Verifier, clock::MockClock};
    /// # let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// let built = Verifier::builder(keys).with_clock(MockClock::at_secs(1_700_000_000)).build()?;
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
    /// # use tower_jwt_auth::{KeySet, SigningKey, Verifier};
    /// # let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// let built = Verifier::builder(keys).with_leeway(Duration::from_secs(5)).build()?;
    /// # let _ = built;
    /// # let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// assert!(Verifier::builder(keys).with_leeway(Duration::from_secs(301)).build().is_err());
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
    /// # use tower_jwt_auth::{KeySet, SigningKey, Verifier};
    /// # let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// assert!(Verifier::builder(keys).with_max_token_len(100).build().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_max_token_len(mut self, max: usize) -> Self {
        self.policy.max_len = max;
        self
    }

    /// Rejects tokens revoked in `store`.
    ///
    /// ```
    /// # use tower_jwt_auth::{KeySet, SigningKey, Verifier, store::RevocationStore};
    /// # let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// let verifier = Verifier::builder(keys).with_revocation(RevocationStore::new()).build()?;
    /// # let _ = verifier;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_revocation(mut self, store: RevocationStore) -> Self {
        self.revocation = Some(store);
        self
    }

    /// The builder of an issuer's own verifier: its keys, policy and store.
    pub(crate) fn from_policy(keys: KeySet, policy: Policy, revocation: RevocationStore) -> Self {
        Self {
            keys,
            policy,
            revocation: Some(revocation),
        }
    }

    /// Checks the configuration and builds the verifier.
    ///
    /// Fails on a leeway over 300 s, a size cap under 256 bytes, or an empty `iss`/`aud`.
    pub fn build(self) -> Result<Verifier, ConfigError> {
        self.policy.check()?;
        let Policy {
            clock,
            issuer,
            audience,
            leeway,
            max_len,
        } = self.policy;
        Ok(Verifier {
            configs: Arc::new([Config {
                keys: self.keys,
                clock,
                revocation: self.revocation,
                issuer: issuer.map(String::into_boxed_str),
                audience: audience.map(String::into_boxed_str),
                leeway: leeway.as_secs(),
                max_len,
            }]),
        })
    }
}
