//! Telemetry: the `tracing` events and, with the `metrics` feature, the counters that every
//! authentication decision emits.
//!
//! One function per decision, so that an event and its counter always agree and the names
//! live in one place. No token, key or secret ever reaches a field: only reason codes, HTTP
//! statuses, backend operation names, and — where an operator needs them to act — the
//! subject (`sub`) and session id (`sid`), which are identifiers, not credentials.
//!
//! Events go to the targets `tower_jwt_auth::bearer` (requests), `tower_jwt_auth::session`
//! (refresh outcomes) and `tower_jwt_auth::revocation` (revocations, the backend and its
//! change feed), so that `RUST_LOG=tower_jwt_auth::bearer=debug` shows every refused request.

use std::{fmt, time::Duration};

const BEARER: &str = "tower_jwt_auth::bearer";
const SESSION: &str = "tower_jwt_auth::session";
const REVOCATION: &str = "tower_jwt_auth::revocation";

/// The metric names, documented in the crate's feature table.
#[cfg(feature = "metrics")]
pub(crate) mod names {
    pub(crate) const ACCEPTED: &str = "tower_jwt_auth_accepted_total";
    pub(crate) const REJECTED: &str = "tower_jwt_auth_rejected_total";
    pub(crate) const REFRESH: &str = "tower_jwt_auth_refresh_total";
    pub(crate) const REUSE: &str = "tower_jwt_auth_reuse_detected_total";
    pub(crate) const REVOKED: &str = "tower_jwt_auth_revocations_total";
    pub(crate) const BACKEND_ERRORS: &str = "tower_jwt_auth_backend_errors_total";
    pub(crate) const FEED_GAPS: &str = "tower_jwt_auth_feed_gaps_total";
    pub(crate) const CACHE_HITS: &str = "tower_jwt_auth_cache_hits_total";
    pub(crate) const CACHE_MISSES: &str = "tower_jwt_auth_cache_misses_total";
    pub(crate) const STALE: &str = "tower_jwt_auth_revocation_stale_total";
    pub(crate) const STALENESS: &str = "tower_jwt_auth_revocation_staleness_seconds";
}

/// The bearer layer accepted a request (with claims, or anonymous in optional mode).
#[inline]
pub(crate) fn accepted(anonymous: bool) {
    tracing::trace!(target: BEARER, anonymous, "bearer token accepted");
    #[cfg(feature = "metrics")]
    metrics::counter!(names::ACCEPTED, "anonymous" => if anonymous { "true" } else { "false" })
        .increment(1);
}

/// The bearer layer's verified-token cache was asked for a token: a hit skips the signature
/// check and the parse. No event: this runs on every request.
#[inline]
pub(crate) fn cache_lookup(hit: bool) {
    #[cfg(feature = "metrics")]
    if hit {
        metrics::counter!(names::CACHE_HITS).increment(1);
    } else {
        metrics::counter!(names::CACHE_MISSES).increment(1);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = hit;
}

/// The bearer layer refused a request: `reason` is the refusal's reason code, `status` its
/// HTTP status, and `unavailable` says that the revocation state could not be read.
///
/// `debug`, not `info`: a refused request is the client's business (an expired token is
/// routine); a server that cannot read its revocation state is the operator's, at `warn`.
pub(crate) fn rejected(reason: &'static str, status: u16, unavailable: bool) {
    if unavailable {
        tracing::warn!(
            target: BEARER,
            reason,
            status,
            "request refused: revocation state unavailable",
        );
    } else {
        tracing::debug!(target: BEARER, reason, status, "request refused");
    }
    #[cfg(feature = "metrics")]
    metrics::counter!(names::REJECTED, "reason" => reason).increment(1);
}

/// Why a refresh exchange did not rotate the token, as its event and counter record it.
#[derive(Clone, Copy)]
pub(crate) enum RefreshFailure<'a> {
    /// A refresh token already exchanged was presented again; the session was revoked.
    Reused,
    /// The client sent a bad grant: the reason code.
    InvalidGrant(&'static str),
    /// The server could not complete the exchange: the reason code, and the error.
    Failed(&'static str, &'a dyn fmt::Display),
}

/// The outcome of a refresh exchange.
pub(crate) fn refreshed(
    outcome: Result<(), RefreshFailure<'_>>,
    sub: Option<&str>,
    sid: Option<&str>,
) {
    let outcome = match outcome {
        Ok(()) => {
            tracing::debug!(target: SESSION, sub, sid, "refresh token rotated");
            "rotated"
        }
        Err(RefreshFailure::Reused) => {
            // Someone presented a refresh token that had already been exchanged: either the
            // client lost a response and retried, or the token was stolen.
            tracing::warn!(
                target: SESSION,
                sub,
                sid,
                "refresh token reuse detected: the token was probably stolen; session revoked",
            );
            #[cfg(feature = "metrics")]
            metrics::counter!(names::REUSE).increment(1);
            "reused"
        }
        Err(RefreshFailure::InvalidGrant(reason)) => {
            tracing::debug!(target: SESSION, sub, sid, reason, "refresh refused");
            reason
        }
        Err(RefreshFailure::Failed(reason, err)) => {
            tracing::warn!(target: SESSION, sub, sid, reason, error = %err, "refresh failed");
            reason
        }
    };
    #[cfg(feature = "metrics")]
    metrics::counter!(names::REFRESH, "outcome" => outcome).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = outcome;
}

/// A refresh from the cookie transport's refresh cookie was refused for its CSRF header; the
/// session is untouched.
pub(crate) fn refresh_csrf_refused(sub: &str, sid: &str) {
    tracing::debug!(target: SESSION, sub, sid, reason = "invalid_csrf_token", "refresh refused");
    #[cfg(feature = "metrics")]
    metrics::counter!(names::REFRESH, "outcome" => "invalid_csrf_token").increment(1);
}

/// What a revocation covered.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Revoked {
    /// One token by its `jti` (an entry the application records itself).
    Token,
    /// One session (logout, a refused subject, or reuse detection).
    Session,
    /// A session's access tokens up to one (RFC 7009 revocation of an access token).
    Access,
    /// Every session of a subject (log out everywhere).
    Subject,
}

