//! Public JOSE test vectors, vendored under `tests/vectors/` (see its README for sources and
//! licences). A missing vector file fails the test that reads it.
//!
//! Most tests run the vectors through the signature layer alone, exactly as the verifier runs
//! it (`token::verify_signature_only_with_key` and `token::verify_signature_only`, feature
//! `test-util`): no public vector is one of this crate's tokens, so the full verifier refuses
//! every one of them, and two tests pin down which rule does.
//!
//! Sources: RFC 7515 A.1, RFC 7520 §4.1–4.4 (the JOSE cookbook), RFC 8037 A.4, and Project
//! Wycheproof's `json_web_signature_test.json` and `json_web_key_test.json`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{collections::BTreeMap, fmt, path::Path};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::Value;
use tower_jwt_auth::{
    KeySet, SigningKey, Verifier,
    clock::MockClock,
    keys::{Algorithm, Jwk, KeyError, VerifyingKey},
    token::{
        NoCustomClaims, TokenError, TokenKind, verify_signature_only,
        verify_signature_only_with_key,
    },
};

/// The vendored vector file `name`, a path under `tests/vectors/`, parsed. Panics, failing
/// the test, when the file is missing: a vector test never passes without its vectors.
fn vector(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "test vector file {} cannot be read ({e}); the vectors are part of the repository",
            path.display()
        )
    });
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("test vector file {} is not JSON: {e}", path.display()))
}

/// A verifier that trusts `key`; the set signs with a key of its own.
fn verifier(key: VerifyingKey, clock: MockClock) -> Verifier {
    let keys = KeySet::new(SigningKey::generate_ed25519().unwrap())
        .with_verifying_key(key)
        .unwrap();
    Verifier::builder(keys).with_clock(clock).build().unwrap()
}

/// Every algorithm this crate implements.
const ALGORITHMS: [Algorithm; 7] = [
    Algorithm::EdDSA,
    Algorithm::ES256,
    Algorithm::RS256,
    Algorithm::PS256,
    Algorithm::HS256,
    Algorithm::HS384,
    Algorithm::HS512,
];

/// The algorithm with this JOSE name, if this crate implements it.
fn algorithm(name: &str) -> Option<Algorithm> {
    ALGORITHMS.into_iter().find(|a| a.as_str() == name)
}

/// A token's header as JSON, decoded leniently: the tests read what a vector's header says
/// with it. The layer under test decodes the header again, strictly.
fn header(token: &str) -> Option<Value> {
    let header = token.split('.').next()?;
    let bytes = URL_SAFE_NO_PAD.decode(header).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The `alg` a token's header names, decoded leniently: the harness uses it only to choose
/// which algorithm to pin a key without an `alg` member to, as an application would
/// configure it.
fn header_alg(token: &str) -> Option<String> {
    header(token)?.get("alg")?.as_str().map(str::to_owned)
}

/// `token` with one signature character changed (canonical base64url either way).
fn tamper_signature(token: &str) -> String {
    let at = token.rfind('.').unwrap() + 2;
    let mut tampered = token.to_owned();
    let replacement = if &token[at..=at] == "A" { "B" } else { "A" };
    tampered.replace_range(at..=at, replacement);
    tampered
}

/// Parses a vector's JWK and loads it pinned to `algorithm`.
fn load_jwk(jwk: &Value, algorithm: Algorithm) -> Result<VerifyingKey, Refusal> {
    let jwk: Jwk = serde_json::from_value(jwk.clone()).map_err(|_| Refusal::JwkParse)?;
    VerifyingKey::from_jwk(&jwk, algorithm).map_err(Refusal::Key)
}

/// Where a Wycheproof case was refused.
#[derive(Debug)]
enum Refusal {
    /// `jsonwebtoken` could not even parse the JWK.
    JwkParse,
    /// `VerifyingKey::from_jwk` refused the key.
    Key(KeyError),
    /// `KeySet` refused the set (duplicate `kid`).
    KeySet(KeyError),
    /// The signature layer refused the token.
    Token(TokenError),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::JwkParse => f.write_str("JWK parse"),
            Self::Key(e) => write!(f, "key loading: {e}"),
            Self::KeySet(e) => write!(f, "key set: {e}"),
            Self::Token(e) => write!(f, "token: {e}"),
        }
    }
}

