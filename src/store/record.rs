//! The session record's operations: start a session, rotate its refresh token; and what a
//! record keeps of a refresh token.

use crate::crypto::digest;

/// What a session record keeps of a refresh token: the first 64 bits of the SHA-256 digest
/// of its `jti` (little-endian), so that a record stays small, the same size whatever the
/// `jti`, and never holds a token's id in clear. Every backend keeps this value.
pub(crate) fn refresh_token_id(jti: &str) -> u64 {
    let digest = digest::digest(&digest::SHA256, jti.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_ref()[..8]);
    u64::from_le_bytes(first)
}

/// [`refresh_token_id`] as 16 lower-case hex digits, for a backend that keeps strings.
#[cfg(feature = "redis")]
pub(crate) fn refresh_token_hex(jti: &str) -> String {
    format!("{:016x}", refresh_token_id(jti))
}

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
    /// The label the application gave the session at its start (a device name, say), shown
    /// when the subject's sessions are listed; `None` without one (an empty label is none).
    pub label: Option<&'a str>,
    /// The latest forget-after time the record can reach (seconds since the epoch): the
    /// session's absolute expiry plus the leeway, past which no rotation moves it. A backend
    /// keeps what indexes the session by subject at least until then. [`new`](Self::new)
    /// sets it to `forget_after`.
    pub last_forget_after: u64,
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
            label: None,
            last_forget_after: forget_after,
        }
    }

    /// The same session with the label `label` (see [`label`](Self::label)).
    ///
    /// ```
    /// use tower_jwt_auth::store::NewSession;
    ///
    /// let session = NewSession::new("s1", "alice", 1_000, "r0", 60).with_label("phone");
    /// assert_eq!(session.label, Some("phone"));
    /// ```
    #[must_use]
    pub fn with_label(mut self, label: &'a str) -> Self {
        self.label = Some(label);
        self
    }
}

/// A live session of a subject, as a backend lists it
/// ([`RevocationBackend::list_sessions`](super::RevocationBackend::list_sessions)).
///
/// ```
/// use tower_jwt_auth::store::LiveSession;
///
/// let session = LiveSession::new("s1", 1_000).with_last_refreshed_ms(Some(2_000));
/// assert_eq!((session.sid.as_str(), session.started_ms), ("s1", 1_000));
/// assert_eq!(session.last_refreshed_ms, Some(2_000));
/// assert_eq!(session.label, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LiveSession {
    /// The session id (`sid`).
    pub sid: String,
    /// When the session started, in milliseconds since the epoch ([`NewSession::started_ms`]).
    pub started_ms: u64,
    /// When its refresh token was last rotated, in milliseconds since the epoch; `None`
    /// before the first refresh.
    pub last_refreshed_ms: Option<u64>,
    /// The label given at its start ([`NewSession::label`]).
    pub label: Option<String>,
}

impl LiveSession {
    /// A session started at `started_ms`, never refreshed, without a label (a backend
    /// builds them when it lists a subject's sessions).
    pub fn new(sid: impl Into<String>, started_ms: u64) -> Self {
        Self {
            sid: sid.into(),
            started_ms,
            last_refreshed_ms: None,
            label: None,
        }
    }

    /// The same session, last refreshed at `at_ms` (`None`: never).
    #[must_use]
    pub fn with_last_refreshed_ms(mut self, at_ms: Option<u64>) -> Self {
        self.last_refreshed_ms = at_ms;
        self
    }

    /// The same session, with the label `label` (`None`: none).
    #[must_use]
    pub fn with_label(mut self, label: Option<String>) -> Self {
        self.label = label;
        self
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_token_ids_are_the_first_64_bits_of_the_digest() {
        // SHA-256("abc") starts with ba 78 16 bf 8f 01 cf ea.
        assert_eq!(refresh_token_id("abc"), 0xeacf_018f_bf16_78ba);
        assert_ne!(refresh_token_id("a"), refresh_token_id("b"));
    }

    #[cfg(feature = "redis")]
    #[test]
    fn the_hex_form_is_the_same_value() {
        assert_eq!(refresh_token_hex("abc"), "eacf018fbf1678ba");
        assert_eq!(
            u64::from_str_radix(&refresh_token_hex("a"), 16).unwrap(),
            refresh_token_id("a")
        );
    }
}
