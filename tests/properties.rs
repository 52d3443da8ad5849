//! Properties of issuing and verifying, over arbitrary inputs: what is issued verifies to the
//! same claims; any change to a token (one byte, a truncation, an extension) is refused;
//! arbitrary input never panics the parser.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use proptest::prelude::*;
use tower_jwt_auth::{
    Claims, Issuer, KeySet, Sessions, SigningKey, keys::Algorithm, token::TokenError,
};

fn issuer(hmac: bool) -> Issuer {
    let key = if hmac {
        SigningKey::from_secret(Algorithm::HS256, &[7; 32]).unwrap()
    } else {
        SigningKey::generate_ed25519().unwrap()
    };
    Issuer::builder(KeySet::new(key))
        .with_issuer("https://issuer.test")
        .with_audience("api")
        .build()
        .unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

/// RFC 6749 scope tokens, space-separated.
fn scope() -> impl Strategy<Value = String> {
    prop::collection::vec("[!#-\\[\\]-~]{1,8}", 0..4).prop_map(|tokens| tokens.join(" "))
}

/// Application claims that do not use a registered name.
fn custom() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map("x_[a-z]{1,6}", "\\PC{0,16}", 0..4)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn what_is_issued_verifies_to_the_same_claims(
        sub in "\\PC{1,24}",
        scope in scope(),
        custom in custom(),
        hmac in any::<bool>(),
    ) {
        let issuer = issuer(hmac);
        let pair = runtime()
            .block_on(Sessions::new(issuer.clone()).start_with_claims(&sub, &scope, &custom))
            .unwrap();
        let claims: Claims<BTreeMap<String, String>> =
            issuer.verifier().verify_access(pair.access_token()).unwrap();
        prop_assert_eq!(&claims.sub, &sub);
        prop_assert_eq!(&claims.scope, &scope);
        prop_assert_eq!(&claims.custom, &custom);
        prop_assert_eq!(claims.sid.as_str(), pair.session_id());
    }

    #[test]
    fn any_change_to_a_token_is_refused(
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        cut in any::<prop::sample::Index>(),
        tail in "\\PC{1,8}",
        hmac in any::<bool>(),
    ) {
        let issuer = issuer(hmac);
        let pair = runtime().block_on(Sessions::new(issuer.clone()).start("alice")).unwrap();
        let token = pair.access_token().as_bytes();
        let verify = |bytes: &[u8]| match std::str::from_utf8(bytes) {
            Ok(text) => issuer.verifier().verify_access::<tower_jwt_auth::token::NoCustomClaims>(text),
            Err(_) => Err(TokenError::Malformed("not UTF-8")),
        };
        let i = at.index(token.len());
        if token[i] != byte {
            let mut changed = token.to_vec();
            changed[i] = byte;
            prop_assert!(verify(&changed).is_err(), "byte {} changed to {}", i, byte);
        }
        let truncated = &token[..cut.index(token.len())];
        prop_assert!(verify(truncated).is_err());
        let mut extended = token.to_vec();
        extended.extend_from_slice(tail.as_bytes());
        prop_assert!(verify(&extended).is_err());
    }

    #[test]
    fn arbitrary_input_never_panics_the_verifier(input in "\\PC{0,300}", dots in "[A-Za-z0-9_.-]{0,300}") {
        let issuer = issuer(true);
        for text in [&input, &dots] {
            let _ = issuer.verifier().verify_access::<tower_jwt_auth::token::NoCustomClaims>(text);
            let _ = issuer.verifier().verify_refresh::<serde_json::Value>(text);
        }
    }
}
