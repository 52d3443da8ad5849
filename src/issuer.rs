//! The issuer: mints access + refresh pairs and starts sessions.

use std::{fmt, sync::Arc, time::Duration};

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};

use crate::{
    claims::{OutClaims, REGISTERED},
    clock::{Clock, SystemClock},
    error::{ConfigError, IssueError},
    jws,
    keys::KeySet,
    revocation::{NewSession, RevocationBackend, RevocationStore},
    verifier::{DEFAULT_MAX_TOKEN_LEN, TokenKind, Verifier},
};

/// An access token and a refresh token, serialised as an OAuth 2.0 token response
/// (RFC 6749 §5.1) with `refresh_expires_in` added.
///
/// Its `Debug` output never shows the tokens.
///
/// ```
/// use tower_jwt_auth::{Issuer, KeySet, NoCustomClaims, SigningKey};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
/// let pair = issuer.issue_with_scope("alice", "read write", &NoCustomClaims {}).await?;
/// let json = serde_json::to_value(&pair)?;
/// assert_eq!(json["token_type"], "Bearer");
/// assert_eq!(json["expires_in"], 900);
/// assert_eq!(json["scope"], "read write");
/// assert!(!format!("{pair:?}").contains(pair.access_token()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenPair {
    access_token: String,
    token_type: String,
    expires_in: u64,
    refresh_token: String,
    refresh_expires_in: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    scope: String,
    #[serde(skip)]
    session_id: String,
}

impl fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenPair")
            .field("access_token", &crate::error::Redacted)
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &crate::error::Redacted)
            .field("refresh_expires_in", &self.refresh_expires_in)
            .field("scope", &self.scope)
            .finish()
    }
}

impl TokenPair {
    /// The access token, to send as `Authorization: Bearer …`.
    pub fn access_token(&self) -> &str {
        &self.access_token
    }

    /// The refresh token, to exchange for the next pair.
    pub fn refresh_token(&self) -> &str {
        &self.refresh_token
    }

    /// Seconds until the access token expires.
    pub fn expires_in(&self) -> u64 {
        self.expires_in
    }

    /// Seconds until the refresh token expires (idle lifetime, capped by the session's
    /// absolute lifetime).
    pub fn refresh_expires_in(&self) -> u64 {
        self.refresh_expires_in
    }

    /// The granted scopes, space-separated.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// The session both tokens belong to (the `sid` claim). Empty on a pair that was
    /// deserialised rather than issued.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }
}

/// What the issuer needs to mint the next pair of a session.
pub(crate) struct Grant<'a> {
    pub(crate) sub: &'a str,
    pub(crate) sid: &'a str,
    pub(crate) scope: &'a str,
    pub(crate) custom: &'a serde_json::Map<String, serde_json::Value>,
    /// When the session started (`auth_time`), in milliseconds since the epoch.
    pub(crate) started_ms: u64,
    pub(crate) session_exp: u64,
}

/// A freshly minted pair, with what the session record needs to know of its refresh token.
pub(crate) struct Minted {
    pub(crate) pair: TokenPair,
    pub(crate) refresh_jti: String,
    /// When the session record can be forgotten: the refresh token's `exp` plus the leeway,
    /// the last moment any token of the pair can verify.
    pub(crate) forget_after: u64,
}

struct Config {
    keys: KeySet,
    clock: Arc<dyn Clock>,
    revocation: RevocationStore,
    verifier: Verifier,
    issuer: Option<String>,
    audience: Option<String>,
    access_ttl: u64,
    refresh_ttl: u64,
    session_ttl: u64,
    access_header: String,
    refresh_header: String,
    rng: SystemRandom,
}

/// Mints access + refresh pairs: [`issue`](Self::issue) starts a new session at signup or
/// login. It also hands out the matching [`Verifier`] and the [`RevocationStore`], so that
/// issuing, verifying and revoking agree on keys, clock, `iss` and `aud`.
///
/// Cloning is a reference-count bump.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use tower_jwt_auth::{Issuer, KeySet, NoCustomClaims, SigningKey};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?))
///     .with_issuer("https://auth.example")
///     .with_audience("api")
///     .with_access_ttl(Duration::from_secs(600))
///     .build()?;
/// let pair = issuer.issue("alice", &NoCustomClaims {}).await?;
/// assert_eq!(pair.expires_in(), 600);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Issuer {
    config: Arc<Config>,
}

impl fmt::Debug for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        f.debug_struct("Issuer")
            .field("keys", &c.keys)
            .field("issuer", &c.issuer)
            .field("audience", &c.audience)
            .field("access_ttl", &c.access_ttl)
            .field("refresh_ttl", &c.refresh_ttl)
            .field("session_ttl", &c.session_ttl)
            .finish_non_exhaustive()
    }
}

