//! [`TokenPair`]: the access + refresh pair handed to the client.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::redact::Redacted;

/// An access token and a refresh token, serialised as an OAuth 2.0 token response
/// (RFC 6749 §5.1) with `refresh_expires_in` added.
///
/// Its `Debug` output never shows the tokens.
///
/// ```
/// use tower_jwt_auth::{Issuer, KeySet, SigningKey, token::NoCustomClaims};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
/// let pair = tower_jwt_auth::Sessions::new(issuer.clone()).start_with_scope("alice", "read write").await?;
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
    pub(super) access_token: String,
    pub(super) token_type: String,
    pub(super) expires_in: u64,
    pub(super) refresh_token: String,
    pub(super) refresh_expires_in: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(super) scope: String,
    #[serde(skip)]
    pub(super) session_id: String,
    #[serde(skip)]
    pub(super) csrf_token: String,
}

impl fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenPair")
            .field("access_token", &Redacted)
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &Redacted)
            .field("refresh_expires_in", &self.refresh_expires_in)
            .field("scope", &self.scope)
            .finish()
    }
}

impl TokenPair {
    /// The access token, to send as `Authorization: Bearer …`.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// # let issuer = tower_jwt_auth::Issuer::builder(tower_jwt_auth::KeySet::new(tower_jwt_auth::SigningKey::generate_ed25519()?)).build()?;
    /// let pair = tower_jwt_auth::Sessions::new(issuer.clone()).start_with_scope("alice", "read").await?;
    /// let authorization = format!("Bearer {}", pair.access_token());
    /// # let _ = authorization;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn access_token(&self) -> &str {
        &self.access_token
    }

    /// The refresh token, to exchange for the next pair.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// # let issuer = tower_jwt_auth::Issuer::builder(tower_jwt_auth::KeySet::new(tower_jwt_auth::SigningKey::generate_ed25519()?)).build()?;
    /// let pair = tower_jwt_auth::Sessions::new(issuer.clone()).start_with_scope("alice", "read").await?;
    /// assert_ne!(pair.refresh_token(), pair.access_token());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn refresh_token(&self) -> &str {
        &self.refresh_token
    }

    /// Seconds until the access token expires.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// # let issuer = tower_jwt_auth::Issuer::builder(tower_jwt_auth::KeySet::new(tower_jwt_auth::SigningKey::generate_ed25519()?)).build()?;
    /// let pair = tower_jwt_auth::Sessions::new(issuer.clone()).start_with_scope("alice", "read").await?;
    /// assert_eq!(pair.expires_in(), 900);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn expires_in(&self) -> u64 {
        self.expires_in
    }

    /// Seconds until the refresh token expires (idle lifetime, capped by the session's
    /// absolute lifetime).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// # let issuer = tower_jwt_auth::Issuer::builder(tower_jwt_auth::KeySet::new(tower_jwt_auth::SigningKey::generate_ed25519()?)).build()?;
    /// let pair = tower_jwt_auth::Sessions::new(issuer.clone()).start_with_scope("alice", "read").await?;
    /// assert_eq!(pair.refresh_expires_in(), 14 * 24 * 3600);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn refresh_expires_in(&self) -> u64 {
        self.refresh_expires_in
    }

    /// The token type of the response: `Bearer`, or `DPoP` for a pair bound to a DPoP key
    /// (RFC 9449 §5), whose access token is sent as `Authorization: DPoP …` with a proof.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// # let issuer = tower_jwt_auth::Issuer::builder(tower_jwt_auth::KeySet::new(tower_jwt_auth::SigningKey::generate_ed25519()?)).build()?;
    /// let pair = tower_jwt_auth::Sessions::new(issuer.clone()).start("alice").await?;
    /// assert_eq!(pair.token_type(), "Bearer");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn token_type(&self) -> &str {
        &self.token_type
    }

    /// The granted scopes, space-separated.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// # let issuer = tower_jwt_auth::Issuer::builder(tower_jwt_auth::KeySet::new(tower_jwt_auth::SigningKey::generate_ed25519()?)).build()?;
    /// let pair = tower_jwt_auth::Sessions::new(issuer.clone()).start_with_scope("alice", "read").await?;
    /// assert_eq!(pair.scope(), "read");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// The session both tokens belong to (the `sid` claim). Empty on a pair that was
    /// deserialised rather than issued.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// # let issuer = tower_jwt_auth::Issuer::builder(tower_jwt_auth::KeySet::new(tower_jwt_auth::SigningKey::generate_ed25519()?)).build()?;
    /// let pair = tower_jwt_auth::Sessions::new(issuer.clone()).start_with_scope("alice", "read").await?;
    /// let claims: tower_jwt_auth::Claims = issuer.verifier().verify_access(pair.access_token())?;
    /// assert_eq!(pair.session_id(), claims.sid);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// The session's CSRF value (the `csrf` claim of both tokens), for the
    /// [cookie transport](crate::transport::CookieTransport): a browser page sends it back in
    /// a header. Empty on a pair that was deserialised rather than issued.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// # let issuer = tower_jwt_auth::Issuer::builder(tower_jwt_auth::KeySet::new(tower_jwt_auth::SigningKey::generate_ed25519()?)).build()?;
    /// let pair = tower_jwt_auth::Sessions::new(issuer.clone()).start("alice").await?;
    /// assert_eq!(pair.csrf_token().len(), 22); // 128 random bits, base64url
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}
