//! The verifier: decodes and validates a token of an expected kind.
//!
//! The rules run in a fixed order, cheapest and least trusting first:
//! size cap → header (`crit`, exact `typ`, `kid` lookup, `alg` pinned to that key) →
//! signature → claims (required claims present) → `exp`/`nbf`/`iat` against the [`Clock`] →
//! `iss`/`aud` → revocation. Nothing after the signature check runs on unauthenticated data.

use std::{fmt, sync::Arc, time::Duration};

use serde::de::DeserializeOwned;

use crate::{
    claims::Claims,
    clock::{Clock, SystemClock},
    error::{ConfigError, TokenError},
    jws::{self, Compact},
    keys::KeySet,
    revocation::RevocationStore,
};

/// The two kinds of token, told apart by their `typ` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// An access token: `typ: at+jwt` (RFC 9068).
    Access,
    /// A refresh token: `typ: refresh+jwt`.
    Refresh,
}

impl TokenKind {
    /// The `typ` header value this crate writes for the kind.
    ///
    /// ```
    /// use tower_jwt_auth::TokenKind;
    ///
    /// assert_eq!(TokenKind::Access.typ(), "at+jwt");
    /// ```
    pub const fn typ(self) -> &'static str {
        match self {
            Self::Access => "at+jwt",
            Self::Refresh => "refresh+jwt",
        }
    }

    /// Whether a received `typ` names this kind. Media types are case-insensitive and may
    /// carry the `application/` prefix (RFC 7515 §4.1.9, RFC 9068 §4).
    fn matches(self, typ: &str) -> bool {
        let want = self.typ();
        let bare = match typ.get(..12) {
            Some(prefix) if prefix.eq_ignore_ascii_case("application/") => typ.get(12..),
            _ => Some(typ),
        };
        bare.is_some_and(|t| t.eq_ignore_ascii_case(want))
    }
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Access => "access token",
            Self::Refresh => "refresh token",
        })
    }
}

/// The default maximum token length: 8 KiB.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 8 * 1024;
/// The largest leeway a builder accepts.
pub(crate) const MAX_LEEWAY_SECS: u64 = 300;

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
/// use tower_jwt_auth::{Claims, Issuer, KeySet, NoCustomClaims, SigningKey, TokenError};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?))
///     .with_issuer("https://auth.example")
///     .with_audience("api")
///     .build()?;
/// let pair = issuer.issue("alice", &NoCustomClaims {}).await?;
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
#[derive(Clone)]
pub struct Verifier {
    config: Arc<Config>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        f.debug_struct("Verifier")
            .field("keys", &c.keys)
            .field("clock", &c.clock)
            .field("issuer", &c.issuer)
            .field("audience", &c.audience)
            .field("leeway_secs", &c.leeway)
            .field("max_len", &c.max_len)
            .field("revocation", &c.revocation.is_some())
            .finish()
    }
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
            clock: Arc::new(SystemClock),
            revocation: None,
            issuer: None,
            audience: None,
            leeway: Duration::ZERO,
            max_len: DEFAULT_MAX_TOKEN_LEN,
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
        let claims = self.verify_unrevoked(token, kind)?;
        if let Some(store) = &self.config.revocation {
            if !store.is_ready() {
                return Err(TokenError::RevocationUnavailable);
            }
            if store.is_revoked(&claims) {
                return Err(TokenError::Revoked);
            }
        }
        Ok(claims)
    }

    /// Every check but revocation.
    pub(crate) fn verify_unrevoked<T: DeserializeOwned>(
        &self,
        token: &str,
        kind: TokenKind,
    ) -> Result<Claims<T>, TokenError> {
        let c = &*self.config;
        if token.len() > c.max_len {
            return Err(TokenError::TooLarge);
        }
        let compact = Compact::split(token)?;
        let key = jws::with_header(&compact, |header| {
            if header.crit.is_some() {
                return Err(TokenError::UnsupportedCritical);
            }
            if !header.typ.as_deref().is_some_and(|t| kind.matches(t)) {
                return Err(TokenError::WrongType { expected: kind });
            }
            let kid = header.kid.as_deref().ok_or(TokenError::MissingKid)?;
            let key = c.keys.get(kid).ok_or(TokenError::UnknownKey)?;
            if header.alg.as_deref() != Some(key.algorithm().as_str()) {
                return Err(TokenError::AlgorithmMismatch);
            }
            Ok(key)
        })?;
        jws::verify_signature(&compact, key)?;
        let claims: Claims<T> = jws::with_payload(&compact, Claims::from_json)?;

        if let Some(ms) = claims.auth_time_ms {
            // The precise session start must agree with `auth_time`.
            if claims.auth_time != Some(ms / 1000) {
                return Err(TokenError::Malformed(
                    "auth_time_ms does not match auth_time",
                ));
            }
        }
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

    /// The key set this verifier trusts.
    pub fn keys(&self) -> &KeySet {
        &self.config.keys
    }

    /// The clock this verifier reads.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.config.clock
    }

    /// The revocation store consulted for every token, if any.
    pub fn revocation(&self) -> Option<&RevocationStore> {
        self.config.revocation.as_ref()
    }

    /// The configured leeway, in seconds.
    pub(crate) fn leeway_secs(&self) -> u64 {
        self.config.leeway
    }
}

