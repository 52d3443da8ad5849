//! Properties of issuing and verifying, over arbitrary inputs: what is issued verifies to the
//! same claims; any change to a token (one byte, a truncation, an extension) is refused;
//! arbitrary input never panics the parser. And of refreshing, over arbitrary sequences of
//! refreshes, replays and clock moves: a refresh token is exchanged once (again only within
//! the reuse grace window), and after a reuse no token of the session works.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::{
    collections::{BTreeMap, HashMap},
    time::Duration,
};

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

/// One step of a refresh sequence.
#[derive(Debug, Clone)]
enum Op {
    /// Exchange the newest refresh token handed out.
    Refresh,
    /// Exchange again one of the refresh tokens handed out so far (the newest included).
    Replay(prop::sample::Index),
    /// Move the clock by this many milliseconds.
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Refresh),
        2 => any::<prop::sample::Index>().prop_map(Op::Replay),
        2 => (0u64..15_000).prop_map(Op::Advance),
    ]
}

/// The reuse grace window of the sequences that have one.
const GRACE_MS: u64 = 10_000;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn a_refresh_token_is_exchanged_once_and_a_reuse_ends_the_session(
        grace in any::<bool>(),
        ops in prop::collection::vec(op(), 1..24),
    ) {
        use tower_jwt_auth::{
            clock::Clock, session::RefreshError, token::NoCustomClaims,
        };

        let env = common::env();
        let grace_ms = if grace { GRACE_MS } else { 0 };
        let sessions = Sessions::builder(env.issuer.clone())
            .with_reuse_grace(Duration::from_millis(grace_ms))
            .build()
            .unwrap();
        let rt = runtime();
        let now = || env.clock.now_millis();
        let first = rt.block_on(env.login("alice"));
        // Every pair handed out, and when each refresh token was first exchanged.
        let mut pairs = vec![first];
        let mut exchanged: HashMap<String, u64> = HashMap::new();
        // The model of the session record: its current token and its predecessor.
        let mut current = 0usize;
        let mut previous: Option<usize> = None;
        let mut reused = false;
        for op in ops {
            let presented = match op {
                Op::Advance(ms) => {
                    env.clock.advance(Duration::from_millis(ms));
                    continue;
                }
                Op::Refresh => pairs.len() - 1,
                Op::Replay(at) => at.index(pairs.len()),
            };
            let token = pairs[presented].refresh_token().to_owned();
            let result = rt.block_on(sessions.refresh(&token));
            let in_grace = previous == Some(presented)
                && grace
                && exchanged
                    .get(pairs[presented].refresh_token())
                    .is_some_and(|&at| now() - at <= grace_ms);
            match result {
                Ok(next) => {
                    prop_assert!(!reused, "a pair after a reuse");
                    // Single use: a token exchanged before passes again only within the
                    // grace window of its first exchange.
                    if let Some(&at) = exchanged.get(&token) {
                        prop_assert!(grace && now() - at <= grace_ms, "exchanged twice");
                    }
                    prop_assert!(presented == current || in_grace);
                    exchanged.entry(token).or_insert_with(now);
                    if presented == current {
                        previous = Some(current);
                    }
                    pairs.push(next);
                    current = pairs.len() - 1;
                }
                Err(RefreshError::Reused) => {
                    prop_assert!(!reused && presented != current && !in_grace);
                    reused = true;
                    // At once, every access token of the session is refused.
                    for pair in &pairs {
                        let access = env.issuer.verifier().verify_access::<NoCustomClaims>(pair.access_token());
                        prop_assert!(access.is_err());
                    }
                }
                Err(RefreshError::InvalidToken(_)) => prop_assert!(reused),
                Err(other) => prop_assert!(false, "unexpected: {}", other),
            }
        }
        // After a reuse, no token of the session works; otherwise the current one refreshes.
        let verifier = env.issuer.verifier();
        if reused {
            for pair in &pairs {
                prop_assert!(verifier.verify_access::<NoCustomClaims>(pair.access_token()).is_err());
            }
            for pair in &pairs {
                prop_assert!(rt.block_on(sessions.refresh(pair.refresh_token())).is_err());
            }
        } else {
            let newest = pairs[current].refresh_token();
            prop_assert!(rt.block_on(sessions.refresh(newest)).is_ok());
        }
    }
}
