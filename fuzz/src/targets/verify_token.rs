//! Arbitrary bytes as a token, through the verifier (access and refresh) and the signature
//! layer, against a key set of four algorithms with revocations in place. Whatever is
//! accepted must pass `check_accepted`.

use crate::{Env, Outcome, T0, check_accepted};
use tower_jwt_auth::token::{NoCustomClaims, TokenKind, verify_signature_only};

/// Runs one input: `Accepted` when the token verified as an access or a refresh token.
pub fn run(data: &[u8]) -> Outcome {
    let env = Env::shared();
    let token = String::from_utf8_lossy(data);
    let verifier = env.issuer.verifier();
    let mut outcome = Outcome::Rejected;
    if let Ok(claims) = verifier.verify_access::<NoCustomClaims>(&token) {
        check_accepted(&token, TokenKind::Access, &claims, T0, None);
        outcome = Outcome::Accepted;
    }
    if let Ok(claims) = verifier.verify_refresh::<serde_json::Value>(&token) {
        check_accepted(&token, TokenKind::Refresh, &claims, T0, None);
        outcome = Outcome::Accepted;
    }
    let _ = verify_signature_only(env.issuer.keys(), &token);
    outcome
}