/// Builds a [`Verifier`]. Secure by default: no leeway, 8 KiB size cap, system clock.
#[derive(Debug)]
#[must_use]
pub struct VerifierBuilder {
    keys: KeySet,
    clock: Arc<dyn Clock>,
    revocation: Option<RevocationStore>,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: Duration,
    max_len: usize,
}

impl VerifierBuilder {
    /// Requires `iss` to equal `issuer`; a token without `iss` then fails.
    ///
    /// ```
    /// # use tower_jwt_auth::{KeySet, SigningKey, Verifier};
    /// # let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// let verifier = Verifier::builder(keys).with_issuer("https://auth.example").build()?;
    /// # let _ = verifier;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Requires `aud` to contain `audience`; a token without `aud` then fails.
    ///
    /// ```
    /// # use tower_jwt_auth::{KeySet, SigningKey, Verifier};
    /// # let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// let verifier = Verifier::builder(keys).with_audience("billing-api").build()?;
    /// # let _ = verifier;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Tolerance for clock skew on `exp`, `nbf` and `iat` (default 0, at most 300 s).
    ///
    /// Risk: every second of leeway is a second an expired or revoked-by-expiry token still
    /// works. Keep it to the skew you actually have between machines (a few seconds).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tower_jwt_auth::{KeySet, SigningKey, Verifier};
    /// # let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// let verifier = Verifier::builder(keys).with_leeway(Duration::from_secs(5)).build()?;
    /// # let _ = verifier;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The clock every time check reads (default [`SystemClock`]).
    ///
    /// ```
    /// # use tower_jwt_auth::{KeySet, MockClock, SigningKey, Verifier};
    /// # let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// let verifier = Verifier::builder(keys).with_clock(MockClock::at_secs(1_700_000_000)).build()?;
    /// # let _ = verifier;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Rejects tokens revoked in `store`.
    ///
    /// ```
    /// # use tower_jwt_auth::{KeySet, RevocationStore, SigningKey, Verifier};
    /// # let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// let verifier = Verifier::builder(keys).with_revocation(RevocationStore::new()).build()?;
    /// # let _ = verifier;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_revocation(mut self, store: RevocationStore) -> Self {
        self.revocation = Some(store);
        self
    }

    /// Tokens longer than `max` bytes are rejected before any decoding (default 8 KiB,
    /// at least 256).
    ///
    /// ```
    /// # use tower_jwt_auth::{KeySet, SigningKey, Verifier};
    /// # let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// assert!(Verifier::builder(keys).with_max_token_len(100).build().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_max_token_len(mut self, max: usize) -> Self {
        self.max_len = max;
        self
    }

    pub(crate) fn with_shared_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Checks the configuration and builds the verifier.
    pub fn build(self) -> Result<Verifier, ConfigError> {
        let leeway = self.leeway.as_secs();
        if leeway > MAX_LEEWAY_SECS {
            return Err(ConfigError::Leeway(leeway));
        }
        if self.max_len < 256 {
            return Err(ConfigError::MaxTokenLen(self.max_len));
        }
        let non_empty = |v: Option<String>, what| match v {
            Some(s) if s.is_empty() => Err(ConfigError::Empty(what)),
            other => Ok(other.map(String::into_boxed_str)),
        };
        Ok(Verifier {
            config: Arc::new(Config {
                keys: self.keys,
                clock: self.clock,
                revocation: self.revocation,
                issuer: non_empty(self.issuer, "issuer")?,
                audience: non_empty(self.audience, "audience")?,
                leeway,
                max_len: self.max_len,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typ_matching_follows_media_type_rules() {
        assert!(TokenKind::Access.matches("at+jwt"));
        assert!(TokenKind::Access.matches("application/at+jwt"));
        assert!(TokenKind::Access.matches("AT+JWT"));
        assert!(!TokenKind::Access.matches("JWT"));
        assert!(!TokenKind::Access.matches("refresh+jwt"));
        assert!(!TokenKind::Access.matches("application/"));
        assert!(!TokenKind::Access.matches("at+jwt "));
        assert!(TokenKind::Refresh.matches("refresh+jwt"));
        assert!(!TokenKind::Refresh.matches("at+jwt"));
    }
}
