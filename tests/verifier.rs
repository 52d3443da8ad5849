//! The verifier's rules, each against the token that breaks it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use aws_lc_rs::{
    encoding::AsDer,
    hmac,
    rand::SystemRandom,
    rsa::KeySize,
    signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, RsaKeyPair},
};
use common::*;
use serde_json::{Value, json};
use tower_jwt_auth::{
    Claims, Issuer, KeySet, Sessions, SigningKey, Verifier,
    clock::MockClock,
    keys::{Algorithm, VerifyingKey},
    token::{NoCustomClaims, TokenError, TokenKind},
};

fn access(env: &Env, token: &str) -> Result<Claims<Profile>, TokenError> {
    env.issuer.verifier().verify_access(token)
}

fn access_plain(env: &Env, token: &str) -> Result<Claims, TokenError> {
    env.issuer.verifier().verify_access(token)
}

#[tokio::test]
async fn issued_access_token_carries_every_claim() {
    let env = env();
    let pair = env
        .sessions
        .start_with_claims("alice", "read write", &profile())
        .await
        .unwrap();
    let claims = access(&env, pair.access_token()).unwrap();
    assert_eq!(claims.sub, "alice");
    assert_eq!(claims.iss.as_deref(), Some(ISS));
    assert_eq!(claims.aud, [AUD]);
    assert_eq!(claims.iat, T0);
    assert_eq!(claims.exp, T0 + 900);
    assert_eq!(claims.sid, pair.session_id());
    assert_eq!(claims.custom, profile());
    assert!(claims.has_scope("write"));
    // 128-bit random ids, base64url.
    assert_eq!(claims.jti.len(), 22);
    assert_eq!(claims.sid.len(), 22);
    let other = env.login("alice").await;
    let other = access(&env, other.access_token()).unwrap();
    assert_ne!(other.jti, claims.jti);
    assert_ne!(other.sid, claims.sid);
}

#[tokio::test]
async fn expiry_is_exact_to_the_second() {
    let env = env();
    let pair = env.login("alice").await;
    env.advance(899);
    assert!(access(&env, pair.access_token()).is_ok());
    env.advance(1);
    assert_eq!(
        access(&env, pair.access_token()).unwrap_err(),
        TokenError::Expired
    );
}

#[tokio::test]
async fn leeway_extends_expiry_by_exactly_its_length() {
    let env = env_with(|b| b.with_leeway(Duration::from_secs(5)));
    let pair = env.login("alice").await;
    env.advance(904);
    assert!(access(&env, pair.access_token()).is_ok());
    env.advance(1);
    assert_eq!(
        access(&env, pair.access_token()).unwrap_err(),
        TokenError::Expired
    );
}

#[test]
fn leeway_above_the_maximum_is_refused() {
    let clock = MockClock::at_secs(T0);
    assert!(
        builder(&clock)
            .with_leeway(Duration::from_secs(301))
            .build()
            .is_err()
    );
}

#[test]
fn not_before_is_enforced_with_and_without_leeway() {
    let env = env();
    let mut claims = env.claims();
    claims["nbf"] = json!(T0 + 10);
    let token = env.forge("at+jwt", &claims);
    assert_eq!(access(&env, &token).unwrap_err(), TokenError::NotYetValid);
    env.advance(9);
    assert_eq!(access(&env, &token).unwrap_err(), TokenError::NotYetValid);
    env.advance(1);
    assert!(access(&env, &token).is_ok());

    let lenient = env_with(|b| b.with_leeway(Duration::from_secs(5)));
    lenient.advance(4);
    assert_eq!(
        access(&lenient, &token).unwrap_err(),
        TokenError::NotYetValid
    );
    lenient.advance(1);
    assert!(access(&lenient, &token).is_ok());
}

#[test]
fn a_token_issued_in_the_future_is_refused() {
    let env = env();
    let mut claims = env.claims();
    claims["iat"] = json!(T0 + 1);
    let token = env.forge("at+jwt", &claims);
    assert_eq!(
        access(&env, &token).unwrap_err(),
        TokenError::IssuedInFuture
    );
    env.advance(1);
    assert!(access(&env, &token).is_ok());
}

