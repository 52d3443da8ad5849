//! The sessions a subject can see and end: [`Login`] (a start with a label),
//! [`SessionInfo`], listing, ending one session by id, and the per-subject cap.

use serde::Serialize;

use super::{Sessions, StartError, hook::JsonClaims};
use crate::{
    dpop::DpopProof,
    issuer::{IssueError, TokenPair, custom_claims},
    store::RevocationError,
};

/// The longest session label accepted, in bytes.
const MAX_LABEL_LEN: usize = 256;

/// What a session starts with: the subject, and optionally a scope, application claims and
/// a label, for [`Sessions::start_with`].
///
/// The label is the application's name for the session (a device or browser name, say),
/// shown when the subject lists its sessions ([`Sessions::list_sessions`]); at most 256
/// bytes.
///
/// ```
/// use tower_jwt_auth::session::Login;
///
/// #[derive(serde::Serialize)]
/// struct Tenant { tenant: String }
///
/// let login = Login::new("alice")
///     .with_scope("read")
///     .with_claims(&Tenant { tenant: "acme".into() })
///     .with_label("Firefox on Linux");
/// # let _ = login;
/// ```
#[derive(Debug)]
#[must_use]
pub struct Login<'a> {
    subject: &'a str,
    scope: &'a str,
    label: Option<&'a str>,
    /// The thumbprint of the proof's key, for a DPoP-bound session.
    jkt: Option<&'a str>,
    /// The claims as JSON, or why they could not be made so (reported by the start).
    custom: Result<JsonClaims, IssueError>,
}

impl<'a> Login<'a> {
    /// A login of `subject`, with no scope, no application claims and no label.
    pub fn new(subject: &'a str) -> Self {
        Self {
            subject,
            scope: "",
            label: None,
            jkt: None,
            custom: Ok(JsonClaims::new()),
        }
    }

    /// The session's scope (space-separated, RFC 6749 §3.3).
    pub fn with_scope(mut self, scope: &'a str) -> Self {
        self.scope = scope;
        self
    }

    /// The application's claims, as [`Sessions::start_with_claims`] takes them; claims that
    /// are not a JSON object, or that use a registered claim name, fail the start with
    /// [`StartError::Issue`].
    pub fn with_claims<T: Serialize>(mut self, custom: &T) -> Self {
        self.custom = custom_claims(custom);
        self
    }

    /// The session's label (at most 256 bytes; a longer one fails the start with
    /// [`StartError::Issue`], an invalid input).
    pub fn with_label(mut self, label: &'a str) -> Self {
        self.label = Some(label);
        self
    }

    /// Binds the session to the key of `proof`, the login request's verified DPoP proof
    /// (RFC 9449 §5): both tokens of every pair of the session name the key's thumbprint
    /// (`cnf.jkt`), the token response says `token_type: DPoP`, and each refresh needs a
    /// proof of the same key ([`Sessions::refresh_with_proof`]). A bound session never
    /// becomes a bearer one.
    ///
    /// In a login handler, [`verify_dpop`](crate::endpoints::verify_dpop) checks the
    /// request's optional `DPoP` header (method `POST`, the login route's URI against the
    /// verifier's origin), and its error is the `400 invalid_dpop_proof` or
    /// `use_dpop_nonce` answer, with a `DPoP-Nonce` header when one is needed. (With server
    /// nonces, a success may also send the next one: see [`DpopProof::renew_nonce`].)
    ///
    /// ```
    /// use axum::{extract::State, http::{HeaderMap, Method, StatusCode, Uri}};
    /// use axum::extract::OriginalUri;
    /// use tower_jwt_auth::{
    ///     Sessions, dpop::ProofVerifier,
    ///     endpoints::{ErrorResponse, token_response, verify_dpop},
    ///     session::Login,
    /// };
    ///
    /// #[derive(Clone)]
    /// struct App { sessions: Sessions, dpop: ProofVerifier }
    ///
    /// async fn login(
    ///     State(app): State<App>,
    ///     method: Method,
    ///     OriginalUri(uri): OriginalUri,
    ///     headers: HeaderMap,
    /// ) -> Result<axum::response::Response, ErrorResponse> {
    ///     // A request without a `DPoP` header gets bearer tokens (under the default policy).
    ///     let proof = verify_dpop(&app.dpop, &method, &uri, &headers).await?;
    ///     // ... check the credentials ...
    ///     let mut login = Login::new("alice");
    ///     if let Some(proof) = &proof {
    ///         login = login.with_dpop(proof);
    ///     }
    ///     let pair = app.sessions.start_with(login).await?;
    ///     Ok(axum::response::IntoResponse::into_response(token_response(StatusCode::OK, &pair)))
    /// }
    /// # let _ = login;
    /// ```
    pub fn with_dpop(mut self, proof: &'a DpopProof) -> Self {
        self.jkt = Some(proof.jkt());
        self
    }
}

