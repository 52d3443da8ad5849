//! Sessions: the refresh exchange with rotation and reuse detection, logout, "log out
//! everywhere" and single-token revocation. No HTTP here; the endpoints build on this.

use std::{fmt, marker::PhantomData, sync::Arc, time::Duration};

use serde::{Serialize, de::DeserializeOwned};
use tracing::Instrument;

use super::{RefreshDecision, RefreshError, RefreshHook};
use crate::{
    ConfigError,
    issuer::{Grant, Issuer, TokenPair, custom_claims},
    store::{RevocationEntry, RevocationError, RotateOutcome, Rotation},
    telemetry,
    token::{Claims, NoCustomClaims, TokenError, TokenKind},
};

/// The session side of the token life cycle: exchange a refresh token for the next pair,
/// log out one session, log out everywhere, revoke one token.
///
/// Every refresh token is single-use. Its first use mints the next pair of the same session,
/// with the idle expiry renewed and the absolute session expiry kept. A second use means the
/// token was stolen or replayed: the whole session — including the newest tokens minted from
/// it — is revoked and the exchange fails. An optional grace window tolerates a client that
/// retries the exchange it just made (a lost response), but only for the session's immediate
/// predecessor token.
///
/// # Example
///
/// ```
/// use tower_jwt_auth::{Issuer, KeySet, Sessions, SigningKey, session::RefreshError, token::NoCustomClaims};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
/// let sessions: Sessions = Sessions::new(issuer.clone());
///
/// let first = issuer.issue("alice").await?;
/// let second = sessions.refresh(first.refresh_token()).await?;
///
/// // Replaying the first refresh token revokes the whole session.
/// assert!(matches!(sessions.refresh(first.refresh_token()).await, Err(RefreshError::Reused)));
/// assert!(issuer.verifier().verify_access::<NoCustomClaims>(second.access_token()).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Sessions<T = NoCustomClaims> {
    issuer: Issuer,
    grace_ms: u64,
    hook: Option<Arc<dyn RefreshHook<T>>>,
    _claims: PhantomData<fn() -> T>,
}

impl<T> Clone for Sessions<T> {
    fn clone(&self) -> Self {
        Self {
            issuer: self.issuer.clone(),
            grace_ms: self.grace_ms,
            hook: self.hook.clone(),
            _claims: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Sessions<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sessions")
            .field("issuer", &self.issuer)
            .field("reuse_grace_ms", &self.grace_ms)
            .field("refresh_hook", &self.hook.is_some())
            .finish()
    }
}

/// The largest reuse grace window a builder accepts, in milliseconds.
const MAX_GRACE_MS: u64 = 60_000;

impl Sessions {
    /// Sessions for tokens without application claims, with no reuse grace and no refresh
    /// hook. [`builder`](Self::builder) sets those, or names the application's claims type.
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
            _claims: PhantomData,
        }
    }

    /// A builder, to set the application's claims type, a reuse grace window or a refresh
    /// hook.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_jwt_auth::{Claims, Issuer, KeySet, Sessions, SigningKey, session::RefreshDecision};
    ///
    /// #[derive(Clone, serde::Serialize, serde::Deserialize)]
    /// struct Tenant { tenant: String }
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let sessions = Sessions::builder(issuer)
    ///     .with_reuse_grace(Duration::from_secs(10))
    ///     // The hook's argument names the claims type: `Sessions<Tenant>`.
    ///     .with_refresh_hook(|claims: &Claims<Tenant>| {
    ///         let banned = claims.sub == "mallory";
    ///         async move {
    ///             Ok(if banned { RefreshDecision::Refuse } else { RefreshDecision::Keep })
    ///         }
    ///     })
    ///     .build()?;
    /// # let _ = sessions;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder(issuer: Issuer) -> SessionsBuilder {
        SessionsBuilder {
            sessions: Self::new(issuer),
            hook_dropped: false,
        }
    }
}