#[test]
fn issuer_and_audience_are_required_and_must_match() {
    let env = env();
    let cases = [
        ("iss", json!("https://evil.test"), TokenError::InvalidIssuer),
        ("aud", json!("other-api"), TokenError::InvalidAudience),
        ("aud", json!(["a", "b"]), TokenError::InvalidAudience),
    ];
    for (name, value, expected) in cases {
        let mut claims = env.claims();
        claims[name] = value;
        assert_eq!(
            access(&env, &env.forge("at+jwt", &claims)).unwrap_err(),
            expected
        );
    }
    for name in ["iss", "aud"] {
        let mut claims = env.claims();
        claims.as_object_mut().unwrap().remove(name);
        assert_eq!(
            access(&env, &env.forge("at+jwt", &claims)).unwrap_err(),
            TokenError::MissingClaim(name)
        );
    }
    let mut claims = env.claims();
    claims["aud"] = json!(["other", AUD]);
    assert!(access(&env, &env.forge("at+jwt", &claims)).is_ok());
}

#[test]
fn without_configured_issuer_and_audience_they_are_not_required() {
    let clock = MockClock::at_secs(T0);
    let key = SigningKey::from_der(Algorithm::EdDSA, &rfc8037_pkcs8()).unwrap();
    let verifier = Verifier::builder(KeySet::new(key))
        .with_clock(clock)
        .build()
        .unwrap();
    let env = env();
    let mut claims = env.claims();
    claims.as_object_mut().unwrap().remove("iss");
    claims.as_object_mut().unwrap().remove("aud");
    let token = env.forge("at+jwt", &claims);
    assert!(verifier.verify_access::<NoCustomClaims>(&token).is_ok());
}

#[test]
fn each_required_claim_is_required() {
    let env = env();
    for name in ["exp", "iat", "jti", "sub", "sid"] {
        let mut claims = env.claims();
        claims.as_object_mut().unwrap().remove(name);
        assert_eq!(
            access(&env, &env.forge("at+jwt", &claims)).unwrap_err(),
            TokenError::MissingClaim(name),
            "{name}"
        );
        // An empty string is no better than a missing claim.
        if ["jti", "sub", "sid"].contains(&name) {
            let mut claims = env.claims();
            claims[name] = json!("");
            assert_eq!(
                access(&env, &env.forge("at+jwt", &claims)).unwrap_err(),
                TokenError::MissingClaim(name)
            );
        }
    }
}

#[test]
fn claims_of_the_wrong_type_are_malformed() {
    let env = env();
    for (name, value) in [
        ("exp", json!("tomorrow")),
        ("exp", json!(-5)),
        ("exp", json!(1.5e9)),
        ("sub", json!(42)),
        ("aud", json!(7)),
    ] {
        let mut claims = env.claims();
        claims[name] = value;
        assert!(
            matches!(
                access(&env, &env.forge("at+jwt", &claims)),
                Err(TokenError::Malformed(_))
            ),
            "{name}"
        );
    }
}

#[tokio::test]
async fn token_types_are_never_interchangeable() {
    let env = env();
    let pair = env.login("alice").await;
    assert_eq!(
        access(&env, pair.refresh_token()).unwrap_err(),
        TokenError::WrongType {
            expected: TokenKind::Access
        }
    );
    assert_eq!(
        env.issuer
            .verifier()
            .verify_refresh::<Profile>(pair.access_token())
            .unwrap_err(),
        TokenError::WrongType {
            expected: TokenKind::Refresh
        }
    );
    assert!(
        env.issuer
            .verifier()
            .verify_refresh::<Profile>(pair.refresh_token())
            .is_ok()
    );
    assert_eq!(jws_part(pair.access_token(), 0)["typ"], "at+jwt");
    assert_eq!(jws_part(pair.refresh_token(), 0)["typ"], "refresh+jwt");

    let claims = env.claims();
    for typ in ["JWT", "jwt", "", "at+jwt+x", "refresh+jwt"] {
        assert!(
            matches!(
                access(&env, &env.forge(typ, &claims)),
                Err(TokenError::WrongType { .. })
            ),
            "{typ}"
        );
    }
    let no_typ = env
        .forger
        .sign(&json!({ "alg": "EdDSA", "kid": env.kid }), &claims);
    assert!(matches!(
        access(&env, &no_typ),
        Err(TokenError::WrongType { .. })
    ));
    // RFC 9068 §4: the media type may be written in full.
    assert!(access(&env, &env.forge("application/at+jwt", &claims)).is_ok());
}

