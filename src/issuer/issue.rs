//! The issuer: mints and signs access + refresh pairs.

use std::sync::Arc;

use crate::crypto::{SecureRandom, SystemRandom};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::Serialize;

use super::{IssueError, TokenPair};
use crate::{
    clock::Clock,
    keys::{KeySet, SigningKey},
    store::RevocationStore,
    token::{OutClaims, OutConfirmation, REGISTERED, TokenKind, Verifier, jws},
};

/// What the issuer needs to mint the next pair of a session.
pub(crate) struct Grant<'a> {
    pub(crate) sub: &'a str,
    pub(crate) sid: &'a str,
    pub(crate) scope: &'a str,
    pub(crate) custom: &'a serde_json::Map<String, serde_json::Value>,
    /// When the session started (`auth_time`), in milliseconds since the epoch.
    pub(crate) started_ms: u64,
    pub(crate) session_exp: u64,
    /// The session's CSRF value (empty: none, for a session started without one).
    pub(crate) csrf: &'a str,
    /// The pair's number in the session (`seq`): 0 at login, one more at each refresh.
    pub(crate) seq: u64,
    /// The DPoP key thumbprint both tokens are bound to (`cnf.jkt`); `None`: bearer tokens.
    pub(crate) jkt: Option<&'a str>,
}

/// A freshly minted pair, with what the session record needs to know of its refresh token.
pub(crate) struct Minted {
    pub(crate) pair: TokenPair,
    pub(crate) refresh_jti: String,
    /// When the session record can be forgotten: the refresh token's `exp` plus the leeway,
    /// the last moment any token of the pair can verify.
    pub(crate) forget_after: u64,
}

#[derive(Debug)]
pub(super) struct Config {
    pub(super) keys: KeySet,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) revocation: RevocationStore,
    pub(super) verifier: Verifier,
    pub(super) issuer: Option<String>,
    pub(super) audience: Option<String>,
    pub(super) access_ttl: u64,
    pub(super) refresh_ttl: u64,
    pub(super) session_ttl: u64,
    pub(super) rng: SystemRandom,
}

/// Mints and signs access + refresh pairs, synchronously, with no I/O: the policy (keys,
/// clock, lifetimes, `iss`, `aud`) of every token. [`Sessions`](crate::Sessions) starts and
/// refreshes sessions with it; the issuer hands out the matching [`Verifier`] (and the
/// [`RevocationStore`] that verifier reads), so that minting, verifying and revoking agree.
///
/// Cloning is a reference-count bump.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use tower_jwt_auth::{Issuer, KeySet, Sessions, SigningKey};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?))
///     .with_issuer("https://auth.example")
///     .with_audience("api")
///     .with_access_ttl(Duration::from_secs(600))
///     .build()?;
/// let pair = Sessions::new(issuer).start("alice").await?;
/// assert_eq!(pair.expires_in(), 600);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Issuer {
    pub(super) config: Arc<Config>,
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
    /// A new random id (`jti`, `sid`, CSRF value): 128 bits from the system's CSPRNG,
    /// base64url.
    pub(crate) fn random_id(&self) -> Result<String, IssueError> {
        random_id(&self.config.rng)
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
            csrf: grant.csrf,
            seq: grant.seq,
            cnf: grant.jkt.map(|jkt| OutConfirmation { jkt }),
            custom: grant.custom,
        };
        // One version of the key set signs both tokens, whatever rotation happens meanwhile.
        let keys = c.keys.load();
        let signer = keys.signing().ok_or(IssueError::NoSigningKey)?;
        let access_token = sign(signer, TokenKind::Access, &claims)?;
        claims.exp = refresh_exp;
        claims.jti = &refresh_jti;
        claims.sexp = Some(grant.session_exp);
        let refresh_token = sign(signer, TokenKind::Refresh, &claims)?;
        Ok(Minted {
            pair: TokenPair {
                access_token,
                token_type: if grant.jkt.is_some() {
                    "DPoP"
                } else {
                    "Bearer"
                }
                .to_owned(),
                expires_in: access_exp.saturating_sub(iat),
                refresh_token,
                refresh_expires_in: refresh_exp.saturating_sub(iat),
                scope: grant.scope.to_owned(),
                session_id: grant.sid.to_owned(),
                csrf_token: grant.csrf.to_owned(),
            },
            refresh_jti,
            forget_after: refresh_exp.saturating_add(c.verifier.leeway_secs()),
        })
    }

    /// The verifier that accepts what this issuer mints (same keys, clock, `iss`, `aud`,
    /// revocation store).
    ///
    /// ```
    /// use tower_jwt_auth::{Issuer, KeySet, SigningKey};
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let verifier = issuer.verifier().clone(); // for a resource server in the same process
    /// # let _ = verifier;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verifier(&self) -> &Verifier {
        &self.config.verifier
    }

    /// The revocation state the issuer's verifier reads (and [`Sessions`](crate::Sessions)
    /// writes).
    ///
    /// ```
    /// use tower_jwt_auth::{Issuer, KeySet, SigningKey};
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// assert!(issuer.revocation().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn revocation(&self) -> &RevocationStore {
        &self.config.revocation
    }

    /// The key set.
    ///
    /// ```
    /// use tower_jwt_auth::{Issuer, KeySet, SigningKey};
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// assert!(issuer.keys().signing_kid().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn keys(&self) -> &KeySet {
        &self.config.keys
    }

    /// The clock.
    ///
    /// ```
    /// use tower_jwt_auth::{Issuer, KeySet, SigningKey};
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// use tower_jwt_auth::clock::Clock;
    /// assert!(issuer.clock().now_secs() > 1_700_000_000);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.config.clock
    }

    /// Access-token lifetime in seconds.
    ///
    /// ```
    /// use tower_jwt_auth::{Issuer, KeySet, SigningKey};
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// assert_eq!(issuer.access_ttl_secs(), 900);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn access_ttl_secs(&self) -> u64 {
        self.config.access_ttl
    }

    /// Absolute session lifetime in seconds.
    ///
    /// ```
    /// use tower_jwt_auth::{Issuer, KeySet, SigningKey};
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// assert_eq!(issuer.session_ttl_secs(), 30 * 24 * 3600);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn session_ttl_secs(&self) -> u64 {
        self.config.session_ttl
    }
}

/// A token of `kind` with `claims`, signed by `signer` (whose `alg` and `kid` are in the
/// header).
fn sign(
    signer: &SigningKey,
    kind: TokenKind,
    claims: &OutClaims<'_>,
) -> Result<String, IssueError> {
    let header = jws::encode_header(signer.algorithm().as_str(), signer.kid(), kind.typ());
    let payload = serde_json::to_vec(claims).map_err(IssueError::Claims)?;
    let mut token = jws::signing_input(&header, &payload);
    let mut signature = String::new();
    signer
        .sign_into(token.as_bytes(), &mut signature)
        .map_err(|()| IssueError::Crypto)?;
    token.push('.');
    token.push_str(&signature);
    Ok(token)
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

impl From<&Issuer> for Verifier {
    /// The issuer's own verifier (a reference-count bump), so that
    /// `BearerAuthLayer::new(&issuer)` accepts exactly what the issuer mints.
    fn from(issuer: &Issuer) -> Self {
        issuer.verifier().clone()
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