impl Refusal {
    /// The step only, to count refusals by step.
    fn step(&self) -> String {
        match self {
            Self::JwkParse => "JWK parse".to_owned(),
            Self::Key(_) => "key loading (from_jwk)".to_owned(),
            Self::KeySet(_) => "key set".to_owned(),
            Self::Token(TokenError::Malformed(why)) => format!("token: malformed ({why})"),
            Self::Token(e) => format!("token: {e}"),
        }
    }
}

/// Counts of one Wycheproof file, and every case that disagrees with its expected result.
#[derive(Default)]
struct Tally {
    total: usize,
    checked: usize,
    skipped: BTreeMap<&'static str, usize>,
    refused_at: BTreeMap<String, usize>,
    /// `(tcId, description)` of every case whose outcome differs from its `result`.
    disagreements: Vec<(u64, String)>,
}

impl Tally {
    fn skip(&mut self, why: &'static str) {
        *self.skipped.entry(why).or_default() += 1;
    }

    fn skipped_total(&self) -> usize {
        self.skipped.values().sum()
    }

    /// Records a checked case: `outcome` against the expected `result`.
    fn check(&mut self, test: &Value, outcome: &Result<(), Refusal>) {
        self.checked += 1;
        let tc_id = test["tcId"].as_u64().unwrap();
        let comment = test["comment"].as_str().unwrap_or_default();
        let valid = match test["result"].as_str() {
            Some("valid") => true,
            Some("invalid") => false,
            other => panic!("tcId {tc_id}: unexpected result {other:?}"),
        };
        match (outcome, valid) {
            (Ok(()), true) => {}
            (Err(refusal), false) => {
                *self.refused_at.entry(refusal.step()).or_default() += 1;
            }
            (Ok(()), false) => self
                .disagreements
                .push((tc_id, format!("invalid case `{comment}` accepted"))),
            (Err(refusal), true) => self.disagreements.push((
                tc_id,
                format!("valid case `{comment}` refused at {refusal}"),
            )),
        }
    }

    fn report(&self, file: &str) {
        eprintln!(
            "{file}: {} cases, {} checked, {} skipped {:?}",
            self.total,
            self.checked,
            self.skipped_total(),
            self.skipped
        );
        for (step, n) in &self.refused_at {
            eprintln!("  invalid refused at {step}: {n}");
        }
        for (tc_id, what) in &self.disagreements {
            eprintln!("  tcId {tc_id}: {what} (listed exception)");
        }
    }

    /// Fails unless the disagreements are exactly the listed exceptions: a new disagreement
    /// is a regression, and a listed one that no longer happens is a stale list.
    fn assert_disagreements_are(&self, exceptions: &[(u64, &str)]) {
        let found: Vec<u64> = self.disagreements.iter().map(|(id, _)| *id).collect();
        let listed: Vec<u64> = exceptions.iter().map(|(id, _)| *id).collect();
        let unexpected: Vec<_> = self
            .disagreements
            .iter()
            .filter(|(id, _)| !listed.contains(id))
            .collect();
        assert!(
            unexpected.is_empty(),
            "unexpected outcomes: {unexpected:#?}"
        );
        let stale: Vec<_> = exceptions
            .iter()
            .filter(|(id, _)| !found.contains(id))
            .collect();
        assert!(
            stale.is_empty(),
            "listed exceptions that no longer happen: {stale:#?}"
        );
    }
}

