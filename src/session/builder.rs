//! [`SessionsBuilder`]: the reuse grace window and the refresh hook of [`Sessions`].

use std::{fmt, sync::Arc, time::Duration};

use serde::{Serialize, de::DeserializeOwned};

use super::{
    RefreshHook, Sessions,
    hook::{JsonHook, Typed},
};
use crate::{config::ConfigError, dpop::DpopPolicy, issuer::Issuer};

/// The largest reuse grace window a builder accepts, in milliseconds.
const MAX_GRACE_MS: u64 = 60_000;
/// The largest per-subject session cap a builder accepts.
const MAX_SESSIONS_PER_SUBJECT: usize = 10_000;

/// Builds [`Sessions`].
#[must_use]
pub struct SessionsBuilder {
    sessions: Sessions,
}

impl fmt::Debug for SessionsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionsBuilder")
            .field("sessions", &self.sessions)
            .finish()
    }
}

impl Sessions {
    /// A builder, to set a reuse grace window or a refresh hook.
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
    ///     // The hook reads the session's claims as its argument's type.
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
        }
    }
}

impl SessionsBuilder {
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

    /// Runs `hook` on every refresh, before the token is rotated, to reload or refuse the
    /// subject's claims. The hook reads the session's application claims as `T` (its
    /// argument's type); a session whose claims do not deserialise as `T` fails to refresh
    /// with [`RefreshError::ClaimsType`](super::RefreshError::ClaimsType), its token not
    /// used up.
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
    pub fn with_refresh_hook<T>(mut self, hook: impl RefreshHook<T>) -> Self
    where
        T: Serialize + DeserializeOwned + 'static,
    {
        let hook: Arc<dyn JsonHook> = Arc::new(Typed::new(hook));
        self.sessions.hook = Some(hook);
        self
    }

    /// Caps the live sessions of one subject at `max` (1 to 10 000; default: no cap). A start
    /// that would exceed it first ends the subject's oldest live sessions (by start time), as
    /// [`logout`](Sessions::logout) does, so that the new one is the `max`-th; their tokens
    /// are refused from then on. The cap needs a backend that lists sessions
    /// ([`RevocationBackend::list_sessions`](crate::store::RevocationBackend::list_sessions)):
    /// when the listing or an ending fails, the start fails and hands out nothing.
    ///
    /// Logins of one subject racing each other on several instances may leave it over the
    /// cap until its next start.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_jwt_auth::{Issuer, KeySet, Sessions, SigningKey, clock::MockClock, token::NoCustomClaims};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let clock = MockClock::at_secs(1_700_000_000);
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?))
    ///     .with_clock(clock.clone())
    ///     .build()?;
    /// let sessions = Sessions::builder(issuer.clone()).with_max_sessions_per_subject(2).build()?;
    /// let first = sessions.start("alice").await?;
    /// clock.advance(Duration::from_secs(1));
    /// sessions.start("alice").await?;
    /// clock.advance(Duration::from_secs(1));
    /// sessions.start("alice").await?; // ends `first`, the oldest
    /// assert!(issuer.verifier().verify_access::<NoCustomClaims>(first.access_token()).is_err());
    /// assert_eq!(sessions.list_sessions("alice", None).await?.len(), 2);
    ///
    /// assert!(Sessions::builder(issuer).with_max_sessions_per_subject(0).build().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_max_sessions_per_subject(mut self, max: usize) -> Self {
        self.sessions.max_per_subject = Some(max);
        self
    }

    /// Whether a login or refresh needs a DPoP proof (default [`DpopPolicy::Optional`]).
    ///
    /// [`DpopPolicy::Required`] refuses every login without a proof, and every refresh
    /// without one, including those of bearer sessions started before the policy changed:
    /// their clients must log in again with a proof.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// use tower_jwt_auth::{Issuer, KeySet, Sessions, SigningKey, dpop::DpopPolicy, session::StartError};
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let sessions = Sessions::builder(issuer).with_dpop(DpopPolicy::Required).build()?;
    /// assert!(matches!(sessions.start("alice").await, Err(StartError::DpopRequired)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_dpop(mut self, policy: DpopPolicy) -> Self {
        self.sessions.dpop = policy;
        self
    }

    /// Checks the configuration and builds the sessions.
    ///
    /// Fails on a reuse grace over 60 s, or a session cap outside 1 to 10 000.
    ///
    /// ```
    /// use tower_jwt_auth::{Issuer, KeySet, Sessions, SigningKey};
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let sessions = Sessions::builder(issuer).build()?;
    /// # let _ = sessions;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(self) -> Result<Sessions, ConfigError> {
        if self.sessions.grace_ms > MAX_GRACE_MS {
            return Err(ConfigError::Lifetime(
                "the reuse grace window is at most 60 s",
            ));
        }
        if self
            .sessions
            .max_per_subject
            .is_some_and(|max| !(1..=MAX_SESSIONS_PER_SUBJECT).contains(&max))
        {
            return Err(ConfigError::Limit(
                "the sessions per subject are capped at 1 to 10 000",
            ));
        }
        Ok(self.sessions)
    }
}
