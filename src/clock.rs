//! The only source of "now" in the crate.
//!
//! Every time check (`exp`, `nbf`, `iat`, session lifetimes, revocation cut-offs, the refresh
//! grace window) reads the [`Clock`] configured on the [`Issuer`](crate::Issuer) or
//! [`Verifier`](crate::Verifier). Production code uses [`SystemClock`]; tests use
//! `MockClock` (feature `test-util`), whose clones share one time that only moves when the
//! test moves it.

use std::{
    fmt,
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};
#[cfg(any(test, feature = "test-util"))]
use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

/// A source of wall-clock time, in milliseconds since the Unix epoch.
///
/// Implementations must be cheap: the verifier reads the clock once per request.
///
/// # Example
///
/// ```
/// use tower_jwt_auth::clock::{Clock, SystemClock};
///
/// let now = SystemClock.now_millis();
/// assert_eq!(SystemClock.now_secs(), now / 1000);
/// ```
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> u64;

    /// Whole seconds since the Unix epoch (a JWT `NumericDate`).
    fn now_secs(&self) -> u64 {
        self.now_millis() / 1000
    }
}

/// A shared clock is a clock: `Arc<dyn Clock>` (as [`Issuer::clock`](crate::Issuer::clock)
/// returns it) can configure another issuer or verifier.
impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now_millis(&self) -> u64 {
        (**self).now_millis()
    }
}

/// The system's wall clock.
///
/// # Example
///
/// ```
/// use tower_jwt_auth::clock::{Clock, SystemClock};
///
/// assert!(SystemClock.now_secs() > 1_700_000_000);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> u64 {
        // A system clock set before 1970 reads as the epoch: every token then looks
        // "not yet valid" or "issued in the future", which fails closed.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// A clock for tests: it stands still until the test moves it.
///
/// Clones share one time, so a test can hand a clone to the issuer and verifier and keep one
/// to [`advance`](MockClock::advance) past a token's expiry without sleeping.
///
/// Available with the `test-util` feature.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use tower_jwt_auth::clock::{Clock, MockClock};
///
/// let clock = MockClock::at_secs(1_700_000_000);
/// let shared = clock.clone();
/// clock.advance(Duration::from_secs(90));
/// assert_eq!(shared.now_secs(), 1_700_000_090);
/// ```
#[cfg(any(test, feature = "test-util"))]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
#[derive(Debug, Clone)]
pub struct MockClock {
    millis: Arc<AtomicU64>,
}

#[cfg(any(test, feature = "test-util"))]
impl MockClock {
    /// A clock standing at `secs` seconds after the Unix epoch.
    ///
    /// ```
    /// use tower_jwt_auth::clock::{Clock, MockClock};
    ///
    /// let clock = MockClock::at_secs(1_700_000_000);
    /// assert_eq!(clock.now_millis(), 1_700_000_000_000);
    /// ```
    pub fn at_secs(secs: u64) -> Self {
        Self::at_millis(secs.saturating_mul(1000))
    }

    /// A clock standing at `millis` milliseconds after the Unix epoch.
    ///
    /// ```
    /// use tower_jwt_auth::clock::{Clock, MockClock};
    ///
    /// assert_eq!(MockClock::at_millis(1_500).now_secs(), 1);
    /// ```
    pub fn at_millis(millis: u64) -> Self {
        Self {
            millis: Arc::new(AtomicU64::new(millis)),
        }
    }

    /// Moves this clock and all its clones forward by `by`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_jwt_auth::clock::{Clock, MockClock};
    ///
    /// let clock = MockClock::at_secs(10);
    /// clock.advance(Duration::from_millis(500));
    /// assert_eq!(clock.now_millis(), 10_500);
    /// ```
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        let _ = self
            .millis
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |m| {
                Some(m.saturating_add(by))
            });
    }

    /// Sets this clock and all its clones to `secs` seconds after the Unix epoch (it may go
    /// backwards, to test clock skew).
    ///
    /// ```
    /// use tower_jwt_auth::clock::{Clock, MockClock};
    ///
    /// let clock = MockClock::at_secs(10);
    /// clock.set_secs(5);
    /// assert_eq!(clock.now_secs(), 5);
    /// ```
    pub fn set_secs(&self, secs: u64) {
        self.set_millis(secs.saturating_mul(1000));
    }

    /// Sets this clock and all its clones to `millis` milliseconds after the Unix epoch.
    ///
    /// ```
    /// use tower_jwt_auth::clock::{Clock, MockClock};
    ///
    /// let clock = MockClock::at_secs(0);
    /// clock.set_millis(2_250);
    /// assert_eq!(clock.now_millis(), 2_250);
    /// ```
    pub fn set_millis(&self, millis: u64) {
        self.millis.store(millis, Ordering::SeqCst);
    }
}

#[cfg(any(test, feature = "test-util"))]
impl Clock for MockClock {
    fn now_millis(&self) -> u64 {
        self.millis.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_one_time() {
        let a = MockClock::at_secs(100);
        let b = a.clone();
        a.advance(Duration::from_secs(5));
        assert_eq!(b.now_secs(), 105);
        b.set_secs(7);
        assert_eq!(a.now_millis(), 7_000);
    }

    #[test]
    fn advance_saturates_instead_of_wrapping() {
        let c = MockClock::at_millis(u64::MAX - 1);
        c.advance(Duration::from_secs(10));
        assert_eq!(c.now_millis(), u64::MAX);
    }

    #[test]
    fn system_clock_is_after_2023() {
        assert!(SystemClock.now_secs() > 1_700_000_000);
    }
}
