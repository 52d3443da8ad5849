//! Arbitrary bytes as a token, through the verifier (access and refresh) and the signature
//! layer, against a key set of four algorithms with revocations in place. Whatever is
//! accepted must pass `check_accepted`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_jwt_auth::token::{NoCustomClaims, TokenKind, verify_signature_only};
use tower_jwt_auth_fuzz::{Env, T0, check_accepted};

fuzz_target!(|data: &[u8]| {
    let env = Env::shared();
    let token = String::from_utf8_lossy(data);
    let verifier = env.issuer.verifier();
    if let Ok(claims) = verifier.verify_access::<NoCustomClaims>(&token) {
        check_accepted(&token, TokenKind::Access, &claims, T0, None);
    }
    if let Ok(claims) = verifier.verify_refresh::<serde_json::Value>(&token) {
        check_accepted(&token, TokenKind::Refresh, &claims, T0, None);
    }
    let _ = verify_signature_only(env.issuer.keys(), &token);
});