#[test]
fn the_key_comes_from_the_kid_and_nowhere_else() {
    let env = env();
    let claims = env.claims();
    let unknown = env.forger.sign(
        &json!({ "alg": "EdDSA", "kid": "someone-else", "typ": "at+jwt" }),
        &claims,
    );
    assert_eq!(access(&env, &unknown).unwrap_err(), TokenError::UnknownKey);
    let no_kid = env
        .forger
        .sign(&json!({ "alg": "EdDSA", "typ": "at+jwt" }), &claims);
    assert_eq!(access(&env, &no_kid).unwrap_err(), TokenError::MissingKid);

    // An attacker's key embedded in the header is ignored: the signature is checked with
    // the key set's key for `kid`, and fails.
    let attacker = Forger::random_ed25519();
    let embedded = attacker.sign(
        &json!({
            "alg": "EdDSA", "kid": env.kid, "typ": "at+jwt",
            "jwk": { "kty": "OKP", "crv": "Ed25519", "x": b64(attacker.public_key()) },
            "jku": "https://evil.test/jwks.json", "x5u": "https://evil.test/cert"
        }),
        &claims,
    );
    assert_eq!(
        access(&env, &embedded).unwrap_err(),
        TokenError::InvalidSignature
    );
}

#[test]
fn alg_none_is_never_accepted() {
    let env = env();
    let claims = env.claims();
    for alg in ["none", "None", "NONE"] {
        let header = b64(json!({ "alg": alg, "kid": env.kid, "typ": "at+jwt" }).to_string());
        let payload = b64(claims.to_string());
        // Unsecured JWS: empty signature.
        let unsigned = format!("{header}.{payload}.");
        assert!(matches!(
            access(&env, &unsigned),
            Err(TokenError::Malformed(_))
        ));
        // With a signature of our real key: the header's alg is still not the key's.
        let signed = env.forger.sign_raw(&header, &payload);
        assert_eq!(
            access(&env, &signed).unwrap_err(),
            TokenError::AlgorithmMismatch
        );
    }
    let no_alg = env
        .forger
        .sign(&json!({ "kid": env.kid, "typ": "at+jwt" }), &claims);
    assert_eq!(
        access(&env, &no_alg).unwrap_err(),
        TokenError::AlgorithmMismatch
    );
}

#[test]
fn hmac_with_the_public_key_as_secret_is_refused() {
    // The classic key-confusion attack: sign HS256 with the (public) Ed25519 key bytes, in
    // raw and in PEM form, and name the Ed25519 key's kid.
    let env = env();
    let public = env.forger.public_key();
    let spki = ed25519_spki(&public);
    let public_pem = pem("PUBLIC KEY", &spki);
    for secret in [public, spki, public_pem.into_bytes()] {
        for (name, alg) in [
            ("HS256", hmac::HMAC_SHA256),
            ("HS384", hmac::HMAC_SHA384),
            ("HS512", hmac::HMAC_SHA512),
        ] {
            let forger = Forger::hmac(alg, &secret);
            let token = forger.sign(
                &json!({ "alg": name, "kid": env.kid, "typ": "at+jwt" }),
                &env.claims(),
            );
            assert_eq!(
                access(&env, &token).unwrap_err(),
                TokenError::AlgorithmMismatch
            );
        }
    }
}

#[test]
fn a_signature_by_a_foreign_key_is_refused() {
    let env = env();
    let foreign = Forger::random_ed25519();
    let token = foreign.sign(&env.header("at+jwt"), &env.claims());
    assert_eq!(
        access(&env, &token).unwrap_err(),
        TokenError::InvalidSignature
    );
}

