//! [`TestEnv`]: an issuer, its sessions and a bearer layer on one mock clock.

use std::time::Duration;

use super::TestClient;
use crate::{
    BearerAuthLayer, Issuer, KeySet, Sessions, SigningKey, TokenPair,
    clock::MockClock,
    issuer::IssuerBuilder,
    session::{RefreshError, StartError},
    store::{BoxError, RevocationError},
};

/// An issuer with a freshly generated Ed25519 key, its [`Sessions`] and a
/// [`BearerAuthLayer`] wired to them, all on one [`MockClock`], in one call: the set-up of a
/// test of the application's handlers.
///
/// The clock starts at 2027-01-15T08:00:00Z and moves only with [`advance`](Self::advance).
/// There is no leeway: an access token is accepted until one second before
/// [`access_ttl`](Self::access_ttl) has passed, and refused from then on.
///
/// ```
/// use tower_jwt_auth::{clock::Clock, testing::TestEnv};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let env = TestEnv::new()?;
/// let pair = env.login("alice").await?;
/// env.advance(env.access_ttl());
/// let next = env.refresh(pair.refresh_token()).await?;
/// assert!(env.refresh(pair.refresh_token()).await.is_err(), "reuse ends the session");
/// assert!(env.refresh(next.refresh_token()).await.is_err());
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
#[derive(Debug, Clone)]
pub struct TestEnv {
    clock: MockClock,
    sessions: Sessions,
    layer: BearerAuthLayer,
}

/// The test clock's start: 2027-01-15T08:00:00Z.
const T0: u64 = 1_800_000_000;

impl TestEnv {
    /// The environment with the issuer's defaults (15-minute access tokens, no issuer or
    /// audience names, the in-memory revocation state).
    ///
    /// ```
    /// use tower_jwt_auth::testing::TestEnv;
    ///
    /// let env = TestEnv::new()?;
    /// assert_eq!(env.access_ttl().as_secs(), 15 * 60);
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn new() -> Result<Self, BoxError> {
        Self::with_issuer(|builder| builder)
    }

    /// The environment with an issuer configured by `configure` (lifetimes, issuer and
    /// audience names, a revocation backend); the clock is set after `configure`, so the
    /// issuer always runs on the environment's clock.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_jwt_auth::testing::TestEnv;
    ///
    /// let env = TestEnv::with_issuer(|b| b.with_access_ttl(Duration::from_secs(60)).with_audience("api"))?;
    /// assert_eq!(env.access_ttl(), Duration::from_secs(60));
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn with_issuer(
        configure: impl FnOnce(IssuerBuilder) -> IssuerBuilder,
    ) -> Result<Self, BoxError> {
        let clock = MockClock::at_secs(T0);
        let keys = KeySet::new(SigningKey::generate_ed25519()?);
        let issuer: Issuer = configure(Issuer::builder(keys))
            .with_clock(clock.clone())
            .build()?;
        Ok(Self {
            layer: BearerAuthLayer::new(&issuer),
            sessions: Sessions::builder(issuer).build()?,
            clock,
        })
    }

    /// The clock every part of the environment reads.
    ///
    /// ```
    /// use tower_jwt_auth::{clock::Clock, testing::TestEnv};
    ///
    /// let env = TestEnv::new()?;
    /// let before = env.clock().now_secs();
    /// env.advance(std::time::Duration::from_secs(5));
    /// assert_eq!(env.clock().now_secs(), before + 5);
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn clock(&self) -> &MockClock {
        &self.clock
    }

    /// Moves the clock forward by `by`: tokens expire without the test sleeping.
    ///
    /// ```
    /// use tower_jwt_auth::{clock::Clock, testing::TestEnv};
    ///
    /// let env = TestEnv::new()?;
    /// env.advance(std::time::Duration::from_secs(60));
    /// assert_eq!(env.clock().now_secs(), 1_800_000_060);
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// The sessions: start, refresh, log out, list, revoke.
    ///
    /// ```
    /// use tower_jwt_auth::testing::TestEnv;
    ///
    /// let env = TestEnv::new()?;
    /// assert!(env.sessions().store().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// The issuer of the sessions.
    ///
    /// ```
    /// use tower_jwt_auth::testing::TestEnv;
    ///
    /// let env = TestEnv::new()?;
    /// assert!(env.issuer().keys().signing_kid().is_some());
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn issuer(&self) -> &Issuer {
        self.sessions.issuer()
    }

    /// A bearer layer that accepts the environment's access tokens (a reference-count bump;
    /// configure it further as the application does: `.with_claims::<T>()`,
    /// `.require_scope(…)`, `.with_cookie_transport(…)`).
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// use tower_jwt_auth::testing::TestEnv;
    ///
    /// let env = TestEnv::new()?;
    /// let app: Router = Router::<()>::new().route("/", get(|| async { "hi" })).route_layer(env.layer());
    /// # let _ = app;
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn layer(&self) -> BearerAuthLayer {
        self.layer.clone()
    }

    /// The access tokens' lifetime.
    ///
    /// ```
    /// use tower_jwt_auth::testing::TestEnv;
    ///
    /// assert_eq!(TestEnv::new()?.access_ttl().as_secs(), 900);
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn access_ttl(&self) -> Duration {
        Duration::from_secs(self.issuer().access_ttl_secs())
    }

    /// A login of `subject`: a new session and its first pair, as the application's login
    /// handler starts it after checking the password.
    ///
    /// ```
    /// use tower_jwt_auth::testing::TestEnv;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let env = TestEnv::new()?;
    /// let pair = env.login("alice").await?;
    /// assert_eq!(pair.expires_in(), 900);
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub async fn login(&self, subject: &str) -> Result<TokenPair, StartError> {
        self.sessions.start(subject).await
    }

    /// The refresh exchange of `refresh_token` for the next pair.
    ///
    /// ```
    /// use tower_jwt_auth::testing::TestEnv;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let env = TestEnv::new()?;
    /// let pair = env.login("alice").await?;
    /// let next = env.refresh(pair.refresh_token()).await?;
    /// assert_eq!(next.session_id(), pair.session_id());
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, RefreshError> {
        self.sessions.refresh(refresh_token).await
    }

    /// Logs out the session of `pair`: its tokens are refused from now on.
    ///
    /// ```
    /// use tower_jwt_auth::testing::TestEnv;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let env = TestEnv::new()?;
    /// let pair = env.login("alice").await?;
    /// env.logout(&pair).await?;
    /// assert!(env.refresh(pair.refresh_token()).await.is_err());
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub async fn logout(&self, pair: &TokenPair) -> Result<(), RevocationError> {
        self.sessions.logout(pair.session_id()).await
    }

    /// A [`TestClient`] of `service` whose cookie jar runs on the environment's clock, so
    /// that a cookie's `Max-Age` runs out when the test advances past it.
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// use tower_jwt_auth::testing::TestEnv;
    ///
    /// let env = TestEnv::new()?;
    /// let client = env.client(Router::<()>::new().route("/", get(|| async { "hi" })));
    /// # let _ = client;
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn client<S>(&self, service: S) -> TestClient<S> {
        TestClient::new(service).with_clock(self.clock.clone())
    }
}