/// One live session of a subject, as [`Sessions::list_sessions`] shows it; serialised as
/// the `GET /sessions` route answers it:
/// `{"id":"…","started_ms":…,"last_refreshed_ms":…|null,"label":"…"|null,"current":…}`.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// use tower_jwt_auth::{Issuer, KeySet, Sessions, SigningKey, session::Login};
///
/// let sessions = Sessions::new(Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?);
/// let pair = sessions.start_with(Login::new("alice").with_label("phone")).await?;
/// let listed = sessions.list_sessions("alice", Some(pair.session_id())).await?;
/// assert_eq!(listed[0].label.as_deref(), Some("phone"));
/// assert!(listed[0].current);
/// let json = serde_json::to_value(&listed[0])?;
/// assert_eq!(json["id"], pair.session_id());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SessionInfo {
    /// The session id (`sid`).
    pub id: String,
    /// When the session started, in milliseconds since the epoch.
    pub started_ms: u64,
    /// When the session was last refreshed, in milliseconds since the epoch; `None` before
    /// its first refresh.
    pub last_refreshed_ms: Option<u64>,
    /// The label given at its start, if any.
    pub label: Option<String>,
    /// `true` for the caller's own session.
    pub current: bool,
}

impl Sessions {
    /// Starts a new session as `login` says: subject, scope, application claims and label.
    /// [`start`](Self::start), [`start_with_scope`](Self::start_with_scope) and
    /// [`start_with_claims`](Self::start_with_claims) are shorthands of it without a label.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// use tower_jwt_auth::{Issuer, KeySet, Sessions, SigningKey, session::Login};
    ///
    /// let sessions = Sessions::new(Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?);
    /// let pair = sessions
    ///     .start_with(Login::new("alice").with_scope("read").with_label("laptop"))
    ///     .await?;
    /// assert_eq!(pair.scope(), "read");
    /// let too_long = "x".repeat(257);
    /// let refused = sessions.start_with(Login::new("alice").with_label(&too_long)).await;
    /// assert!(refused.unwrap_err().is_invalid_input());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn start_with(&self, login: Login<'_>) -> Result<TokenPair, StartError> {
        let custom = login.custom.map_err(StartError::Issue)?;
        if login.label.is_some_and(|label| label.len() > MAX_LABEL_LEN) {
            return Err(StartError::Issue(IssueError::InvalidInput(
                "a session label is at most 256 bytes",
            )));
        }
        self.begin(login.subject, login.scope, custom, login.label, login.jkt)
            .await
    }

    /// The live sessions of `subject`, oldest first: those not logged out, not revoked,
    /// not cut off by a "log out everywhere", not expired. The one whose id is
    /// `current_sid` (the caller's, from its token's `sid`) is marked
    /// [`current`](SessionInfo::current).
    ///
    /// Fails closed ([`RevocationError`]) when the backend cannot list them, or does not
    /// implement [`list_sessions`](crate::store::RevocationBackend::list_sessions).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// use tower_jwt_auth::{Issuer, KeySet, Sessions, SigningKey};
    ///
    /// let sessions = Sessions::new(Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?);
    /// let phone = sessions.start("alice").await?;
    /// let laptop = sessions.start("alice").await?;
    /// sessions.start("bob").await?;
    /// sessions.logout(phone.session_id()).await?;
    /// let listed = sessions.list_sessions("alice", Some(laptop.session_id())).await?;
    /// assert_eq!(listed.len(), 1);
    /// assert_eq!(listed[0].id, laptop.session_id());
    /// assert!(listed[0].current);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn list_sessions(
        &self,
        subject: &str,
        current_sid: Option<&str>,
    ) -> Result<Vec<SessionInfo>, RevocationError> {
        let live = self.store().list_sessions(subject).await?;
        Ok(live
            .into_iter()
            .map(|s| SessionInfo {
                current: current_sid == Some(s.sid.as_str()),
                id: s.sid,
                started_ms: s.started_ms,
                last_refreshed_ms: s.last_refreshed_ms,
                label: s.label,
            })
            .collect())
    }

    /// Ends the session `sid` if it is a live session of `subject` (as
    /// [`logout`](Self::logout) does) and returns `true`; returns `false`, and changes
    /// nothing, for any other id: one that does not exist, has ended, or belongs to another
    /// subject.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// use tower_jwt_auth::{Issuer, KeySet, Sessions, SigningKey, token::NoCustomClaims};
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let sessions = Sessions::new(issuer.clone());
    /// let alice = sessions.start("alice").await?;
    /// let bob = sessions.start("bob").await?;
    /// assert!(!sessions.end_session("alice", bob.session_id()).await?, "not alice's");
    /// assert!(issuer.verifier().verify_access::<NoCustomClaims>(bob.access_token()).is_ok());
    /// assert!(sessions.end_session("alice", alice.session_id()).await?);
    /// assert!(issuer.verifier().verify_access::<NoCustomClaims>(alice.access_token()).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn end_session(&self, subject: &str, sid: &str) -> Result<bool, RevocationError> {
        let live = self.store().list_sessions(subject).await?;
        if !live.iter().any(|s| s.sid == sid) {
            return Ok(false);
        }
        self.logout(sid).await?;
        Ok(true)
    }

    /// Under a per-subject cap, ends the oldest live sessions of `subject` so that one more
    /// fits.
    pub(super) async fn make_room(&self, subject: &str) -> Result<(), RevocationError> {
        let Some(max) = self.max_per_subject else {
            return Ok(());
        };
        // Oldest first.
        let live = self.store().list_sessions(subject).await?;
        let excess = (live.len() + 1).saturating_sub(max);
        for session in live.iter().take(excess) {
            self.logout(&session.sid).await?;
        }
        Ok(())
    }
}
