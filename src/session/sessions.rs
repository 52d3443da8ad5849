//! [`Sessions`]: the life cycle of a login — start, refresh with rotation and reuse
//! detection, logout, "log out everywhere" and single-token revocation. No HTTP here; the
//! endpoints build on this.

use std::{fmt, sync::Arc};

use serde::Serialize;
use tracing::Instrument;

use subtle::ConstantTimeEq;

use super::{
    RefreshDecision, RefreshError, StartError,
    hook::{JsonClaims, JsonHook},
};
use crate::{
    dpop::{DpopPolicy, DpopProof},
    issuer::{Grant, Issuer, TokenPair, custom_claims},
    store::{
        NewSession, RevocationEntry, RevocationError, RevocationStore, RotateOutcome, Rotation,
    },
    telemetry,
    token::{Claims, NoCustomClaims, TokenError, TokenKind},
};

/// The session side of the token life cycle: start a session at signup or login, exchange
/// a refresh token for the next pair, log out one session, log out everywhere, revoke one
/// token.
///
/// Every refresh token is single-use. Its first use mints the next pair of the same session,
/// with the idle expiry renewed and the absolute session expiry kept, and the session's
/// scope and application claims copied unchanged (whatever their type: they ride in the
/// refresh token as JSON). A second use means the token was stolen or replayed: the whole
/// session — including the newest tokens minted from it — is revoked and the exchange fails.
/// An optional grace window tolerates a client that retries the exchange it just made (a
/// lost response), but only for the session's immediate predecessor token.
///
/// Cloning is a reference-count bump.
///
/// # Example
///
/// ```
/// use tower_jwt_auth::{Issuer, KeySet, Sessions, SigningKey, session::RefreshError, token::NoCustomClaims};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
/// let sessions = Sessions::new(issuer.clone());
///
/// let first = sessions.start("alice").await?;
/// let second = sessions.refresh(first.refresh_token()).await?;
///
/// // Replaying the first refresh token revokes the whole session.
/// assert!(matches!(sessions.refresh(first.refresh_token()).await, Err(RefreshError::Reused)));
/// assert!(issuer.verifier().verify_access::<NoCustomClaims>(second.access_token()).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Sessions {
    pub(super) issuer: Issuer,
    pub(super) grace_ms: u64,
    pub(super) hook: Option<Arc<dyn JsonHook>>,
    /// The most live sessions a subject may have; `None`: no cap.
    pub(super) max_per_subject: Option<usize>,
    /// Whether a login or refresh needs a DPoP proof.
    pub(super) dpop: DpopPolicy,
}

impl fmt::Debug for Sessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sessions")
            .field("issuer", &self.issuer)
            .field("reuse_grace_ms", &self.grace_ms)
            .field("refresh_hook", &self.hook.is_some())
            .field("max_sessions_per_subject", &self.max_per_subject)
            .field("dpop", &self.dpop)
            .finish()
    }
}