fn random_id(rng: &SystemRandom) -> Result<String, IssueError> {
    let mut bytes = [0u8; 16];
    rng.fill(&mut bytes).map_err(|_| IssueError::Crypto)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// RFC 6749 §3.3: scope tokens are runs of %x21 / %x23-5B / %x5D-7E, separated by single
/// spaces.
fn valid_scope(scope: &str) -> bool {
    scope.is_empty()
        || scope.split(' ').all(|t| {
            !t.is_empty()
                && t.bytes()
                    .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
        })
}

impl Issuer {
    /// A builder for an issuer that signs with the signing key of `keys`.
    pub fn builder(keys: KeySet) -> IssuerBuilder {
        IssuerBuilder {
            keys,
            clock: Arc::new(SystemClock),
            backend: None,
            issuer: None,
            audience: None,
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(14 * 24 * 3600),
            session_ttl: Duration::from_secs(30 * 24 * 3600),
            leeway: Duration::ZERO,
            max_len: DEFAULT_MAX_TOKEN_LEN,
        }
    }

    /// Starts a new session for `subject` and returns its first pair, with no scope.
    /// `custom` is flattened into both tokens' claims; it may not use a registered claim name.
    ///
    /// The session's record is written to the revocation backend before the pair is
    /// returned; when that write fails, no token is handed out
    /// ([`IssueError::Revocation`]).
    pub async fn issue<T: Serialize>(
        &self,
        subject: &str,
        custom: &T,
    ) -> Result<TokenPair, IssueError> {
        self.issue_with_scope(subject, "", custom).await
    }

    /// Starts a new session for `subject` with `scope` (space-separated, RFC 6749 §3.3).
    ///
    /// ```
    /// use serde::Serialize;
    /// use tower_jwt_auth::{Claims, Issuer, KeySet, SigningKey};
    ///
    /// #[derive(Serialize, serde::Deserialize)]
    /// struct Tenant { tenant: String }
    ///
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let pair = issuer.issue_with_scope("alice", "read", &Tenant { tenant: "acme".into() }).await?;
    /// let claims: Claims<Tenant> = issuer.verifier().verify_access(pair.access_token())?;
    /// assert_eq!(claims.custom.tenant, "acme");
    /// assert!(claims.has_scope("read"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn issue_with_scope<T: Serialize>(
        &self,
        subject: &str,
        scope: &str,
        custom: &T,
    ) -> Result<TokenPair, IssueError> {
        let c = &*self.config;
        let custom = custom_claims(custom)?;
        let sid = random_id(&c.rng)?;
        let now_ms = c.clock.now_millis();
        // A session must start strictly after the subject's latest "log out everywhere",
        // even in the same millisecond (a login right after it): this moves the start by at
        // most a millisecond past the cut-off.
        let started_ms = match c.revocation.subject_cutoff_ms(subject) {
            Some(cutoff) if cutoff >= now_ms => cutoff.saturating_add(1),
            _ => now_ms,
        };
        let session_exp = (now_ms / 1000).saturating_add(c.session_ttl);
        let minted = self.mint(&Grant {
            sub: subject,
            sid: &sid,
            scope,
            custom: &custom,
            started_ms,
            session_exp,
        })?;
        c.revocation
            .start_session(&NewSession::new(
                &sid,
                subject,
                started_ms,
                &minted.refresh_jti,
                minted.forget_after,
            ))
            .await?;
        Ok(minted.pair)
    }

    /// Mints the next pair of a session (a new session from `issue`, or a refresh).
    pub(crate) fn mint(&self, grant: &Grant<'_>) -> Result<Minted, IssueError> {
        let c = &*self.config;
        if grant.sub.is_empty() {
            return Err(IssueError::InvalidInput("subject must not be empty"));
        }
        if !valid_scope(grant.scope) {
            return Err(IssueError::InvalidInput(
                "scope is not a list of RFC 6749 scope tokens",
            ));
        }
        let iat = c.clock.now_secs();
        let access_exp = iat.saturating_add(c.access_ttl).min(grant.session_exp);
        let refresh_exp = iat.saturating_add(c.refresh_ttl).min(grant.session_exp);
        let access_jti = random_id(&c.rng)?;
        let refresh_jti = random_id(&c.rng)?;
        let mut claims = OutClaims {
            iss: c.issuer.as_deref(),
            sub: grant.sub,
            aud: c.audience.as_deref(),
            exp: access_exp,
            iat,
            auth_time: grant.started_ms / 1000,
            auth_time_ms: grant.started_ms,
            jti: &access_jti,
            sid: grant.sid,
            scope: grant.scope,
            sexp: None,
            custom: grant.custom,
        };
        let access_token = self.sign(&c.access_header, &claims)?;
        claims.exp = refresh_exp;
        claims.jti = &refresh_jti;
        claims.sexp = Some(grant.session_exp);
        let refresh_token = self.sign(&c.refresh_header, &claims)?;
        Ok(Minted {
            pair: TokenPair {
                access_token,
                token_type: "Bearer".to_owned(),
                expires_in: access_exp.saturating_sub(iat),
                refresh_token,
                refresh_expires_in: refresh_exp.saturating_sub(iat),
                scope: grant.scope.to_owned(),
                session_id: grant.sid.to_owned(),
            },
            refresh_jti,
            forget_after: refresh_exp.saturating_add(c.verifier.leeway_secs()),
        })
    }

    fn sign(&self, header: &str, claims: &OutClaims<'_>) -> Result<String, IssueError> {
        let payload = serde_json::to_vec(claims).map_err(IssueError::Claims)?;
        let mut token = jws::signing_input(header, &payload);
        let mut signature = String::new();
        self.config
            .keys
            .signing_key()
            .sign_into(token.as_bytes(), &mut signature)
            .map_err(|()| IssueError::Crypto)?;
        token.push('.');
        token.push_str(&signature);
        Ok(token)
    }

    /// The verifier that accepts what this issuer mints (same keys, clock, `iss`, `aud`,
    /// revocation store).
    pub fn verifier(&self) -> &Verifier {
        &self.config.verifier
    }

    /// The revocation store shared with the verifier.
    pub fn revocation(&self) -> &RevocationStore {
        &self.config.revocation
    }

    /// The key set.
    pub fn keys(&self) -> &KeySet {
        &self.config.keys
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.config.clock
    }

    /// Access-token lifetime in seconds.
    pub fn access_ttl_secs(&self) -> u64 {
        self.config.access_ttl
    }

    /// Absolute session lifetime in seconds.
    pub fn session_ttl_secs(&self) -> u64 {
        self.config.session_ttl
    }
}

