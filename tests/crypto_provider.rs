//! jsonwebtoken panics with "could not determine the process-level CryptoProvider" when both
//! of its crypto backends are compiled in and nobody installed one. The dev-dependencies turn
//! both on (as an application's own dependency on jsonwebtoken may), and this test binary never
//! installs a provider: every operation of the crate must still work.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::panic;

use aws_lc_rs::{
    encoding::{AsDer, Pkcs8V1Der},
    rand::SystemRandom,
    rsa::KeySize,
    signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, RsaKeyPair},
};
use common::*;
use tower_jwt_auth::{Claims, Issuer, KeySet, Sessions, SigningKey, keys::Algorithm};

#[test]
fn this_build_has_the_hazard() {
    // Without this, the test below would prove nothing.
    let result = panic::catch_unwind(|| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &serde_json::json!({ "sub": "x" }),
            &jsonwebtoken::EncodingKey::from_secret(&[1; 32]),
        )
    });
    assert!(
        result.is_err(),
        "jsonwebtoken picked a provider on its own: both backends are not enabled"
    );
}

#[tokio::test]
async fn every_operation_works_with_both_backends_enabled() {
    let rng = SystemRandom::new();
    let ec = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let rsa = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    let rsa_der = AsDer::<Pkcs8V1Der<'_>>::as_der(&rsa).unwrap();
    let keys = [
        SigningKey::from_pem(
            Algorithm::EdDSA,
            pem("PRIVATE KEY", &rfc8037_pkcs8()).as_bytes(),
        )
        .unwrap(),
        SigningKey::from_pem(Algorithm::ES256, pem("PRIVATE KEY", ec.as_ref()).as_bytes()).unwrap(),
        SigningKey::from_pem(
            Algorithm::RS256,
            pem("PRIVATE KEY", rsa_der.as_ref()).as_bytes(),
        )
        .unwrap(),
        SigningKey::from_der(Algorithm::PS256, rsa_der.as_ref())
            .unwrap()
            .with_kid("pss")
            .unwrap(),
        SigningKey::from_secret(Algorithm::HS256, &[9; 32]).unwrap(),
        SigningKey::generate_ed25519().unwrap(),
    ];
    for key in keys {
        let issuer = Issuer::builder(KeySet::new(key)).build().unwrap();
        let sessions: Sessions = Sessions::new(issuer.clone());
        let pair = Sessions::new(issuer.clone()).start("alice").await.unwrap();
        let claims: Claims = issuer
            .verifier()
            .verify_access(pair.access_token())
            .unwrap();
        assert_eq!(claims.sub, "alice");
        let next = sessions.refresh(pair.refresh_token()).await.unwrap();
        sessions.logout(next.session_id()).await.unwrap();
        let _ = serde_json::to_string(&issuer.keys().jwks()).unwrap();
    }
}