impl<T> Sessions<T>
where
    T: Serialize + DeserializeOwned + Send + 'static,
{
    /// The issuer that mints this session's pairs.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// use tower_jwt_auth::{Issuer, KeySet, Sessions, SigningKey};
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let sessions = Sessions::new(issuer.clone());
    /// assert_eq!(sessions.issuer().keys().signing_kid(), issuer.keys().signing_kid());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }

    /// Exchanges a refresh token for the next pair of its session.
    ///
    /// The exchange is a compare-and-swap on the session's one current refresh token, atomic
    /// in the backend: among concurrent exchanges of one token exactly one wins.
    ///
    /// Fails with [`RefreshError::InvalidToken`] for a bad, expired or revoked token,
    /// [`RefreshError::Reused`] when the token had been superseded (the session is then
    /// revoked), [`RefreshError::Refused`] when the hook refuses the subject,
    /// [`RefreshError::UnknownSession`] when no record of the session exists, and
    /// [`RefreshError::Revocation`] when the revocation state cannot be written (nothing is
    /// handed out).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// use tower_jwt_auth::{Issuer, KeySet, Sessions, SigningKey};
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let sessions = Sessions::new(issuer.clone());
    /// let pair = issuer.issue("alice").await?;
    /// let next = sessions.refresh(pair.refresh_token()).await?;
    /// assert_eq!(next.session_id(), pair.session_id());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, RefreshError> {
        let span = tracing::debug_span!(target: "tower_jwt_auth::session", "refresh");
        self.exchange(refresh_token).instrument(span).await
    }

    /// The exchange, with its outcome reported.
    async fn exchange(&self, refresh_token: &str) -> Result<TokenPair, RefreshError> {
        let claims: Claims<T> = match self
            .issuer
            .verifier()
            .verify(refresh_token, TokenKind::Refresh)
        {
            Ok(claims) => claims,
            Err(err) => {
                let err = RefreshError::from(err);
                telemetry::refreshed(Err(err.failure()), None, None);
                return Err(err);
            }
        };
        // For the outcome's event, after `claims` (which need not be `Sync`) moved on.
        let (sub, sid) = (claims.sub.clone(), claims.sid.clone());
        let result = self.rotate(claims).await;
        telemetry::refreshed(
            result.as_ref().map(|_| ()).map_err(RefreshError::failure),
            Some(&sub),
            Some(&sid),
        );
        result
    }

    /// The exchange of a verified refresh token.
    async fn rotate(&self, claims: Claims<T>) -> Result<TokenPair, RefreshError> {
        let session_exp = claims.session_exp.ok_or(TokenError::MissingClaim("sexp"))?;
        let store = self.issuer.revocation();

        let update = match &self.hook {
            None => None,
            Some(hook) => match hook.on_refresh(&claims).await.map_err(RefreshError::Hook)? {
                RefreshDecision::Keep => None,
                RefreshDecision::Update { scope, custom } => Some((scope, custom)),
                RefreshDecision::Refuse => {
                    self.revoke_session(&claims.sid, session_exp).await?;
                    return Err(RefreshError::Refused);
                }
            },
        };

        let (scope, custom) = match &update {
            Some((scope, custom)) => (scope.as_str(), custom_claims(custom)?),
            None => (claims.scope.as_str(), custom_claims(&claims.custom)?),
        };
        // Mint first: the rotation then hands out a pair that exists, and a pair that loses
        // the rotation is simply dropped.
        let minted = self.issuer.mint(&Grant {
            sub: &claims.sub,
            sid: &claims.sid,
            scope,
            custom: &custom,
            started_ms: claims.session_started_millis(),
            session_exp,
            csrf: claims.csrf.as_deref().unwrap_or_default(),
        })?;
        let rotation = Rotation::new(
            &claims.sid,
            &claims.jti,
            &minted.refresh_jti,
            self.issuer.clock().now_millis(),
            self.grace_ms,
            minted.forget_after,
        );
        match store.rotate(&rotation).await? {
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
        self.issuer.revocation().revoke(entry(expires_at)).await
    }

    /// Logs out one session (one device): its access and refresh tokens stop working at once;
    /// the subject's other sessions are untouched.
    ///
    /// ```
    /// # use tower_jwt_auth::{Issuer, KeySet, Sessions, SigningKey, token::NoCustomClaims};
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// # let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// # let sessions: Sessions = Sessions::new(issuer.clone());
    /// let phone = issuer.issue("alice").await?;
    /// let laptop = issuer.issue("alice").await?;
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
    /// ```
    /// # use tower_jwt_auth::{Issuer, KeySet, Sessions, SigningKey, token::NoCustomClaims};
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// # let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// # let sessions: Sessions = Sessions::new(issuer.clone());
    /// let before = issuer.issue("alice").await?;
    /// sessions.logout_all("alice").await?;
    /// let after = issuer.issue("alice").await?;
    /// assert!(issuer.verifier().verify_access::<NoCustomClaims>(before.access_token()).is_err());
    /// assert!(issuer.verifier().verify_access::<NoCustomClaims>(after.access_token()).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn logout_all(&self, sub: &str) -> Result<(), RevocationError> {
        let clock = self.issuer.clock();
        let store = self.issuer.revocation();
        // Sessions started since an earlier cut-off in this same millisecond start one tick
        // after it (see `Issuer`), so a new cut-off must reach past them.
        let now_ms = clock.now_millis();
        let cutoff_ms = store
            .subject_cutoff_ms(sub)
            .map_or(now_ms, |earlier| earlier.saturating_add(1).max(now_ms));
        // No session started up to now outlives its absolute lifetime.
        let expires_at = clock
            .now_secs()
            .saturating_add(self.issuer.session_ttl_secs())
            .saturating_add(self.issuer.verifier().leeway_secs());
        store
            .revoke(RevocationEntry::Subject {
                sub: sub.to_owned(),
                cutoff_ms,
                expires_at,
            })
            .await
    }

    /// Revokes one token by its `jti` until its `exp`.
    ///
    /// ```
    /// # use tower_jwt_auth::{Claims, Issuer, KeySet, Sessions, SigningKey, token::NoCustomClaims};
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// # let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// # let sessions: Sessions = Sessions::new(issuer.clone());
    /// let pair = issuer.issue("alice").await?;
    /// let claims: Claims = issuer.verifier().verify_access(pair.access_token())?;
    /// sessions.revoke_token(&claims.jti, claims.exp).await?;
    /// assert!(issuer.verifier().verify_access::<NoCustomClaims>(pair.access_token()).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn revoke_token(&self, jti: &str, exp: u64) -> Result<(), RevocationError> {
        self.deny(exp, |expires_at| RevocationEntry::Token {
            jti: jti.to_owned(),
            expires_at,
        })
        .await
    }

    /// Revokes a presented token (RFC 7009): an access token by its `jti`; a refresh token
    /// together with its whole session, as RFC 7009 §2.1 recommends. Returns the kind
    /// revoked (revoking a revoked token again is harmless), or `None` for a token that is
    /// invalid or expired, which RFC 7009 answers with success too.
    ///
    /// ```
    /// # use tower_jwt_auth::{Issuer, KeySet, Sessions, SigningKey, token::{NoCustomClaims, TokenKind}};
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// # let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// # let sessions: Sessions = Sessions::new(issuer.clone());
    /// let pair = issuer.issue("alice").await?;
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
            self.revoke_token(&claims.jti, claims.exp).await?;
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
        self.issuer.revocation().purge_expired()
    }
}