impl Sessions {
    /// Sessions minted by `issuer`, with no reuse grace and no refresh hook
    /// ([`builder`](Self::builder) sets those). Application claims of any type given at
    /// [`start_with_claims`](Self::start_with_claims) survive every refresh.
    ///
    /// ```
    /// use tower_jwt_auth::{Issuer, KeySet, Sessions, SigningKey};
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let sessions = Sessions::new(issuer);
    /// # let _ = sessions;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(issuer: Issuer) -> Self {
        Self {
            issuer,
            grace_ms: 0,
            hook: None,
            max_per_subject: None,
            dpop: DpopPolicy::Optional,
        }
    }

    /// The issuer that mints this session's pairs.
    ///
    /// ```
    /// use tower_jwt_auth::{Issuer, KeySet, Sessions, SigningKey};
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let sessions = Sessions::new(issuer.clone());
    /// assert_eq!(sessions.issuer().keys().signing_kid(), issuer.keys().signing_kid());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }

    /// The revocation state the sessions live in (the issuer's verifier reads the same).
    ///
    /// ```
    /// use tower_jwt_auth::{Issuer, KeySet, Sessions, SigningKey};
    ///
    /// let sessions = Sessions::new(Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?);
    /// assert!(sessions.store().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn store(&self) -> &RevocationStore {
        self.issuer.revocation()
    }

    /// Starts a new session for `subject` (signup or login) and returns its first pair, with
    /// no scope and no application claims.
    ///
    /// The session's record is written to the revocation state before the pair is returned;
    /// when that write fails, no token is handed out ([`StartError::Store`]).
    ///
    /// ```
    /// use tower_jwt_auth::{Claims, Issuer, KeySet, Sessions, SigningKey};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let sessions = Sessions::new(issuer.clone());
    /// let pair = sessions.start("alice").await?;
    /// let claims: Claims = issuer.verifier().verify_access(pair.access_token())?;
    /// assert_eq!(claims.sub, "alice");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn start(&self, subject: &str) -> Result<TokenPair, StartError> {
        self.begin(subject, "", JsonClaims::new(), None, None).await
    }

    /// Starts a new session for `subject` with `scope` (space-separated, RFC 6749 §3.3).
    ///
    /// ```
    /// use tower_jwt_auth::{Issuer, KeySet, Sessions, SigningKey};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let sessions = Sessions::new(Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?);
    /// let pair = sessions.start_with_scope("alice", "read write").await?;
    /// assert_eq!(pair.scope(), "read write");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn start_with_scope(
        &self,
        subject: &str,
        scope: &str,
    ) -> Result<TokenPair, StartError> {
        self.begin(subject, scope, JsonClaims::new(), None, None)
            .await
    }

    /// Starts a new session for `subject` with `scope` and the application's claims `custom`,
    /// flattened into both tokens' claims (they may not use a registered claim name). Every
    /// refresh copies them unchanged into the next pair, unless a refresh hook updates them.
    ///
    /// ```
    /// use serde::{Deserialize, Serialize};
    /// use tower_jwt_auth::{Claims, Issuer, KeySet, Sessions, SigningKey};
    ///
    /// #[derive(Serialize, Deserialize)]
    /// struct Tenant { tenant: String }
    ///
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let sessions = Sessions::new(issuer.clone());
    /// let pair = sessions.start_with_claims("alice", "read", &Tenant { tenant: "acme".into() }).await?;
    /// let next = sessions.refresh(pair.refresh_token()).await?;
    /// let claims: Claims<Tenant> = issuer.verifier().verify_access(next.access_token())?;
    /// assert_eq!(claims.custom.tenant, "acme");
    /// assert!(claims.has_scope("read"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn start_with_claims<T: Serialize>(
        &self,
        subject: &str,
        scope: &str,
        custom: &T,
    ) -> Result<TokenPair, StartError> {
        let custom = custom_claims(custom).map_err(StartError::Issue)?;
        self.begin(subject, scope, custom, None, None).await
    }

    /// Mints the first pair of a new session and writes its record (with `label`), after
    /// ending the subject's oldest sessions beyond the cap; bound to the DPoP key `jkt` when
    /// given.
    pub(super) async fn begin(
        &self,
        subject: &str,
        scope: &str,
        custom: JsonClaims,
        label: Option<&str>,
        jkt: Option<&str>,
    ) -> Result<TokenPair, StartError> {
        if jkt.is_none() && self.dpop == DpopPolicy::Required {
            return Err(StartError::DpopRequired);
        }
        let sid = self.issuer.random_id().map_err(StartError::Issue)?;
        let csrf = self.issuer.random_id().map_err(StartError::Issue)?;
        let store = self.store();
        let now_ms = self.issuer.clock().now_millis();
        // A session must start strictly after the subject's latest "log out everywhere",
        // even in the same millisecond (a login right after it): this moves the start by at
        // most a millisecond past the cut-off.
        let started_ms = match store.subject_cutoff_ms(subject) {
            Some(cutoff) if cutoff >= now_ms => cutoff.saturating_add(1),
            _ => now_ms,
        };
        let session_exp = (now_ms / 1000).saturating_add(self.issuer.session_ttl_secs());
        let minted = self
            .issuer
            .mint(&Grant {
                sub: subject,
                sid: &sid,
                scope,
                custom: &custom,
                started_ms,
                session_exp,
                csrf: &csrf,
                seq: 0,
                jkt,
            })
            .map_err(StartError::Issue)?;
        self.make_room(subject).await.map_err(StartError::Store)?;
        let mut session = NewSession::new(
            &sid,
            subject,
            started_ms,
            &minted.refresh_jti,
            minted.forget_after,
        );
        session.label = label;
        session.last_forget_after = session_exp
            .saturating_add(self.issuer.verifier().leeway_secs())
            .max(minted.forget_after);
        store
            .start_session(&session)
            .await
            .map_err(StartError::Store)?;
        Ok(minted.pair)
    }

    /// Exchanges a refresh token for the next pair of its session.
    ///
    /// The exchange is a compare-and-swap on the session's one current refresh token, atomic
    /// in the backend: among concurrent exchanges of one token exactly one wins. The scope
    /// and application claims are copied from the refresh token into the next pair unless a
    /// refresh hook updates them.
    ///
    /// Fails with [`RefreshError::InvalidToken`] for a bad, expired or revoked token,
    /// [`RefreshError::Reused`] when the token had been superseded (the session is then
    /// revoked), [`RefreshError::Refused`] when the hook refuses the subject,
    /// [`RefreshError::UnknownSession`] when no record of the session exists,
    /// [`RefreshError::Revocation`] when the revocation state cannot be written (nothing is
    /// handed out), and [`RefreshError::DpopKeyMismatch`] for a DPoP-bound session, which
    /// needs [`refresh_with_proof`](Self::refresh_with_proof).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// use tower_jwt_auth::{Issuer, KeySet, Sessions, SigningKey};
    ///
    /// let sessions = Sessions::new(Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?);
    /// let pair = sessions.start("alice").await?;
    /// let next = sessions.refresh(pair.refresh_token()).await?;
    /// assert_eq!(next.session_id(), pair.session_id());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, RefreshError> {
        self.refresh_with_proof(refresh_token, None).await
    }

    /// Exchanges a refresh token, sent with the request's verified DPoP proof if it had one,
    /// for the next pair of its session ([`refresh`](Self::refresh) is this without a proof).
    ///
    /// A DPoP-bound session (one started with [`Login::with_dpop`](super::Login::with_dpop))
    /// needs a proof of its key (RFC 9449 §5: the refresh token of a public client is bound
    /// to it): without one, or with a proof of another key, the exchange fails with
    /// [`RefreshError::DpopKeyMismatch`] (OAuth `invalid_grant`) before anything changes: the
    /// token is not used up and the session is not revoked, so a thief without the key can
    /// neither refresh nor end the session. The next pair is bound to the same key.
    ///
    /// A session started without a proof stays a bearer session: a proof sent with its
    /// refresh token is accepted and ignored, and the next pair is bearer too. Under
    /// [`DpopPolicy::Required`] a refresh without a proof fails with
    /// [`RefreshError::DpopRequired`], whatever the session.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// use tower_jwt_auth::{Issuer, KeySet, Sessions, SigningKey, session::RefreshError};
    ///
    /// let sessions = Sessions::new(Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?);
    /// let bearer = sessions.start("alice").await?;
    /// let next = sessions.refresh_with_proof(bearer.refresh_token(), None).await?;
    /// assert_eq!(next.token_type(), "Bearer");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn refresh_with_proof(
        &self,
        refresh_token: &str,
        proof: Option<&DpopProof>,
    ) -> Result<TokenPair, RefreshError> {
        let span = tracing::debug_span!(target: "tower_jwt_auth::session", "refresh");
        self.exchange(refresh_token, proof).instrument(span).await
    }

    /// The exchange, with its outcome reported.
    async fn exchange(
        &self,
        refresh_token: &str,
        proof: Option<&DpopProof>,
    ) -> Result<TokenPair, RefreshError> {
        let claims: Claims<JsonClaims> = match self
            .issuer
            .verifier()
            .verify(refresh_token, TokenKind::Refresh)
            .map_err(RefreshError::from)
            .and_then(|claims| {
                if proof.is_none() && self.dpop == DpopPolicy::Required {
                    return Err(RefreshError::DpopRequired);
                }
                Ok(claims)
            }) {
            Ok(claims) => claims,
            Err(err) => {
                telemetry::refreshed(Err(err.failure()), None, None);
                return Err(err);
            }
        };
        // For the outcome's event, after `claims` (which need not be `Sync`) moved on.
        let (sub, sid) = (claims.sub.clone(), claims.sid.clone());
        let result = match bound_to_proof(&claims, proof) {
            true => self.rotate(claims).await,
            false => Err(RefreshError::DpopKeyMismatch),
        };
        telemetry::refreshed(
            result.as_ref().map(|_| ()).map_err(RefreshError::failure),
            Some(&sub),
            Some(&sid),
        );
        result
    }

    /// The exchange of a verified refresh token.
    async fn rotate(&self, claims: Claims<JsonClaims>) -> Result<TokenPair, RefreshError> {
        let session_exp = claims.session_exp.ok_or(TokenError::MissingClaim("sexp"))?;

        let update = match &self.hook {
            None => None,
            Some(hook) => match hook.on_refresh(&claims).await? {
                RefreshDecision::Keep => None,
                RefreshDecision::Update { scope, custom } => Some((scope, custom)),
                RefreshDecision::Refuse => {
                    self.revoke_session(&claims.sid, session_exp).await?;
                    return Err(RefreshError::Refused);
                }
            },
        };
        let (scope, custom) = match &update {
            Some((scope, custom)) => (scope.as_str(), custom),
            None => (claims.scope.as_str(), &claims.custom),
        };
        // Mint first: the rotation then hands out a pair that exists, and a pair that loses
        // the rotation is simply dropped.
        let minted = self.issuer.mint(&Grant {
            sub: &claims.sub,
            sid: &claims.sid,
            scope,
            custom,
            started_ms: claims.session_started_millis(),
            session_exp,
            csrf: claims.csrf.as_deref().unwrap_or_default(),
            // A refresh token minted without a number (by an earlier version) counts as 0.
            seq: claims.seq.unwrap_or(0).saturating_add(1),
            // A bound session stays bound to its key.
            jkt: claims.cnf.as_ref().map(|cnf| cnf.jkt.as_str()),
        })?;
        let rotation = Rotation::new(
            &claims.sid,
            &claims.jti,
            &minted.refresh_jti,
            self.issuer.clock().now_millis(),
            self.grace_ms,
            minted.forget_after,
        );
        match self.store().rotate(&rotation).await? {
            RotateOutcome::Rotated => Ok(minted.pair),
            RotateOutcome::Reused { .. } => Err(RefreshError::Reused),
            RotateOutcome::Revoked { .. } => Err(RefreshError::InvalidToken(TokenError::Revoked)),
            RotateOutcome::Unknown => Err(RefreshError::UnknownSession),
        }
    }

    async fn revoke_session(&self, sid: &str, session_exp: u64) -> Result<(), RevocationError> {
        self.deny(session_exp, |expires_at| RevocationEntry::Session {
            sid: sid.to_owned(),
            expires_at,
        })
        .await
    }

    /// Writes the entry `entry(forget_after)`, where forget-after is `exp` plus the leeway:
    /// the last second a token the entry covers can still verify.
    async fn deny(
        &self,
        exp: u64,
        entry: impl FnOnce(u64) -> RevocationEntry,
    ) -> Result<(), RevocationError> {
        let expires_at = exp.saturating_add(self.issuer.verifier().leeway_secs());
        self.store().revoke(entry(expires_at)).await
    }

    /// Logs out one session (one device): its access and refresh tokens stop working at once;
    /// the subject's other sessions are untouched.
    ///
    /// ```
    /// # use tower_jwt_auth::{Issuer, KeySet, Sessions, SigningKey, token::NoCustomClaims};
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// # let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// # let sessions = Sessions::new(issuer.clone());
    /// let phone = sessions.start("alice").await?;
    /// let laptop = sessions.start("alice").await?;
    /// sessions.logout(phone.session_id()).await?;
    /// assert!(issuer.verifier().verify_access::<NoCustomClaims>(phone.access_token()).is_err());
    /// assert!(issuer.verifier().verify_access::<NoCustomClaims>(laptop.access_token()).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn logout(&self, sid: &str) -> Result<(), RevocationError> {
        // The session cannot outlive its absolute lifetime from now.
        let session_exp = self
            .issuer
            .clock()
            .now_secs()
            .saturating_add(self.issuer.session_ttl_secs());
        self.revoke_session(sid, session_exp).await
    }

    /// Logs the subject out everywhere: every session of `sub` started until now stops
    /// working, with every token it has minted or will mint (a refresh in flight included);
    /// a login made afterwards — even within the same millisecond — works.
    ///
    /// Instances' clocks may differ by up to the verifier's leeway: the cut-off lies that far
    /// ahead of this instance's clock, so that it also covers a session started just before
    /// on an instance whose clock is ahead. A session started afterwards on an instance that
    /// has learned of the cut-off starts past it (its `auth_time` may then lead its `iat`).
    ///
    /// ```
    /// # use tower_jwt_auth::{Issuer, KeySet, Sessions, SigningKey, token::NoCustomClaims};
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// # let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// # let sessions = Sessions::new(issuer.clone());
    /// let before = sessions.start("alice").await?;
    /// sessions.logout_all("alice").await?;
    /// let after = sessions.start("alice").await?;
    /// assert!(issuer.verifier().verify_access::<NoCustomClaims>(before.access_token()).is_err());
    /// assert!(issuer.verifier().verify_access::<NoCustomClaims>(after.access_token()).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn logout_all(&self, sub: &str) -> Result<(), RevocationError> {
        let clock = self.issuer.clock();
        let store = self.store();
        let leeway_secs = self.issuer.verifier().leeway_secs();
        // Instances' clocks differ by up to the leeway: the cut-off reaches the leeway past
        // this instance's now, so that it covers every session any instance started before
        // this call. A session started afterwards starts past the cut-off (see `start`).
        // Sessions started since an earlier cut-off in this same millisecond start one tick
        // after it, so a new cut-off must reach past them too.
        let ahead_ms = clock
            .now_millis()
            .saturating_add(leeway_secs.saturating_mul(1000));
        let cutoff_ms = store
            .subject_cutoff_ms(sub)
            .map_or(ahead_ms, |earlier| earlier.saturating_add(1).max(ahead_ms));
        // No session started up to the cut-off outlives its absolute lifetime, and none of
        // its tokens verifies past that plus the leeway.
        let expires_at = (cutoff_ms / 1000)
            .saturating_add(self.issuer.session_ttl_secs())
            .saturating_add(leeway_secs);
        store
            .revoke(RevocationEntry::Subject {
                sub: sub.to_owned(),
                cutoff_ms,
                expires_at,
            })
            .await
    }

    /// Revokes the access token whose verified claims are `claims`, together with every
    /// access token of its session numbered as it is or lower ([`Claims::sequence`]): the
    /// session's watermark rises to the token's number (RFC 7009 §2.1 lets a revocation
    /// cover other tokens of the same grant). The session's refresh token stays valid, and
    /// so do the pairs it mints afterwards.
    ///
    /// Memory grows with sessions, never with tokens: whatever the number of tokens revoked,
    /// a session costs one entry, kept until the last access token it covers has expired
    /// (the token's `exp` plus the leeway, plus the reuse grace window and a second when
    /// there is one, since a retry in the window mints its number again).
    /// A token without a number (minted by an earlier version) is refused wherever
    /// revocation is checked, so nothing is recorded for it.
    ///
    /// ```
    /// # use tower_jwt_auth::{Claims, Issuer, KeySet, Sessions, SigningKey, token::NoCustomClaims};
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// # let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// # let sessions = Sessions::new(issuer.clone());
    /// let pair = sessions.start("alice").await?;
    /// let claims: Claims = issuer.verifier().verify_access(pair.access_token())?;
    /// sessions.revoke_token(&claims).await?;
    /// assert!(issuer.verifier().verify_access::<NoCustomClaims>(pair.access_token()).is_err());
    /// // The refresh token still works, and its pair is valid.
    /// let next = sessions.refresh(pair.refresh_token()).await?;
    /// assert!(issuer.verifier().verify_access::<NoCustomClaims>(next.access_token()).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn revoke_token<T>(&self, claims: &Claims<T>) -> Result<(), RevocationError> {
        let Some(seq) = claims.seq else {
            return Ok(());
        };
        // A retry inside the reuse grace window mints the same number again, at most the
        // window after the pair it retries was minted (instances share the window as they
        // share the lifetimes): the entry outlives the token by that much, and a second for
        // the rounding of `iat`. Without a window no later token has this number.
        let retries_secs = match self.grace_ms {
            0 => 0,
            grace_ms => grace_ms.div_ceil(1000).saturating_add(1),
        };
        self.deny(claims.exp.saturating_add(retries_secs), |expires_at| {
            RevocationEntry::Access {
                sid: claims.sid.clone(),
                seq,
                expires_at,
            }
        })
        .await
    }

    /// Revokes a presented token (RFC 7009): an access token with the earlier access tokens of
    /// its session ([`revoke_token`](Self::revoke_token)); a refresh token together with its
    /// whole session, as RFC 7009 §2.1 recommends. Returns the kind
    /// revoked (revoking a revoked token again is harmless), or `None` for a token that is
    /// invalid or expired, which RFC 7009 answers with success too.
    ///
    /// ```
    /// # use tower_jwt_auth::{Issuer, KeySet, Sessions, SigningKey, token::{NoCustomClaims, TokenKind}};
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// # let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// # let sessions = Sessions::new(issuer.clone());
    /// let pair = sessions.start("alice").await?;
    /// assert_eq!(sessions.revoke(pair.refresh_token()).await?, Some(TokenKind::Refresh));
    /// assert!(issuer.verifier().verify_access::<NoCustomClaims>(pair.access_token()).is_err());
    /// assert_eq!(sessions.revoke("not a token").await?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn revoke(&self, token: &str) -> Result<Option<TokenKind>, RevocationError> {
        let verifier = self.issuer.verifier();
        // Revoking is idempotent: an already-revoked token is revoked again, harmlessly.
        if let Ok(claims) = verifier.verify_unrevoked::<NoCustomClaims>(token, TokenKind::Access) {
            self.revoke_token(&claims).await?;
            return Ok(Some(TokenKind::Access));
        }
        if let Ok(claims) = verifier.verify_unrevoked::<NoCustomClaims>(token, TokenKind::Refresh) {
            let session_exp = claims.session_exp.unwrap_or(claims.exp);
            self.revoke_session(&claims.sid, session_exp).await?;
            return Ok(Some(TokenKind::Refresh));
        }
        Ok(None)
    }

    /// Forgets local revocations that can no longer matter; returns how many entries were
    /// dropped. ([`RevocationStore::run`](crate::store::RevocationStore::run) does this, and purges
    /// the backend, periodically.)
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// use tower_jwt_auth::{Issuer, KeySet, Sessions, SigningKey};
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let sessions = Sessions::new(issuer.clone());
    /// assert_eq!(sessions.purge_expired(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn purge_expired(&self) -> usize {
        self.store().purge_expired()
    }
}

/// `false` when the refresh token is DPoP-bound and `proof` is missing or of another key.
fn bound_to_proof(claims: &Claims<JsonClaims>, proof: Option<&DpopProof>) -> bool {
    match (&claims.cnf, proof) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(cnf), Some(proof)) => bool::from(cnf.jkt.as_bytes().ct_eq(proof.jkt().as_bytes())),
    }
}