/// RFC 7515 appendix A.1: the signature layer verifies the exact received bytes (the
/// header contains CR LF). The token itself is refused by the full verifier's policy:
/// it has no `kid`, its `typ` is `JWT`, and it lacks `sub`, `iat`, `jti` and `sid`.
#[test]
fn rfc7515_a1_hs256_signature_layer() {
    let v = vector("rfc7515-a1-hs256.json");
    let k = URL_SAFE_NO_PAD
        .decode(v["jwk"]["k"].as_str().unwrap())
        .unwrap();
    let key = VerifyingKey::from_secret(Algorithm::HS256, &k).unwrap();
    let token = v["jws"].as_str().unwrap();
    let h = header(token).unwrap();
    assert_eq!(h["alg"], "HS256");
    assert_eq!(h["typ"], "JWT");
    assert!(h.get("kid").is_none());
    verify_signature_only_with_key(&key, token).unwrap();

    // One payload character changed: the signature no longer covers the bytes.
    let mut tampered = token.to_owned();
    tampered.replace_range(60..61, if &token[60..61] == "A" { "B" } else { "A" });
    assert_eq!(
        verify_signature_only_with_key(&key, &tampered),
        Err(TokenError::InvalidSignature)
    );

    // The same key as a JWK.
    let key = load_jwk(&v["jwk"], Algorithm::HS256).unwrap();
    verify_signature_only_with_key(&key, token).unwrap();
}

/// RFC 7515 A.1 through the full verifier: `{"typ":"JWT", "alg":"HS256"}`, claims `iss`,
/// `exp` (2011-03-22T18:43:00Z) and a private claim. The mock clock stands before `exp`, so
/// time is not what refuses it.
#[test]
fn rfc7515_a1_is_refused_for_its_jwt_type() {
    let v = vector("rfc7515-a1-hs256.json");
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

/// RFC 8037 appendix A.4: Ed25519 signature over a non-JSON payload. The signature layer
/// verifies; the full verifier refuses it (no `kid`, no `typ`, payload not a JSON object).
#[test]
fn rfc8037_a4_ed25519_signature_layer() {
    let v = vector("jose-cookbook/curve25519/jws.json");
    let x = URL_SAFE_NO_PAD
        .decode(v["input"]["key"]["x"].as_str().unwrap())
        .unwrap();
    let mut spki = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    spki.extend_from_slice(&x);
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(&spki)
    );
    let key = VerifyingKey::from_pem(Algorithm::EdDSA, pem.as_bytes()).unwrap();
    let token = v["output"]["compact"].as_str().unwrap();
    verify_signature_only_with_key(&key, token).unwrap();
    let payload = token.split('.').nth(1).unwrap();
    assert_eq!(
        URL_SAFE_NO_PAD.decode(payload).unwrap(),
        b"Example of Ed25519 signing"
    );
}