#[tokio::test]
async fn any_change_to_a_signed_token_is_detected() {
    let env = env();
    let pair = env.login("alice").await;
    let token = pair.access_token();
    let parts: Vec<&str> = token.split('.').collect();

    // A payload that claims to be someone else, under the original signature.
    let mut claims = jws_part(token, 1);
    claims["sub"] = json!("admin");
    let tampered = format!("{}.{}.{}", parts[0], b64(claims.to_string()), parts[2]);
    assert_eq!(
        access(&env, &tampered).unwrap_err(),
        TokenError::InvalidSignature
    );

    // A changed header (the signature covers it too).
    let header =
        b64(json!({ "alg": "EdDSA", "kid": env.kid, "typ": "at+jwt", "x": 1 }).to_string());
    let tampered = format!("{header}.{}.{}", parts[1], parts[2]);
    assert_eq!(
        access(&env, &tampered).unwrap_err(),
        TokenError::InvalidSignature
    );

    // Every single-character change of the signature.
    let sig = parts[2];
    for i in 0..sig.len() {
        let mut bytes = sig.as_bytes().to_vec();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            String::from_utf8(bytes).unwrap()
        );
        assert!(access(&env, &tampered).is_err(), "byte {i}");
    }
    // A truncated or extended signature.
    for tampered in [
        format!("{}.{}.{}", parts[0], parts[1], &sig[..sig.len() - 2]),
        format!("{}.{}.{}AA", parts[0], parts[1], sig),
    ] {
        assert!(access(&env, &tampered).is_err());
    }
}

#[tokio::test]
async fn structural_garbage_is_malformed_not_a_panic() {
    let env = env();
    let good = env.forge("at+jwt", &env.claims());
    let parts: Vec<&str> = good.split('.').collect();
    let cases = vec![
        String::new(),
        ".".into(),
        "..".into(),
        "a.b".into(),
        format!("{good}.extra.parts"),
        format!("{}.{}", parts[0], parts[1]),
        format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
        format!("{}.{}.{}", b64("not json"), parts[1], parts[2]),
        format!("{}.{}.{}", b64("[1,2]"), parts[1], parts[2]),
        format!("{}.{}.{}", "€€€€", parts[1], parts[2]),
        format!("{}.{}.{}", b64(vec![b'{'; 2000]), parts[1], parts[2]),
        format!("{}.{}.{}", parts[0], parts[1], "%%%"),
    ];
    for token in cases {
        assert!(
            matches!(
                access(&env, &token),
                Err(TokenError::Malformed(_) | TokenError::InvalidSignature)
            ),
            "{token:?}"
        );
    }
    // A payload that is signed but not a JSON object.
    let token = env
        .forger
        .sign_raw(&b64(env.header("at+jwt").to_string()), &b64("hello"));
    assert!(matches!(
        access(&env, &token),
        Err(TokenError::Malformed(_))
    ));
    // Duplicate header members are ambiguous.
    let header = b64(format!(
        r#"{{"alg":"EdDSA","kid":"{}","typ":"at+jwt","alg":"HS256"}}"#,
        env.kid
    ));
    let token = env.forger.sign_raw(&header, &b64(env.claims().to_string()));
    assert!(matches!(
        access(&env, &token),
        Err(TokenError::Malformed(_))
    ));
}

#[test]
fn critical_header_extensions_are_refused() {
    let env = env();
    let token = env.forger.sign(
        &json!({ "alg": "EdDSA", "kid": env.kid, "typ": "at+jwt", "crit": ["exp"], "exp": 1 }),
        &env.claims(),
    );
    assert_eq!(
        access(&env, &token).unwrap_err(),
        TokenError::UnsupportedCritical
    );
}

#[test]
fn oversized_tokens_are_refused_before_decoding() {
    let env = env();
    let mut claims = env.claims();
    claims["padding"] = json!("x".repeat(9000));
    let token = env.forge("at+jwt", &claims);
    assert_eq!(access(&env, &token).unwrap_err(), TokenError::TooLarge);
    // Garbage of that size is refused the same way, without being parsed.
    assert_eq!(
        access(&env, &"@".repeat(8 * 1024 + 1)).unwrap_err(),
        TokenError::TooLarge
    );

    let big = env_with(|b| b.with_max_token_len(16 * 1024));
    let token = big.forge("at+jwt", &claims);
    let claims: Claims<Value> = big.issuer.verifier().verify_access(&token).unwrap();
    assert_eq!(claims.custom["padding"].as_str().unwrap().len(), 9000);
}