/// Builds [`Sessions`].
#[must_use]
pub struct SessionsBuilder<T = NoCustomClaims> {
    sessions: Sessions<T>,
    /// A hook was set before the claims type changed: refused by `build`.
    hook_dropped: bool,
}

impl<T> fmt::Debug for SessionsBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionsBuilder")
            .field("sessions", &self.sessions)
            .finish_non_exhaustive()
    }
}

impl<T> SessionsBuilder<T>
where
    T: Serialize + DeserializeOwned + Send + 'static,
{
    /// Names the application's claims type `U`: the refresh exchange reads it from the
    /// presented refresh token and writes it into the next pair. Name it before setting a
    /// hook (a hook's argument names it too); `build` refuses a hook set for another type.
    ///
    /// ```
    /// use tower_jwt_auth::{Issuer, KeySet, Sessions, SigningKey};
    ///
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// struct Tenant { tenant: String }
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let sessions: Sessions<Tenant> = Sessions::builder(issuer).with_claims::<Tenant>().build()?;
    /// # let _ = sessions;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_claims<U>(self) -> SessionsBuilder<U> {
        let hook_dropped = self.hook_dropped || self.sessions.hook.is_some();
        self.retyped(None, hook_dropped)
    }

    /// The same settings for claims of type `U`, with `hook`.
    fn retyped<U>(
        self,
        hook: Option<Arc<dyn RefreshHook<U>>>,
        hook_dropped: bool,
    ) -> SessionsBuilder<U> {
        SessionsBuilder {
            sessions: Sessions {
                issuer: self.sessions.issuer,
                grace_ms: self.sessions.grace_ms,
                hook,
                _claims: PhantomData,
            },
            hook_dropped,
        }
    }

    /// Lets the session's immediate predecessor refresh token be exchanged again within
    /// `grace` of its first use without revoking the session (default 0, at most 60 s).
    ///
    /// Risk: within the window, a thief replaying the latest consumed token gets a pair
    /// instead of tripping reuse detection. Use a few seconds at most, for clients on flaky
    /// networks that retry a refresh whose response they lost.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_jwt_auth::{Issuer, KeySet, Sessions, SigningKey};
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// assert!(Sessions::builder(issuer).with_reuse_grace(Duration::from_secs(61)).build().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_reuse_grace(mut self, grace: Duration) -> Self {
        self.sessions.grace_ms = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// Runs `hook` on every refresh, to reload or refuse the subject's claims; the hook's
    /// claims type becomes the sessions' (see [`Sessions::builder`]).
    ///
    /// ```
    /// use tower_jwt_auth::{Claims, Issuer, KeySet, Sessions, SigningKey, session::RefreshDecision};
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let sessions = Sessions::builder(issuer)
    ///     .with_refresh_hook(|claims: &Claims| {
    ///         let disabled = claims.sub == "mallory";
    ///         async move { Ok(if disabled { RefreshDecision::Refuse } else { RefreshDecision::Keep }) }
    ///     })
    ///     .build()?;
    /// # let _ = sessions;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_refresh_hook<U>(self, hook: impl RefreshHook<U>) -> SessionsBuilder<U> {
        let hook_dropped = self.hook_dropped;
        self.retyped(Some(Arc::new(hook)), hook_dropped)
    }

    /// Checks the configuration and builds the sessions.
    ///
    /// Fails on a reuse grace over 60 s, or a refresh hook that `with_claims` dropped.
    ///
    /// ```
    /// use tower_jwt_auth::{Claims, Issuer, KeySet, Sessions, SigningKey, session::RefreshDecision};
    ///
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// struct Tenant { tenant: String }
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// // A hook for the default claims, then another claims type: the hook would be lost.
    /// let conflicting = Sessions::builder(issuer)
    ///     .with_refresh_hook(|_: &Claims| async { Ok(RefreshDecision::Keep) })
    ///     .with_claims::<Tenant>()
    ///     .build();
    /// assert!(conflicting.is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(self) -> Result<Sessions<T>, ConfigError> {
        if self.sessions.grace_ms > MAX_GRACE_MS {
            return Err(ConfigError::Lifetime(
                "the reuse grace window is at most 60 s",
            ));
        }
        if self.hook_dropped {
            return Err(ConfigError::Conflict(
                "`with_claims` after `with_refresh_hook` drops the hook: name the claims first",
            ));
        }
        Ok(self.sessions)
    }
}
