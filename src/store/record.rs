//! The session record's operations: start a session, rotate its refresh token.

/// A session as it starts at login: the record a backend creates.
///
/// Built by the crate when it issues the first pair of a session; a backend stores it.
///
/// ```
/// use tower_jwt_auth::store::NewSession;
///
/// fn describe(session: &NewSession<'_>) -> String {
///     format!("{} for {} until {}", session.sid, session.sub, session.forget_after)
/// }
/// # let _ = describe;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewSession<'a> {
    /// The session id (`sid`).
    pub sid: &'a str,
    /// The subject (`sub`) the session belongs to.
    pub sub: &'a str,
    /// When the session started (its `auth_time`), in milliseconds since the epoch.
    pub started_ms: u64,
    /// The `jti` of the session's first refresh token: the one token that can refresh.
    pub refresh_jti: &'a str,
    /// When the record can be forgotten (seconds since the epoch): the expiry of the
    /// session's latest refresh token plus the leeway. Every later rotation moves it forward.
    pub forget_after: u64,
}

impl<'a> NewSession<'a> {
    /// A new session record (a backend's own tests build one; the crate builds them at
    /// login).
    pub fn new(
        sid: &'a str,
        sub: &'a str,
        started_ms: u64,
        refresh_jti: &'a str,
        forget_after: u64,
    ) -> Self {
        Self {
            sid,
            sub,
            started_ms,
            refresh_jti,
            forget_after,
        }
    }
}

/// One refresh exchange, as a compare-and-swap on the session's current refresh token.
///
/// A backend applies it atomically (see
/// [`RevocationBackend::rotate`](super::RevocationBackend::rotate) for the rules).
///
/// ```
/// use tower_jwt_auth::store::Rotation;
///
/// fn describe(rotation: &Rotation<'_>) -> String {
///     format!("session {} at {} ms", rotation.sid, rotation.now_ms)
/// }
/// # let _ = describe;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rotation<'a> {
    /// The session id (`sid`).
    pub sid: &'a str,
    /// The `jti` of the refresh token the client presented.
    pub presented_jti: &'a str,
    /// The `jti` of the successor refresh token, already minted: on success it becomes the
    /// session's one current refresh token.
    pub next_jti: &'a str,
    /// The time of the exchange, in milliseconds since the epoch.
    pub now_ms: u64,
    /// The reuse grace window in milliseconds (0: none).
    pub grace_ms: u64,
    /// The record's new forget-after time (seconds since the epoch): the successor's expiry
    /// plus the leeway. A backend keeps the later of this and the one it has.
    pub forget_after: u64,
}

impl<'a> Rotation<'a> {
    /// A rotation (a backend's own tests build one; the crate builds them on refresh).
    pub fn new(
        sid: &'a str,
        presented_jti: &'a str,
        next_jti: &'a str,
        now_ms: u64,
        grace_ms: u64,
        forget_after: u64,
    ) -> Self {
        Self {
            sid,
            presented_jti,
            next_jti,
            now_ms,
            grace_ms,
            forget_after,
        }
    }
}

/// What a [`Rotation`] found and did.
///
/// ```
/// use tower_jwt_auth::store::RotateOutcome;
///
/// assert!(RotateOutcome::Rotated.is_rotated());
/// assert!(!RotateOutcome::Reused { forget_after: 10 }.is_rotated());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RotateOutcome {
    /// The presented token could refresh: the successor is now the session's one current
    /// refresh token.
    Rotated,
    /// The presented token had been superseded: this is reuse, and the backend has revoked
    /// the session in the same atomic step.
    Reused {
        /// The revoked session's forget-after time (seconds since the epoch).
        forget_after: u64,
    },
    /// The session had been revoked before (logout, reuse, a refused refresh).
    Revoked {
        /// The revoked session's forget-after time (seconds since the epoch).
        forget_after: u64,
    },
    /// The backend has no record of the session (never started, or its state was lost):
    /// nothing can refresh it.
    Unknown,
}

impl RotateOutcome {
    /// `true` for [`RotateOutcome::Rotated`].
    pub fn is_rotated(&self) -> bool {
        matches!(self, Self::Rotated)
    }
}