#[tokio::test]
async fn key_rotation_keeps_old_tokens_valid_and_signs_with_the_new_key() {
    let clock = MockClock::at_secs(T0);
    let old_key = SigningKey::generate_ed25519().unwrap();
    let old_kid = old_key.kid().to_owned();
    let keys = KeySet::new(old_key);
    let old_issuer = Issuer::builder(keys.clone())
        .with_clock(clock.clone())
        .build()
        .unwrap();
    let old_pair = Sessions::new(old_issuer.clone())
        .start("alice")
        .await
        .unwrap();

    // Rotation at run time: the same issuer and verifier see the new key at once.
    let next = SigningKey::generate_ed25519().unwrap();
    let new_kid = next.kid().to_owned();
    keys.sign_with(next).unwrap();
    assert_ne!(new_kid, old_kid);
    let issuer = old_issuer;
    let new_pair = Sessions::new(issuer.clone()).start("alice").await.unwrap();

    let verifier = issuer.verifier();
    assert!(
        verifier
            .verify_access::<NoCustomClaims>(old_pair.access_token())
            .is_ok()
    );
    assert!(
        verifier
            .verify_access::<NoCustomClaims>(new_pair.access_token())
            .is_ok()
    );
    let header = jws_part(new_pair.access_token(), 0);
    assert_eq!(header["kid"], new_kid);
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["typ"], "at+jwt");

    // Both public keys are published while the old one still verifies.
    let kids: Vec<_> = keys.jwks().keys.into_iter().filter_map(|k| k.kid).collect();
    assert_eq!(kids, [old_kid.clone(), new_kid]);

    // Once the old key is retired, its tokens stop verifying.
    keys.retire(&old_kid).unwrap();
    assert_eq!(
        verifier
            .verify_access::<NoCustomClaims>(old_pair.access_token())
            .unwrap_err(),
        TokenError::UnknownKey
    );
    assert!(
        verifier
            .verify_access::<NoCustomClaims>(new_pair.access_token())
            .is_ok()
    );
}

async fn round_trip(key: SigningKey) {
    let alg = key.algorithm();
    let issuer = Issuer::builder(KeySet::new(key))
        .with_clock(MockClock::at_secs(T0))
        .build()
        .unwrap();
    let pair = Sessions::new(issuer.clone()).start("alice").await.unwrap();
    let claims: Claims = issuer
        .verifier()
        .verify_access(pair.access_token())
        .unwrap();
    assert_eq!(claims.sub, "alice", "{alg}");
    // The same key pinned to another algorithm of its family does not verify.
    let header = jws_part(pair.access_token(), 0);
    assert_eq!(header["alg"], alg.as_str());
}

#[tokio::test]
async fn every_algorithm_signs_and_verifies() {
    let rng = SystemRandom::new();
    round_trip(SigningKey::generate_ed25519().unwrap()).await;
    let ec = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    round_trip(SigningKey::from_der(Algorithm::ES256, ec.as_ref()).unwrap()).await;
    round_trip(
        SigningKey::from_pem(Algorithm::ES256, pem("PRIVATE KEY", ec.as_ref()).as_bytes()).unwrap(),
    )
    .await;
    let rsa = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    let rsa_der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der<'_>>::as_der(&rsa).unwrap();
    for alg in [Algorithm::RS256, Algorithm::PS256] {
        round_trip(SigningKey::from_der(alg, rsa_der.as_ref()).unwrap()).await;
        round_trip(
            SigningKey::from_pem(alg, pem("PRIVATE KEY", rsa_der.as_ref()).as_bytes()).unwrap(),
        )
        .await;
    }
    for (alg, len) in [
        (Algorithm::HS256, 32),
        (Algorithm::HS384, 48),
        (Algorithm::HS512, 64),
    ] {
        round_trip(SigningKey::from_secret(alg, &vec![7; len]).unwrap()).await;
    }
}

