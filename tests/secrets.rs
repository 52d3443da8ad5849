//! No token, key or secret in any `Debug` or `Display` output: every public type that holds
//! one is formatted and the output searched for the secret in every encoding it could take.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use tower_jwt_auth::{
    Issuer, KeySet, Sessions, SigningKey, Verifier,
    bearer::AuthError,
    keys::{Algorithm, Jwk, VerifyingKey},
    token::TokenError,
};

/// A secret whose every encoding is easy to find.
const SECRET: [u8; 32] = [0xAB; 32];

/// `text` holds none of the ways `secret` could be written.
fn assert_hidden(what: &str, text: &str, secret: &[u8]) {
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let decimal = format!("{:?}", secret);
    for encoded in [
        URL_SAFE_NO_PAD.encode(secret),
        STANDARD.encode(secret),
        hex.clone(),
        hex.to_uppercase(),
        decimal,
    ] {
        assert!(!text.contains(&encoded), "{what} shows the secret: {text}");
    }
}

#[tokio::test]
async fn debug_and_display_never_show_keys_secrets_or_tokens() {
    let signing = SigningKey::from_secret(Algorithm::HS256, &SECRET).unwrap();
    let verifying = VerifyingKey::from_secret(Algorithm::HS256, &SECRET).unwrap();
    let keys = KeySet::new(signing);
    let issuer = Issuer::builder(keys.clone()).build().unwrap();
    let verifier = Verifier::builder(keys.clone()).build().unwrap();
    let sessions = Sessions::new(issuer.clone());
    let jwk: Jwk = serde_json::from_value(serde_json::json!({
        "kty": "oct", "alg": "HS256", "k": URL_SAFE_NO_PAD.encode(SECRET)
    }))
    .unwrap();
    for (what, text) in [
        (
            "SigningKey",
            format!(
                "{:?}",
                SigningKey::from_secret(Algorithm::HS256, &SECRET).unwrap()
            ),
        ),
        ("VerifyingKey", format!("{verifying:?}")),
        ("KeySet", format!("{keys:?}")),
        ("Issuer", format!("{issuer:?}")),
        ("Verifier", format!("{verifier:?}")),
        ("Sessions", format!("{sessions:?}")),
        ("Jwk", format!("{jwk:?}")),
        ("JwkSet", format!("{:?}", keys.jwks())),
    ] {
        assert_hidden(what, &text, &SECRET);
    }
    // The JWKS document never publishes a secret either.
    assert_hidden(
        "jwks",
        &serde_json::to_string(&keys.jwks()).unwrap(),
        &SECRET,
    );

    // Tokens: never in a pair's `Debug`, nor in any error about them.
    let pair = Sessions::new(issuer.clone()).start("alice").await.unwrap();
    let pair_text = format!("{pair:?}");
    for token in [pair.access_token(), pair.refresh_token()] {
        assert!(!pair_text.contains(token));
        for (part, _) in token.split('.').zip(0..) {
            assert!(!pair_text.contains(part), "TokenPair shows a token part");
        }
    }
    let mut tampered = pair.access_token().to_owned();
    tampered.push('x');
    let err = verifier
        .verify_access::<tower_jwt_auth::token::NoCustomClaims>(&tampered)
        .unwrap_err();
    let auth = AuthError::InvalidToken(err.clone());
    for text in [
        format!("{err} {err:?}"),
        format!("{auth} {auth:?} {}", auth.json_body()),
        format!("{:?}", auth.www_authenticate(Some("api"))),
        format!("{:?}", TokenError::Malformed("x")),
    ] {
        assert!(!text.contains(&tampered), "{text}");
        assert!(
            !text.contains(pair.access_token().split('.').nth(1).unwrap()),
            "{text}"
        );
    }
}

#[cfg(feature = "remote-jwks")]
#[test]
fn urls_with_credentials_are_never_shown() {
    use tower_jwt_auth::keys::RemoteJwks;

    let builder = RemoteJwks::builder("https://user:hunter2@auth.example/jwks.json?key=topsecret");
    let text = format!("{builder:?}");
    assert!(
        !text.contains("hunter2") && !text.contains("topsecret"),
        "{text}"
    );
}

#[cfg(feature = "redis")]
#[test]
fn redis_passwords_are_never_shown() {
    use tower_jwt_auth::store::RedisBackend;

    let builder = RedisBackend::builder("redis://:hunter2@127.0.0.1:6379/0");
    let text = format!("{builder:?}");
    assert!(!text.contains("hunter2"), "{text}");
}
