//! Shared set-up for the integration tests: an issuer on a mock clock and a forger that signs
//! arbitrary headers and claims with the issuer's own key (or any other).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::time::Duration;

use aws_lc_rs::{
    hmac,
    rand::SystemRandom,
    signature::{Ed25519KeyPair, KeyPair},
};
use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower_jwt_auth::{
    Issuer, KeySet, Sessions, SigningKey, clock::MockClock, issuer::IssuerBuilder, keys::Algorithm,
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

/// The RFC 8037 appendix A.1 Ed25519 private key, as PKCS#8 DER.
pub fn rfc8037_pkcs8() -> Vec<u8> {
    STANDARD
        .decode("MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g")
        .unwrap()
}

pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// Signs any header and claims: the means to build every malformed or hostile token.
pub enum Forger {
    Ed25519(Ed25519KeyPair),
    Hmac(Box<hmac::Key>),
}

impl Forger {
    pub fn ed25519(pkcs8: &[u8]) -> Self {
        Self::Ed25519(Ed25519KeyPair::from_pkcs8(pkcs8).unwrap())
    }

    pub fn random_ed25519() -> Self {
        let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        Self::ed25519(doc.as_ref())
    }

    pub fn hmac(alg: hmac::Algorithm, secret: &[u8]) -> Self {
        Self::Hmac(Box::new(hmac::Key::new(alg, secret)))
    }

    pub fn public_key(&self) -> Vec<u8> {
        match self {
            Self::Ed25519(pair) => pair.public_key().as_ref().to_vec(),
            Self::Hmac(_) => unreachable!("no public key"),
        }
    }

    pub fn sign_raw(&self, header_b64: &str, payload_b64: &str) -> String {
        let input = format!("{header_b64}.{payload_b64}");
        let sig = match self {
            Self::Ed25519(pair) => pair.sign(input.as_bytes()).as_ref().to_vec(),
            Self::Hmac(key) => hmac::sign(key, input.as_bytes()).as_ref().to_vec(),
        };
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        self.sign_raw(&b64(header.to_string()), &b64(claims.to_string()))
    }
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// An issuer on a mock clock with the RFC 8037 key, and a forger holding the same key.
pub struct Env {
    pub clock: MockClock,
    pub issuer: Issuer,
    pub sessions: Sessions<Profile>,
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
    let kid = issuer.keys().signing_key().kid().to_owned();
    Env {
        sessions: Sessions::builder(issuer.clone())
            .with_claims::<Profile>()
            .build()
            .unwrap(),
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
            "jti": "jti-1", "sid": "sid-1", "scope": "read", "name": "Alice"
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

    pub fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }
}