#[tokio::test]
async fn rs256_and_ps256_tokens_do_not_cross_verify() {
    let rsa = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der<'_>>::as_der(&rsa).unwrap();
    let clock = MockClock::at_secs(T0);
    let rs = SigningKey::from_der(Algorithm::RS256, der.as_ref())
        .unwrap()
        .with_kid("k")
        .unwrap();
    let ps_verify = SigningKey::from_der(Algorithm::PS256, der.as_ref())
        .unwrap()
        .with_kid("k")
        .unwrap();
    let issuer = Issuer::builder(KeySet::new(rs))
        .with_clock(clock.clone())
        .build()
        .unwrap();
    let token = Sessions::new(issuer.clone()).start("alice").await.unwrap();
    let verifier = Verifier::builder(KeySet::new(ps_verify))
        .with_clock(clock)
        .build()
        .unwrap();
    assert_eq!(
        verifier
            .verify_access::<NoCustomClaims>(token.access_token())
            .unwrap_err(),
        TokenError::AlgorithmMismatch
    );
}

#[tokio::test]
async fn a_public_key_alone_verifies_what_its_private_key_signed() {
    let env = env();
    let spki = ed25519_spki(&env.forger.public_key());
    let public =
        VerifyingKey::from_pem(Algorithm::EdDSA, pem("PUBLIC KEY", &spki).as_bytes()).unwrap();
    assert_eq!(public.kid(), env.kid);
    // A verifier-only deployment: it has no signing key of its own, so it trusts the public
    // key under a signing key it never uses.
    let keys = KeySet::new(SigningKey::generate_ed25519().unwrap())
        .with_verifying_key(public)
        .unwrap();
    let verifier = Verifier::builder(keys)
        .with_clock(env.clock.clone())
        .with_issuer(ISS)
        .with_audience(AUD)
        .build()
        .unwrap();
    let pair = env.login("alice").await;
    assert!(
        verifier
            .verify_access::<Profile>(pair.access_token())
            .is_ok()
    );
}

#[test]
fn weak_or_mismatched_keys_are_refused_at_load_time() {
    let rsa = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der<'_>>::as_der(&rsa).unwrap();
    assert!(SigningKey::from_der(Algorithm::EdDSA, der.as_ref()).is_err());
    assert!(SigningKey::from_der(Algorithm::ES256, der.as_ref()).is_err());
    assert!(SigningKey::from_der(Algorithm::HS256, der.as_ref()).is_err());
    assert!(SigningKey::from_der(Algorithm::RS256, &rfc8037_pkcs8()).is_err());
    assert!(
        SigningKey::from_pem(
            Algorithm::EdDSA,
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
        )
        .is_err()
    );
    assert!(SigningKey::from_secret(Algorithm::HS256, &[0; 31]).is_err());
}

#[tokio::test]
async fn errors_never_echo_the_token() {
    let env = env();
    let pair = env.login("alice").await;
    env.advance(10_000);
    let err = access(&env, pair.access_token()).unwrap_err();
    let text = format!("{err} {err:?} {}", err.description());
    for part in pair.access_token().split('.') {
        assert!(!text.contains(part));
    }
    let _ = access_plain(&env, "x");
}

#[test]
fn null_is_not_absent_for_any_optional_member() {
    // RFC 7515 §4.1.11: `crit`, when present, is a non-empty array; a `null` time claim is
    // not a NumericDate. A correctly signed token with any such `null` is refused.
    let env = env();
    for name in ["crit", "typ", "kid"] {
        let mut header = env.header("at+jwt");
        header[name] = Value::Null;
        let token = env.forger.sign(&header, &env.claims());
        assert!(access(&env, &token).is_err(), "header {name}: null");
    }
    let mut header = env.header("at+jwt");
    header["crit"] = json!([]);
    let token = env.forger.sign(&header, &env.claims());
    assert_eq!(
        access(&env, &token).unwrap_err(),
        TokenError::UnsupportedCritical
    );

    for name in [
        "iss",
        "sub",
        "aud",
        "exp",
        "nbf",
        "iat",
        "jti",
        "sid",
        "scope",
        "auth_time",
        "auth_time_ms",
        "sexp",
    ] {
        let mut claims = env.claims();
        claims[name] = Value::Null;
        let token = env.forger.sign(&env.header("at+jwt"), &claims);
        assert!(
            matches!(
                access(&env, &token),
                Err(TokenError::Malformed(_) | TokenError::MissingClaim(_))
            ),
            "claim {name}: null"
        );
    }
}
