//! Shared set-up for the integration tests: an issuer on a mock clock, and the forging
//! helpers of `forge` that sign arbitrary headers and claims with the issuer's own key (or any
//! other).

#![allow(
    dead_code,
    unused_imports,
    clippy::unwrap_used,
    clippy::expect_used,
    unreachable_pub
)]

mod cap;
mod cleanup;
mod down;
mod forge;
mod logs;
#[cfg(feature = "postgres")]
mod postgres;

use std::time::Duration;

pub use cap::the_session_cap_ends_the_oldest;
pub use cleanup::*;
pub use down::Down;
pub use forge::*;
pub use logs::Logs;
#[cfg(feature = "postgres")]
pub use postgres::{create_select_only_role, postgres_options};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower_jwt_auth::{
    Issuer, KeySet, Sessions, SigningKey, TokenPair, clock::MockClock, issuer::IssuerBuilder,
    keys::Algorithm,
};

/// The tests' "now": 2027-01-15T08:00:00Z.
pub const T0: u64 = 1_800_000_000;
pub const ISS: &str = "https://issuer.test";
pub const AUD: &str = "api";

/// The application claims used across the tests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub name: String,
}

pub fn profile() -> Profile {
    Profile {
        name: "Alice".into(),
    }
}

/// An issuer on a mock clock with the RFC 8037 key, and a forger holding the same key.
pub struct Env {
    pub clock: MockClock,
    pub issuer: Issuer,
    pub sessions: Sessions,
    pub forger: Forger,
    pub kid: String,
}

pub fn builder(clock: &MockClock) -> IssuerBuilder {
    let key = SigningKey::from_der(Algorithm::EdDSA, &rfc8037_pkcs8()).unwrap();
    Issuer::builder(KeySet::new(key))
        .with_issuer(ISS)
        .with_audience(AUD)
        .with_clock(clock.clone())
}

pub fn env() -> Env {
    env_with(|b| b)
}

pub fn env_with(configure: impl FnOnce(IssuerBuilder) -> IssuerBuilder) -> Env {
    let clock = MockClock::at_secs(T0);
    let issuer = configure(builder(&clock)).build().unwrap();
    let kid = issuer.keys().signing_kid().unwrap();
    Env {
        sessions: Sessions::builder(issuer.clone()).build().unwrap(),
        forger: Forger::ed25519(&rfc8037_pkcs8()),
        clock,
        issuer,
        kid,
    }
}

impl Env {
    pub fn header(&self, typ: &str) -> Value {
        json!({ "alg": "EdDSA", "kid": self.kid, "typ": typ })
    }

    /// Claims of a valid access token issued now.
    pub fn claims(&self) -> Value {
        let now = self.clock_secs();
        json!({
            "iss": ISS, "sub": "alice", "aud": AUD, "exp": now + 900, "iat": now,
            "jti": "jti-1", "sid": "sid-1", "seq": 0, "scope": "read", "name": "Alice"
        })
    }

    pub fn clock_secs(&self) -> u64 {
        use tower_jwt_auth::clock::Clock;
        self.clock.now_secs()
    }

    /// A token with our key, our kid and the given `typ` and claims.
    pub fn forge(&self, typ: &str, claims: &Value) -> String {
        self.forger.sign(&self.header(typ), claims)
    }

    /// A login of `sub`: a new session with no scope and the test profile as its claims.
    pub async fn login(&self, sub: &str) -> TokenPair {
        self.sessions
            .start_with_claims(sub, "", &profile())
            .await
            .unwrap()
    }

    pub fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }
}

/// A name no other test run uses: lower-case letters, digits and `_`.
pub fn unique_name(what: &str) -> String {
    use std::{
        sync::atomic::{AtomicU64, Ordering},
        time::{SystemTime, UNIX_EPOCH},
    };
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let n = COUNT.fetch_add(1, Ordering::Relaxed);
    format!("{what}{}_{nanos:x}_{n}_", std::process::id())
}
