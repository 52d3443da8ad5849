//! DPoP proofs (RFC 9449) from untrusted bytes: the value of a `DPoP` header, checked by a
//! `ProofVerifier` for `POST https://server.example.com/token` at the time of RFC 9449's
//! Figure 2 proof. Never a panic; a proof that passes names the thumbprint of the key in its
//! own header, was issued within the window, and is accepted once.

use std::sync::Arc;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use http::{HeaderMap, HeaderValue, Method, Uri};
use tower_jwt_auth::{
    clock::MockClock,
    dpop::{DpopError, DpopRequest, MemoryReplayCache, ProofVerifier, jwk_thumbprint},
    keys::Jwk,
};

use crate::Outcome;

/// The `iat` of RFC 9449's Figure 2 proof.
const IAT: u64 = 1_562_262_616;

/// The key named in the header of an accepted proof, as the verifier must have read it.
fn header_jwk(proof: &str) -> Jwk {
    let header = proof
        .split('.')
        .next()
        .expect("an accepted proof has a header");
    let json = URL_SAFE_NO_PAD
        .decode(header)
        .expect("an accepted proof's header is base64url");
    let header: serde_json::Value =
        serde_json::from_slice(&json).expect("an accepted proof's header is JSON");
    serde_json::from_value(header["jwk"].clone()).expect("an accepted proof carries a JWK")
}

/// Runs one input, the `DPoP` header's value: `Accepted` when the proof passed.
pub fn run(data: &[u8]) -> Outcome {
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return Outcome::Rejected;
    };
    let verifier = ProofVerifier::builder("https://server.example.com")
        .with_clock(MockClock::at_secs(IAT))
        .with_replay_cache(Arc::new(MemoryReplayCache::new(16)))
        .build()
        .expect("a valid configuration");
    let mut headers = HeaderMap::new();
    headers.insert("dpop", value);
    let uri = Uri::from_static("/token");
    let request = DpopRequest::new(&Method::POST, &uri, &headers);
    let Ok(proof) = verifier.check(&request) else {
        return Outcome::Rejected;
    };
    let text = std::str::from_utf8(data).expect("an accepted proof is text");
    assert_eq!(
        jwk_thumbprint(&header_jwk(text)).as_deref(),
        Some(proof.jkt()),
        "the thumbprint is the header key's"
    );
    assert!(!proof.jti().is_empty());
    assert!(
        proof.iat() + 60 >= IAT && proof.iat() <= IAT + 5,
        "within the window"
    );
    // Accepted once: recorded by `verify`, refused as a replay after.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        verifier
            .verify(&request)
            .await
            .expect("a checked proof is recorded");
        assert!(matches!(
            verifier.verify(&request).await,
            Err(DpopError::Replay)
        ));
    });
    Outcome::Accepted
}