/// Serialises the application's claims once and refuses registered names.
pub(crate) fn custom_claims<T: Serialize>(
    custom: &T,
) -> Result<serde_json::Map<String, serde_json::Value>, IssueError> {
    match serde_json::to_value(custom).map_err(IssueError::Claims)? {
        serde_json::Value::Object(map) => {
            if let Some(name) = map.keys().find(|k| REGISTERED.contains(&k.as_str())) {
                return Err(IssueError::ReservedClaim(name.clone()));
            }
            Ok(map)
        }
        serde_json::Value::Null => Ok(serde_json::Map::new()),
        _ => Err(IssueError::InvalidInput(
            "custom claims must serialise to a JSON object",
        )),
    }
}

/// Builds an [`Issuer`]. Defaults: access tokens 15 minutes, refresh tokens 14 days idle,
/// sessions 30 days absolute, no leeway, system clock, in-memory revocation.
#[derive(Debug)]
#[must_use]
pub struct IssuerBuilder {
    keys: KeySet,
    clock: Arc<dyn Clock>,
    backend: Option<Arc<dyn RevocationBackend>>,
    issuer: Option<String>,
    audience: Option<String>,
    access_ttl: Duration,
    refresh_ttl: Duration,
    session_ttl: Duration,
    leeway: Duration,
    max_len: usize,
}