/// RFC 8037 A.2–A.4 through `from_jwk`: the JWK (its private `d` member is ignored) gives the
/// A.3 thumbprint as `kid`, and the A.4 token verifies.
#[test]
fn rfc8037_a4_ed25519_from_jwk() {
    let v = vector("jose-cookbook/curve25519/jws.json");
    assert_eq!(v["input"]["alg"], "EdDSA");
    let key = load_jwk(&v["input"]["key"], Algorithm::EdDSA).unwrap();
    assert_eq!(key.kid(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    let token = v["output"]["compact"].as_str().unwrap();
    verify_signature_only_with_key(&key, token).unwrap();
    assert_eq!(
        verify_signature_only_with_key(&key, &tamper_signature(token)),
        Err(TokenError::InvalidSignature)
    );
}

/// RFC 8037 A.4 through the full verifier: `{"alg":"EdDSA"}` over the text "Example of
/// Ed25519 signing".
#[test]
fn rfc8037_a4_is_refused_for_its_missing_typ() {
    let v = vector("jose-cookbook/curve25519/jws.json");
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

/// RFC 7520 §4.1 to §4.4 (the JOSE cookbook): keys loaded with `from_jwk`, compact
/// serializations through the signature layer. §4.2 (PS384) and §4.3 (ES512 on P-521) use
/// algorithms this crate does not implement: they must be refused, not verified.
#[test]
fn rfc7520_cookbook_signatures() {
    const KID: &str = "bilbo.baggins@hobbiton.example";
    let dir = "jose-cookbook/jws";
    let rs256 = vector(&format!("{dir}/4_1.rsa_v15_signature.json"));
    let ps384 = vector(&format!("{dir}/4_2.rsa-pss_signature.json"));
    let es512 = vector(&format!("{dir}/4_3.ecdsa_signature.json"));
    let hs256 = vector(&format!("{dir}/4_4.hmac-sha2_integrity_protection.json"));
    let compact = |v: &Value| v["output"]["compact"].as_str().unwrap().to_owned();

    // §4.1 RS256 and §4.4 HS256: supported. Verify, refuse a tampered signature, and refuse
    // the token for a key pinned to any other algorithm.
    for (v, alg, kid, other) in [
        (&rs256, Algorithm::RS256, KID, Algorithm::PS256),
        (
            &hs256,
            Algorithm::HS256,
            "018c0ae5-4d9b-471b-bfd6-eef314bc7037",
            Algorithm::HS384,
        ),
    ] {
        assert_eq!(v["input"]["alg"], alg.as_str());
        let key = load_jwk(&v["input"]["key"], alg).unwrap();
        assert_eq!(key.kid(), kid);
        let token = compact(v);
        let h = header(&token).unwrap();
        assert_eq!(h["alg"], alg.as_str());
        assert_eq!(h["kid"], kid);
        verify_signature_only_with_key(&key, &token).unwrap();
        assert_eq!(
            verify_signature_only_with_key(&key, &tamper_signature(&token)),
            Err(TokenError::InvalidSignature),
            "{alg}"
        );
        match load_jwk(&v["input"]["key"], other) {
            Ok(key) => assert_eq!(
                verify_signature_only_with_key(&key, &token),
                Err(TokenError::AlgorithmMismatch)
            ),
            // The §4.4 JWK says `alg: HS256` (and its 32-byte secret is too short for HS384).
            Err(refusal) => assert!(matches!(refusal, Refusal::Key(_)), "{refusal}"),
        }
    }

    // §4.2: PS384, not implemented. The JWK has no `alg`, so the RSA key loads for RS256 and
    // PS256; the token is refused by the `alg` rule. That its signature does not verify as
    // either algorithm even past that rule is checked where the rule can be stepped over: the
    // unit tests of `token::jws`.
    assert_eq!(ps384["input"]["alg"], "PS384");
    assert!(algorithm("PS384").is_none());
    let token = compact(&ps384);
    for alg in [Algorithm::RS256, Algorithm::PS256] {
        let key = load_jwk(&ps384["input"]["key"], alg).unwrap();
        assert_eq!(
            verify_signature_only_with_key(&key, &token),
            Err(TokenError::AlgorithmMismatch)
        );
    }

    // §4.3: ES512 on P-521, not implemented: the key itself is refused for every algorithm.
    assert_eq!(es512["input"]["alg"], "ES512");
    assert_eq!(es512["input"]["key"]["crv"], "P-521");
    assert!(algorithm("ES512").is_none());
    for alg in ALGORITHMS {
        assert!(
            matches!(load_jwk(&es512["input"]["key"], alg), Err(Refusal::Key(_))),
            "{alg}"
        );
    }
}

/// `valid` Wycheproof JWS cases this crate refuses on purpose.
const JWS_STRICTER: &[(u64, &str)] = &[
    (
        259,
        "RS256 `emptyPayload`: an empty payload part is malformed here; every token carries claims",
    ),
    (
        272,
        "PS256 `emptyPayload`: an empty payload part is malformed here; every token carries claims",
    ),
    (
        372,
        "`InvalidCharacterInsertedInHeader`: `?` is not base64url, and the signature covers the \
         exact received bytes, never a re-encoding of what a lenient decoder kept",
    ),
    (
        373,
        "`InvalidCharacterInsertedInPayload`: as 372, in the payload",
    ),
];

/// `invalid` Wycheproof JWS cases that are byte-identical to a `valid` one: no verifier can
/// accept the one and refuse the others. Reported upstream as C2SP/wycheproof#236.
const JWS_CONTRADICTORY: &[(u64, &str)] = &[
    (
        367,
        "`invalidBase64Padding`: byte-identical to valid tcId 357 (C2SP/wycheproof#236)",
    ),
    (
        370,
        "`invalidBase64PaddingInPayload`: byte-identical to valid tcId 357 (C2SP/wycheproof#236)",
    ),
];

/// Wycheproof `json_web_signature_test.json` through the signature layer.
///
/// The key of each group is its `public` JWK, or for HMAC groups its `private` (`oct`) one,
/// loaded with `from_jwk` pinned to the JWK's `alg` when this crate implements it, else to
/// the token header's `alg` (standing in for the algorithm an application configures; the
/// JWK's own `alg` still has to agree). Skipped: cases where neither names an implemented
/// algorithm, `valid` cases whose token names an algorithm this crate does not implement,
/// and JSON serializations given as JSON objects (the file has none: its one JSON
/// serialization, tcId 17, is a string, expected `invalid`, and is checked like any token).
///
/// At the time of writing: 401 cases, 366 checked, 35 skipped. Skipped are 33 cases whose
/// key and token both use algorithms not implemented here (the RS384, RS512, PS384 and ES512
/// groups, and 18 of the 20 PS512 cases; its other 2 name RS256 and PS256 and are refused at
/// key loading), and the 2 `valid` PS384 tokens of a JWK that says PS256 (RFC 7520 §4.2).
#[test]
fn wycheproof_json_web_signature() {
    let file = "wycheproof/json_web_signature_test.json";
    let v = vector(file);
    let mut tally = Tally::default();
    let mut by_id = BTreeMap::new();
    for group in v["testGroups"].as_array().unwrap() {
        let jwk = if group["public"].is_object() {
            &group["public"]
        } else {
            &group["private"]
        };
        let jwk_alg = jwk["alg"].as_str().and_then(algorithm);
        for test in group["tests"].as_array().unwrap() {
            tally.total += 1;
            let Some(token) = test["jws"].as_str() else {
                tally.skip("JSON serialization");
                continue;
            };
            by_id.insert(test["tcId"].as_u64().unwrap(), token);
            let token_alg_name = header_alg(token);
            let token_alg = token_alg_name.as_deref().and_then(algorithm);
            let Some(alg) = jwk_alg.or(token_alg) else {
                tally.skip("algorithm not implemented");
                continue;
            };
            if test["result"] == "valid" && token_alg_name.is_some() && token_alg.is_none() {
                tally.skip("valid token of an algorithm not implemented");
                continue;
            }
            let outcome = load_jwk(jwk, alg).and_then(|key| {
                verify_signature_only_with_key(&key, token).map_err(Refusal::Token)
            });
            tally.check(test, &outcome);
        }
    }
    tally.report(file);

    assert_eq!(
        tally.total as u64,
        v["numberOfTests"].as_u64().unwrap(),
        "every case is counted"
    );
    assert_eq!(tally.checked + tally.skipped_total(), tally.total);
    // The real count is 366 (see above); a drop means cases silently stopped being checked.
    assert!(tally.checked >= 360, "only {} checked", tally.checked);
    for (id, _) in JWS_CONTRADICTORY {
        assert_eq!(
            by_id.get(id),
            by_id.get(&357),
            "tcId {id} is no longer identical to 357"
        );
    }
    let exceptions: Vec<_> = JWS_STRICTER
        .iter()
        .chain(JWS_CONTRADICTORY)
        .copied()
        .collect();
    tally.assert_disagreements_are(&exceptions);
}

/// `json_web_key_test.json` cases whose outcome differs from Wycheproof's on purpose.
const JWK_POLICY: &[(u64, &str)] = &[
    (
        1,
        "`MixedKeySet` (flagged `Ambiguous`): a key set may hold HMAC secrets and public keys \
         together; each key is pinned to its own algorithm, which is what prevents the \
         symmetric/asymmetric confusion (json_web_signature_test tcId 31)",
    ),
    (
        7,
        "`rejectsKeyWithRocaVulnerability`: known gap, keys are not tested for the ROCA \
         (CVE-2017-15361) fingerprint; the 2049-bit key is otherwise well-formed",
    ),
];

/// Invalid keys of `json_web_key_test.json`: each must be refused by `from_jwk` itself (or be
/// a JWK that does not parse), before any token is looked at. `(tcId, comment)`: the comment
/// guards against a renumbered file.
const JWK_REFUSED_KEYS: &[(u64, &str)] = &[
    // The second key's `k` has non-zero trailing bits (not canonical base64url), so it is
    // refused before `KeySet` sees the duplicate `kid`; the duplicate rule is checked on its
    // own in the test.
    (4, "rejectsDuplicateKid"),
    (6, "rejectsWrongUse"),
    (8, "rejects1024bitRsaKey"),
    (9, "rejectsPublicExponent1"),
    (10, "key_too_short"),
    (11, "key_too_short"),
    (12, "key_too_short"),
    (16, "empty_key"),
    (17, "empty_key"),
    (18, "empty_key"),
    (19, "mismatchedAlgAndCurve"),
    (20, "mismatchedAlgAndCurve"),
    (21, "rejectsModifiedKey"),
    (22, "rejectsModifiedKey"),
    (23, "rejectsModifiedKey"),
    (24, "rejectsModifiedKey"),
    (25, "rejectsAesKey"),
    (26, "rejectsAesKey"),
];

/// Wycheproof `json_web_key_test.json`: key sets, and keys that must be refused.
///
/// Each group's key set (`public`, else `private`) is loaded as an application would load a
/// JWKS it trusts: every JWK through `from_jwk` (pinned to its `alg` when this crate
/// implements it, else to the token header's), into a `KeySet`, which refuses duplicate
/// `kid`s. A set with a key that does not load is refused as a whole. The token's `kid`
/// then selects the key. At the time of writing all 26 cases are checked.
#[test]
fn wycheproof_json_web_key() {
    let file = "wycheproof/json_web_key_test.json";
    let v = vector(file);
    let mut tally = Tally::default();
    let mut refused_at_load = Vec::new();
    for group in v["testGroups"].as_array().unwrap() {
        let set = if group["public"].is_object() {
            &group["public"]
        } else {
            &group["private"]
        };
        for test in group["tests"].as_array().unwrap() {
            tally.total += 1;
            let tc_id = test["tcId"].as_u64().unwrap();
            let Some(token) = test["jws"].as_str() else {
                tally.skip("JSON serialization");
                continue;
            };
            let token_alg = header_alg(token).as_deref().and_then(algorithm);
            let keys = set["keys"].as_array().unwrap().iter().map(|jwk| {
                let alg = jwk["alg"].as_str().and_then(algorithm).or(token_alg);
                alg.map(|alg| load_jwk(jwk, alg))
            });
            let Some(keys) = keys.collect::<Option<Vec<_>>>() else {
                tally.skip("algorithm not implemented");
                continue;
            };
            let outcome = keys
                .into_iter()
                .collect::<Result<Vec<_>, _>>()
                .and_then(|keys| {
                    // A signing key no vector names, since a `KeySet` always has one.
                    let signing = SigningKey::generate_ed25519().unwrap();
                    keys.into_iter()
                        .try_fold(KeySet::new(signing), KeySet::with_verifying_key)
                        .map_err(Refusal::KeySet)
                })
                .and_then(|keys| verify_signature_only(&keys, token).map_err(Refusal::Token));
            if matches!(outcome, Err(Refusal::JwkParse | Refusal::Key(_))) {
                refused_at_load.push((tc_id, test["comment"].as_str().unwrap_or_default()));
            }
            tally.check(test, &outcome);
        }
    }
    tally.report(file);

    assert_eq!(tally.total as u64, v["numberOfTests"].as_u64().unwrap());
    assert_eq!(tally.checked, tally.total, "every case applies");
    assert_eq!(refused_at_load, JWK_REFUSED_KEYS);

    // `jws_duplicate_kid`: two keys under one `kid` never make a key set.
    let group = v["testGroups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["comment"] == "jws_duplicate_kid")
        .unwrap();
    let first = load_jwk(&group["private"]["keys"][0], Algorithm::HS256).unwrap();
    // (The group's second key has a non-canonical `k`: another secret under the same `kid`.)
    let second = VerifyingKey::from_secret(Algorithm::HS256, &[7; 32])
        .unwrap()
        .with_kid(first.kid())
        .unwrap();
    let signing = SigningKey::generate_ed25519().unwrap();
    let keys = KeySet::new(signing)
        .with_verifying_key(first.clone())
        .unwrap();
    // The same key again changes nothing; another key under its `kid` is refused.
    keys.publish(first).unwrap();
    assert!(matches!(
        keys.with_verifying_key(second),
        Err(KeyError::DuplicateKid(_))
    ));
    tally.assert_disagreements_are(JWK_POLICY);
}