impl Revoked {
    fn as_str(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::Session => "session",
            Self::Access => "access",
            Self::Subject => "subject",
        }
    }
}

/// A revocation was written.
pub(crate) fn revoked(what: Revoked, sub: Option<&str>, sid: Option<&str>) {
    let what = what.as_str();
    tracing::info!(target: REVOCATION, what, sub, sid, "revoked");
    #[cfg(feature = "metrics")]
    metrics::counter!(names::REVOKED, "what" => what).increment(1);
}

/// The revocation backend failed an operation (the caller fails closed).
pub(crate) fn backend_error(operation: &'static str, error: &dyn std::error::Error) {
    tracing::warn!(
        target: REVOCATION,
        operation,
        error = %crate::redact::error_chain(error),
        "revocation backend error",
    );
    #[cfg(feature = "metrics")]
    metrics::counter!(names::BACKEND_ERRORS, "operation" => operation).increment(1);
}

/// The backend keeps nothing across its own restart: sessions, logouts and revocations would
/// be forgotten, and tokens logged out before it accepted again.
#[cfg(feature = "redis")]
pub(crate) fn persists_nothing(backend: &'static str) {
    tracing::warn!(
        target: REVOCATION,
        backend,
        "the revocation backend persists nothing: a restart of it forgets every session and \
         revocation (turn on its append-only file or snapshots)",
    );
}

/// The revocation backend answered again after a failure.
pub(crate) fn backend_recovered(operation: &'static str) {
    tracing::info!(
        target: REVOCATION,
        operation,
        "revocation backend recovered"
    );
}

/// The change feed had a gap: the store stops trusting its local state's freshness and
/// reloads.
pub(crate) fn feed_gap(error: Option<&dyn std::error::Error>) {
    match error {
        Some(error) => {
            tracing::warn!(
                target: REVOCATION,
                error = %crate::redact::error_chain(error),
                "revocation change feed lost; reloading the shared state"
            )
        }
        None => {
            tracing::warn!(
                target: REVOCATION,
                "revocation change feed ended; reloading the shared state",
            )
        }
    }
    #[cfg(feature = "metrics")]
    metrics::counter!(names::FEED_GAPS).increment(1);
}

/// The store (re)loaded the shared state; `behind` is how long it had not been following the
/// change feed (since start or since the gap), the lag that other instances' revocations may
/// have had here.
pub(crate) fn loaded(entries: usize, behind: Duration) {
    tracing::info!(
        target: REVOCATION,
        entries,
        behind_ms = u64::try_from(behind.as_millis()).unwrap_or(u64::MAX),
        "revocation state loaded",
    );
}

/// The connection to the backend failed; the store retries after `retry_in`.
pub(crate) fn connect_failed(error: &dyn std::error::Error, retry_in: Duration) {
    tracing::warn!(
        target: REVOCATION,
        error = %crate::redact::error_chain(error),
        retry_in_ms = u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX),
        "revocation backend unreachable; retrying",
    );
}

/// The change feed brought none of the store's heartbeats for longer than the staleness
/// bound: the store drops it, subscribes and loads again.
pub(crate) fn feed_silent(bound: Duration) {
    tracing::warn!(
        target: REVOCATION,
        bound_ms = millis(bound),
        "revocation change feed silent past the staleness bound; subscribing again",
    );
    #[cfg(feature = "metrics")]
    metrics::counter!(names::FEED_GAPS).increment(1);
}

/// The store's state is staler than its bound: tokens are refused with 503 until it catches
/// up, unless it serves stale.
pub(crate) fn stale(staleness: Duration, bound: Duration, serving: bool) {
    tracing::warn!(
        target: REVOCATION,
        staleness_ms = millis(staleness),
        bound_ms = millis(bound),
        serving,
        "revocation state stale: other instances' revocations may be missing",
    );
    #[cfg(feature = "metrics")]
    metrics::counter!(names::STALE).increment(1);
}

/// The store proved its state complete again after it was stale.
pub(crate) fn caught_up(staleness: Duration) {
    tracing::info!(
        target: REVOCATION,
        staleness_ms = millis(staleness),
        "revocation state caught up",
    );
}

/// How long ago the store last proved its state complete.
pub(crate) fn staleness(staleness: Duration) {
    #[cfg(feature = "metrics")]
    metrics::gauge!(names::STALENESS).set(staleness.as_secs_f64());
    #[cfg(not(feature = "metrics"))]
    let _ = staleness;
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
