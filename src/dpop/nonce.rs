//! [`DpopNonces`]: stateless server nonces (RFC 9449 §8 and §9).

use std::{fmt, time::Duration};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use subtle::ConstantTimeEq;

use super::DpopConfigError;
use crate::crypto::hmac;

/// Bytes of the HMAC tag kept in a nonce.
const TAG_LEN: usize = 16;
/// A nonce: the time step (8 bytes, big-endian) and the truncated tag.
const NONCE_LEN: usize = 8 + TAG_LEN;
/// Separates the nonce's MAC input from any other use of the same secret.
const CONTEXT: &[u8] = b"tower-jwt-auth dpop nonce\0";

/// Stateless server nonces: a nonce is the number of a time step and an HMAC-SHA256 tag of
/// it, so every instance that shares the secret accepts every other's nonces without
/// storing them.
///
/// A nonce is valid during the step it was issued in and the next one: with the default
/// step of 5 minutes, between 5 and 10 minutes. Secrets rotate without a gap: the new
/// secret is the current one, and the one before it stays accepted
/// ([`with_previous_secret`](Self::with_previous_secret)) for one more step.
///
/// `Debug` never shows the secrets.
///
/// ```
/// use tower_jwt_auth::dpop::DpopNonces;
///
/// let nonces = DpopNonces::new(&[7; 32])?;
/// let nonce = nonces.issue(1_700_000_000);
/// assert!(nonces.check(&nonce, 1_700_000_000));
/// // Still good in the next step, and then no more.
/// assert!(nonces.check(&nonce, 1_700_000_000 + 300));
/// assert!(!nonces.check(&nonce, 1_700_000_000 + 600));
/// # Ok::<(), tower_jwt_auth::dpop::DpopConfigError>(())
/// ```
#[derive(Clone)]
pub struct DpopNonces {
    current: hmac::Key,
    previous: Option<hmac::Key>,
    step: u64,
}

impl fmt::Debug for DpopNonces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopNonces")
            .field("secrets", &crate::redact::Redacted)
            .field("previous_secret", &self.previous.is_some())
            .field("step_secs", &self.step)
            .finish()
    }
}

fn key(secret: &[u8]) -> Result<hmac::Key, DpopConfigError> {
    if secret.len() < 32 {
        return Err(DpopConfigError::ShortSecret);
    }
    Ok(hmac::Key::new(hmac::HMAC_SHA256, secret))
}

impl DpopNonces {
    /// Nonces under `secret` (at least 32 random bytes, the same on every instance), with
    /// a step of 5 minutes.
    ///
    /// ```
    /// use tower_jwt_auth::dpop::{DpopConfigError, DpopNonces};
    ///
    /// assert_eq!(DpopNonces::new(b"short").unwrap_err(), DpopConfigError::ShortSecret);
    /// ```
    pub fn new(secret: &[u8]) -> Result<Self, DpopConfigError> {
        Ok(Self {
            current: key(secret)?,
            previous: None,
            step: 300,
        })
    }

    /// Also accepts the nonces of `secret`, the secret in use before the current one, so
    /// that nonces already handed out stay valid during a rotation. Drop it after one step.
    ///
    /// ```
    /// use tower_jwt_auth::dpop::DpopNonces;
    ///
    /// let old = DpopNonces::new(&[1; 32])?;
    /// let nonce = old.issue(1_700_000_000);
    /// let rotated = DpopNonces::new(&[2; 32])?.with_previous_secret(&[1; 32])?;
    /// assert!(rotated.check(&nonce, 1_700_000_000));
    /// assert!(!DpopNonces::new(&[2; 32])?.check(&nonce, 1_700_000_000));
    /// # Ok::<(), tower_jwt_auth::dpop::DpopConfigError>(())
    /// ```
    pub fn with_previous_secret(mut self, secret: &[u8]) -> Result<Self, DpopConfigError> {
        self.previous = Some(key(secret)?);
        Ok(self)
    }

    /// The length of a time step, in whole seconds (from 1 second to 1 day). A nonce lives
    /// between one and two steps: a longer step means fewer `use_dpop_nonce` round trips,
    /// and a longer time for a pre-generated proof to be used.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_jwt_auth::dpop::DpopNonces;
    ///
    /// let nonces = DpopNonces::new(&[7; 32])?.with_step(Duration::from_secs(60))?;
    /// let nonce = nonces.issue(1_000);
    /// assert!(!nonces.check(&nonce, 1_000 + 120));
    /// assert!(DpopNonces::new(&[7; 32])?.with_step(Duration::ZERO).is_err());
    /// # Ok::<(), tower_jwt_auth::dpop::DpopConfigError>(())
    /// ```
    pub fn with_step(mut self, step: Duration) -> Result<Self, DpopConfigError> {
        let secs = step.as_secs();
        if !(1..=86_400).contains(&secs) {
            return Err(DpopConfigError::InvalidSetting(
                "the nonce step must be from 1 second to 1 day",
            ));
        }
        self.step = secs;
        Ok(self)
    }

    fn tag(key: &hmac::Key, step: u64) -> hmac::Tag {
        let mut ctx = hmac::Context::with_key(key);
        ctx.update(CONTEXT);
        ctx.update(&step.to_be_bytes());
        ctx.sign()
    }

