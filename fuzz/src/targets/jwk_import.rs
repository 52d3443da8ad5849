//! Key import from untrusted bytes: a JWK set (`KeySet::from_jwks`), one JWK
//! (`VerifyingKey::from_jwk` under every algorithm), PEM and DER keys. Never a panic; a key that
//! loads is pinned to the algorithm asked for, and its exported JWK loads back to the same key.

use crate::Outcome;
use tower_jwt_auth::{
    KeySet, SigningKey,
    keys::{Algorithm, Jwk, JwkSet, VerifyingKey},
};

const ALGORITHMS: [Algorithm; 7] = [
    Algorithm::EdDSA,
    Algorithm::ES256,
    Algorithm::RS256,
    Algorithm::PS256,
    Algorithm::HS256,
    Algorithm::HS384,
    Algorithm::HS512,
];

/// A key that loaded: pinned as asked, and its public JWK round-trips.
fn check(key: &VerifyingKey, algorithm: Algorithm) {
    assert_eq!(key.algorithm(), algorithm);
    if let Some(jwk) = key.to_jwk() {
        let again = VerifyingKey::from_jwk(&jwk, algorithm).expect("an exported JWK loads");
        assert_eq!(again.kid(), key.kid());
        assert_eq!(again.to_jwk().as_ref(), Some(&jwk));
    }
}

/// Every algorithm on one JWK: `true` when it loaded under at least one.
fn one_jwk(jwk: &Jwk) -> bool {
    let _ = jwk.algorithm();
    let mut loaded = false;
    for algorithm in ALGORITHMS {
        if let Ok(key) = VerifyingKey::from_jwk(jwk, algorithm) {
            check(&key, algorithm);
            loaded = true;
        }
    }
    loaded
}

/// Runs one input: `Accepted` when a key (or a key set) loaded.
pub fn run(data: &[u8]) -> Outcome {
    let Some((&mode, rest)) = data.split_first() else {
        return Outcome::Rejected;
    };
    let mut loaded = false;
    match mode % 4 {
        0 => {
            if let Ok(set) = serde_json::from_slice::<JwkSet>(rest) {
                if let Ok(keys) = KeySet::from_jwks(&set) {
                    for key in keys.verifying_keys() {
                        check(&key, key.algorithm());
                    }
                    let exported = keys.jwks();
                    let again = KeySet::from_jwks(&exported).expect("an exported JWKS loads");
                    assert_eq!(again.jwks(), exported);
                    loaded = true;
                }
                for jwk in &set.keys {
                    loaded |= one_jwk(jwk);
                }
            }
        }
        1 => {
            if let Ok(jwk) = serde_json::from_slice::<Jwk>(rest) {
                loaded = one_jwk(&jwk);
            }
        }
        2 => {
            for algorithm in ALGORITHMS {
                if let Ok(key) = VerifyingKey::from_pem(algorithm, rest) {
                    check(&key, algorithm);
                    loaded = true;
                }
                if let Ok(key) = SigningKey::from_pem(algorithm, rest) {
                    check(&key.verifying_key(), algorithm);
                    loaded = true;
                }
            }
        }
        _ => {
            for algorithm in ALGORITHMS {
                if let Ok(key) = SigningKey::from_der(algorithm, rest) {
                    check(&key.verifying_key(), algorithm);
                    loaded = true;
                }
            }
        }
    }
    if loaded {
        Outcome::Accepted
    } else {
        Outcome::Rejected
    }
}
