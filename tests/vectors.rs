//! The RFC example tokens through the full verifier, with the keys the RFCs publish. Neither
//! was minted for an access-token policy, so both are refused; these tests pin down which
//! rule refuses them, and that the signature itself is sound (the signature layer is checked
//! against the same vectors in the crate's unit tests).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::Jwk;
use serde_json::Value;
use tower_jwt_auth::{
    KeySet, SigningKey, Verifier,
    clock::MockClock,
    keys::{Algorithm, VerifyingKey},
    token::{NoCustomClaims, TokenError, TokenKind},
};

fn vector(name: &str) -> Option<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/vectors")
        .join(name);
    match std::fs::read(&path) {
        Ok(bytes) => Some(serde_json::from_slice(&bytes).unwrap()),
        Err(_) => {
            eprintln!("skipped: test vectors not found at {}", path.display());
            None
        }
    }
}

fn verifier(key: VerifyingKey, clock: MockClock) -> Verifier {
    // The vector's key only verifies; the set signs with a key of its own.
    let keys = KeySet::new(SigningKey::generate_ed25519().unwrap())
        .with_verifying_key(key)
        .unwrap();
    Verifier::builder(keys).with_clock(clock).build().unwrap()
}

/// RFC 7515 A.1: `{"typ":"JWT", "alg":"HS256"}`, claims `iss`, `exp` (2011-03-22T18:43:00Z)
/// and a private claim. The mock clock stands before `exp`, so time is not what refuses it.
#[test]
fn rfc7515_a1_is_refused_for_its_jwt_type() {
    let Some(v) = vector("rfc7515-a1-hs256.json") else {
        return;
    };
    let secret = URL_SAFE_NO_PAD
        .decode(v["jwk"]["k"].as_str().unwrap())
        .unwrap();
    let key = VerifyingKey::from_secret(Algorithm::HS256, &secret).unwrap();
    let token = v["jws"].as_str().unwrap();
    let clock = MockClock::at_secs(1_300_819_000);
    let verifier = verifier(key, clock);
    // The header has `typ: JWT`: neither an access nor a refresh token (RFC 8725 §3.11
    // explicit typing). Our header checks run before anything else.
    for kind in [TokenKind::Access, TokenKind::Refresh] {
        assert_eq!(
            verifier.verify::<NoCustomClaims>(token, kind).unwrap_err(),
            TokenError::WrongType { expected: kind }
        );
    }
}

/// RFC 8037 A.4: `{"alg":"EdDSA"}` over the text "Example of Ed25519 signing".
#[test]
fn rfc8037_a4_is_refused_for_its_missing_typ() {
    let Some(v) = vector("jose-cookbook/curve25519/jws.json") else {
        return;
    };
    let jwk: Jwk = serde_json::from_value(v["input"]["key"].clone()).unwrap();
    let key = VerifyingKey::from_jwk(&jwk, Algorithm::EdDSA).unwrap();
    let token = v["output"]["compact"].as_str().unwrap();
    let verifier = verifier(key, MockClock::at_secs(1_800_000_000));
    assert_eq!(
        verifier.verify_access::<NoCustomClaims>(token).unwrap_err(),
        TokenError::WrongType {
            expected: TokenKind::Access
        }
    );
}