impl IssuerBuilder {
    /// The `iss` claim written into every token and required by the verifier.
    ///
    /// ```
    /// # use tower_jwt_auth::{Issuer, KeySet, SigningKey};
    /// # let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// let issuer = Issuer::builder(keys).with_issuer("https://auth.example").build()?;
    /// # let _ = issuer;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The `aud` claim written into every token and required by the verifier.
    ///
    /// ```
    /// # use tower_jwt_auth::{Issuer, KeySet, SigningKey};
    /// # let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// let issuer = Issuer::builder(keys).with_audience("api").build()?;
    /// # let _ = issuer;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Access-token lifetime (default 15 minutes). It is also the longest time a revoked
    /// access token would stay usable without a revocation check, so keep it short.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tower_jwt_auth::{Issuer, KeySet, SigningKey};
    /// # let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// let issuer = Issuer::builder(keys).with_access_ttl(Duration::from_secs(300)).build()?;
    /// # let _ = issuer;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_access_ttl(mut self, ttl: Duration) -> Self {
        self.access_ttl = ttl;
        self
    }

    /// Refresh-token idle lifetime (default 14 days): a session not refreshed for this long
    /// ends. Each refresh renews it, never past the session's absolute expiry.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tower_jwt_auth::{Issuer, KeySet, SigningKey};
    /// # let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// let issuer = Issuer::builder(keys).with_refresh_ttl(Duration::from_secs(86_400)).build()?;
    /// # let _ = issuer;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_refresh_ttl(mut self, ttl: Duration) -> Self {
        self.refresh_ttl = ttl;
        self
    }

    /// Absolute session lifetime (default 30 days), counted from login and never extended by
    /// refreshing.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tower_jwt_auth::{Issuer, KeySet, SigningKey};
    /// # let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// let issuer = Issuer::builder(keys).with_session_ttl(Duration::from_secs(90 * 86_400)).build()?;
    /// # let _ = issuer;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_session_ttl(mut self, ttl: Duration) -> Self {
        self.session_ttl = ttl;
        self
    }

    /// The clock for every time the issuer writes and the verifier checks.
    ///
    /// ```
    /// # use tower_jwt_auth::{Issuer, KeySet, MockClock, SigningKey};
    /// # let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// let clock = MockClock::at_secs(1_700_000_000);
    /// let issuer = Issuer::builder(keys).with_clock(clock.clone()).build()?;
    /// # let _ = issuer;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Clock-skew leeway of the issuer's verifier (default 0, at most 300 s); see
    /// [`VerifierBuilder::with_leeway`](crate::VerifierBuilder::with_leeway) for the risk.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tower_jwt_auth::{Issuer, KeySet, SigningKey};
    /// # let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// let issuer = Issuer::builder(keys).with_leeway(Duration::from_secs(5)).build()?;
    /// # let _ = issuer;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Maximum token length the issuer's verifier accepts (default 8 KiB).
    ///
    /// ```
    /// # use tower_jwt_auth::{Issuer, KeySet, SigningKey};
    /// # let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// let issuer = Issuer::builder(keys).with_max_token_len(4096).build()?;
    /// # let _ = issuer;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_max_token_len(mut self, max: usize) -> Self {
        self.max_len = max;
        self
    }

    /// Keeps session records and revocations in `backend`, shared between instances. Spawn
    /// `issuer.revocation().clone().run()` at start: until the shared state is loaded, every
    /// token is refused as [`RevocationUnavailable`](crate::TokenError::RevocationUnavailable).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use tower_jwt_auth::{Issuer, KeySet, MemoryBackend, SigningKey};
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
        let mut revocation = RevocationStore::builder().with_shared_clock(self.clock.clone());
        if let Some(backend) = self.backend {
            revocation = revocation.with_backend(backend);
        }
        let revocation = revocation.build()?;
        let mut verifier = Verifier::builder(self.keys.clone())
            .with_shared_clock(self.clock.clone())
            .with_revocation(revocation.clone())
            .with_leeway(self.leeway)
            .with_max_token_len(self.max_len);
        if let Some(iss) = &self.issuer {
            verifier = verifier.with_issuer(iss.clone());
        }
        if let Some(aud) = &self.audience {
            verifier = verifier.with_audience(aud.clone());
        }
        let verifier = verifier.build()?;
        let signing = self.keys.signing_key();
        let alg = signing.algorithm().as_str();
        Ok(Issuer {
            config: Arc::new(Config {
                access_header: jws::encode_header(alg, signing.kid(), TokenKind::Access.typ()),
                refresh_header: jws::encode_header(alg, signing.kid(), TokenKind::Refresh.typ()),
                keys: self.keys,
                clock: self.clock,
                revocation,
                verifier,
                issuer: self.issuer,
                audience: self.audience,
                access_ttl,
                refresh_ttl,
                session_ttl,
                rng: SystemRandom::new(),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_syntax_follows_rfc6749() {
        assert!(valid_scope(""));
        assert!(valid_scope("read write:all admin"));
        assert!(!valid_scope("read  write"));
        assert!(!valid_scope(" read"));
        assert!(!valid_scope("a\"b"));
        assert!(!valid_scope("a\\b"));
        assert!(!valid_scope("caf\u{e9}"));
    }

    #[test]
    fn custom_claims_may_not_shadow_registered_ones() {
        #[derive(Serialize)]
        struct Bad {
            sub: String,
        }
        assert!(matches!(
            custom_claims(&Bad { sub: "root".into() }),
            Err(IssueError::ReservedClaim(name)) if name == "sub"
        ));
        assert!(matches!(
            custom_claims(&42),
            Err(IssueError::InvalidInput(_))
        ));
        assert!(custom_claims(&()).unwrap().is_empty());
    }
}