    /// A fresh nonce for the `DPoP-Nonce` response header, at `now` (seconds since the Unix
    /// epoch, from the verifier's clock).
    ///
    /// ```
    /// use tower_jwt_auth::dpop::DpopNonces;
    ///
    /// let nonce = DpopNonces::new(&[7; 32])?.issue(1_700_000_000);
    /// // 32 base64url characters: valid in a header and in a JSON string unescaped.
    /// assert_eq!(nonce.len(), 32);
    /// # Ok::<(), tower_jwt_auth::dpop::DpopConfigError>(())
    /// ```
    pub fn issue(&self, now: u64) -> String {
        let step = now / self.step;
        let mut nonce = [0u8; NONCE_LEN];
        nonce[..8].copy_from_slice(&step.to_be_bytes());
        nonce[8..].copy_from_slice(&Self::tag(&self.current, step).as_ref()[..TAG_LEN]);
        URL_SAFE_NO_PAD.encode(nonce)
    }

    /// The step of a nonce this server issued, when its tag verifies under the current or
    /// the previous secret; `None` otherwise.
    fn step_of(&self, nonce: &str) -> Option<u64> {
        let mut bytes = [0u8; NONCE_LEN + 3];
        let len = URL_SAFE_NO_PAD.decode_slice(nonce, &mut bytes).ok()?;
        if len != NONCE_LEN {
            return None;
        }
        let (step, tag) = bytes[..NONCE_LEN].split_at(8);
        let step = u64::from_be_bytes(step.try_into().ok()?);
        let valid =
            |key: &hmac::Key| bool::from(Self::tag(key, step).as_ref()[..TAG_LEN].ct_eq(tag));
        (valid(&self.current) || self.previous.as_ref().is_some_and(valid)).then_some(step)
    }

    /// `true` when `nonce` was issued by this server (under the current or the previous
    /// secret) during the step of `now` or the step before it.
    ///
    /// ```
    /// use tower_jwt_auth::dpop::DpopNonces;
    ///
    /// let nonces = DpopNonces::new(&[7; 32])?;
    /// assert!(!nonces.check("made-up", 1_700_000_000));
    /// # Ok::<(), tower_jwt_auth::dpop::DpopConfigError>(())
    /// ```
    pub fn check(&self, nonce: &str, now: u64) -> bool {
        let current = now / self.step;
        self.step_of(nonce)
            .is_some_and(|step| step == current || step.checked_add(1) == Some(current))
    }

    /// `true` when a request carried a valid `nonce` from the previous step: the answer,
    /// even a successful one, should carry a fresh nonce (`DPoP-Nonce`, RFC 9449 §8.2) so that
    /// the client switches before this one expires.
    ///
    /// ```
    /// use tower_jwt_auth::dpop::DpopNonces;
    ///
    /// let nonces = DpopNonces::new(&[7; 32])?;
    /// let nonce = nonces.issue(1_700_000_100);
    /// assert!(!nonces.should_roll(&nonce, 1_700_000_100));
    /// assert!(nonces.should_roll(&nonce, 1_700_000_400));
    /// # Ok::<(), tower_jwt_auth::dpop::DpopConfigError>(())
    /// ```
    pub fn should_roll(&self, nonce: &str, now: u64) -> bool {
        let current = now / self.step;
        self.step_of(nonce).is_none_or(|step| step != current)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::clock::{Clock, MockClock};

    #[test]
    fn a_nonce_lives_for_its_step_and_the_next() {
        let clock = MockClock::at_secs(1_700_000_000);
        let nonces = DpopNonces::new(&[9; 32])
            .unwrap()
            .with_step(Duration::from_secs(60))
            .unwrap();
        // The start of a step: valid for two whole steps.
        clock.set_secs(1_700_000_040);
        let nonce = nonces.issue(clock.now_secs());
        assert!(nonces.check(&nonce, clock.now_secs()));
        assert!(!nonces.should_roll(&nonce, clock.now_secs()));
        clock.advance(Duration::from_secs(60));
        assert!(nonces.check(&nonce, clock.now_secs()));
        assert!(nonces.should_roll(&nonce, clock.now_secs()));
        clock.advance(Duration::from_secs(60));
        assert!(!nonces.check(&nonce, clock.now_secs()));
        // A nonce from the future (a clock set back) is not accepted either.
        let later = nonces.issue(clock.now_secs() + 600);
        assert!(!nonces.check(&later, clock.now_secs()));
    }

    #[test]
    fn rotation_keeps_the_previous_secret_only_when_told() {
        let now = 1_700_000_000;
        let old = DpopNonces::new(&[1; 32]).unwrap();
        let nonce = old.issue(now);
        let rotated = DpopNonces::new(&[2; 32])
            .unwrap()
            .with_previous_secret(&[1; 32])
            .unwrap();
        assert!(rotated.check(&nonce, now));
        // New nonces are made under the new secret.
        assert!(!old.check(&rotated.issue(now), now));
        assert!(!DpopNonces::new(&[2; 32]).unwrap().check(&nonce, now));
    }

    #[test]
    fn tampered_or_malformed_nonces_are_refused() {
        let now = 1_700_000_000;
        let nonces = DpopNonces::new(&[3; 32]).unwrap();
        let nonce = nonces.issue(now);
        let mut bytes = URL_SAFE_NO_PAD.decode(&nonce).unwrap();
        // Another step with the same tag.
        bytes[7] ^= 1;
        assert!(!nonces.check(&URL_SAFE_NO_PAD.encode(&bytes), now));
        for bad in [
            "",
            "AAAA",
            &nonce[..31],
            &format!("{nonce}A"),
            &format!("{nonce}="),
        ] {
            assert!(!nonces.check(bad, now), "{bad}");
            assert!(nonces.should_roll(bad, now), "{bad}");
        }
    }

    #[test]
    fn debug_hides_the_secrets() {
        let nonces = DpopNonces::new(&[0x41; 32])
            .unwrap()
            .with_previous_secret(&[0x42; 32])
            .unwrap();
        let debug = format!("{nonces:?}");
        assert!(!debug.contains("AAAA") && !debug.contains("65"), "{debug}");
        assert!(debug.contains("step_secs: 300"));
    }
}
