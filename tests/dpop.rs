//! DPoP (RFC 9449): the RFC's own examples, proofs made by another JOSE implementation
//! (jsonwebtoken with its RustCrypto backend), and one refusal per check.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{path::Path, sync::Arc, time::Duration};

use aws_lc_rs::{
    rand::SystemRandom,
    signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use http::{HeaderMap, HeaderValue, Method, Uri};
use serde_json::{Value, json};
use tower_jwt_auth::{
    clock::MockClock,
    dpop::{DpopError, DpopNonces, DpopRequest, MemoryReplayCache, ProofVerifier, jwk_thumbprint},
    keys::{Algorithm, Jwk},
};

const NOW: u64 = 1_700_000_000;
const ORIGIN: &str = "https://api.example.com";

// ---------------------------------------------------------------------------------------
// RFC 9449's examples (tests/vectors/rfc9449).

fn vector(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/rfc9449")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "test vector file {} cannot be read ({e}); the vectors are part of the repository",
            path.display()
        )
    })
}

/// Undoes RFC 8792's single-backslash line wrapping: a `\` at the end of a line joins it to
/// the next, whose leading spaces are not part of the value.
fn unwrap_rfc8792(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let mut line = line.to_owned();
        while let Some(joined) = line.strip_suffix('\\').map(str::to_owned) {
            line = joined + lines.next().unwrap_or_default().trim_start();
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// The value of the `name:` line of an unwrapped example.
fn field(text: &str, name: &str) -> String {
    let prefix = format!("{name}: ");
    text.lines()
        .find_map(|l| l.trim_start().strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {name} line"))
        .to_owned()
}

/// The header and claims of a figure that shows `{header} . {claims}`.
fn figure_json(name: &str) -> (Value, Value) {
    let text = vector(name);
    let body = text.split("\n\n").next().unwrap();
    let (header, claims) = body.split_once("\n   .\n").unwrap();
    (
        serde_json::from_str(header).unwrap(),
        serde_json::from_str(claims).unwrap(),
    )
}

fn decode_part(proof: &str, index: usize) -> Value {
    let part = proof.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn rfc_jkt() -> String {
    let text = vector("figure-09-cnf-jkt-claims.txt");
    let claims: Value = serde_json::from_str(text.split("\n\n").next().unwrap()).unwrap();
    claims["cnf"]["jkt"].as_str().unwrap().to_owned()
}

fn headers_with(proof: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("DPoP", HeaderValue::from_str(proof).unwrap());
    headers
}

#[tokio::test]
async fn rfc9449_token_request_proof_verifies_at_its_time() {
    let proof = field(
        &unwrap_rfc8792(&vector("figure-02-dpop-header.txt")),
        "DPoP",
    );
    // The proof is the one Figure 4 shows decoded.
    let (header, claims) = figure_json("figure-04-dpop-proof-content.txt");
    assert_eq!(decode_part(&proof, 0), header);
    assert_eq!(decode_part(&proof, 1), claims);

    let clock = MockClock::at_secs(claims["iat"].as_u64().unwrap());
    let verifier = ProofVerifier::builder("https://server.example.com")
        .with_clock(clock.clone())
        .build()
        .unwrap();
    let headers = headers_with(&proof);
    let uri = Uri::from_static("/token");
    let request = DpopRequest::new(&Method::POST, &uri, &headers);
    let accepted = verifier.verify(&request).await.unwrap();
    // Figure 9's `cnf.jkt` is the thumbprint of this proof's key (RFC 9449 §6.1).
    assert_eq!(accepted.jkt(), rfc_jkt());
    assert_eq!(accepted.jti(), "-BwC3ESc6acc2lTc");
    assert_eq!(accepted.iat(), 1_562_262_616);

    // Accepted once.
    assert!(matches!(
        verifier.verify(&request).await,
        Err(DpopError::Replay)
    ));
    // Today, or for another method, it is refused.
    let late = ProofVerifier::builder("https://server.example.com")
        .build()
        .unwrap();
    assert!(matches!(late.check(&request), Err(DpopError::Expired)));
    let get = DpopRequest::new(&Method::GET, &uri, &headers);
    assert!(matches!(
        verifier.check(&get),
        Err(DpopError::MethodMismatch)
    ));

    // Our thumbprint of Figure 4's key is the RFC's.
    let jwk: Jwk = serde_json::from_value(header["jwk"].clone()).unwrap();
    assert_eq!(jwk_thumbprint(&jwk).unwrap(), rfc_jkt());
}

#[tokio::test]
async fn rfc9449_resource_request_proof_binds_the_access_token() {
    let request_text = unwrap_rfc8792(&vector("figure-13-protected-resource-request.txt"));
    let proof = field(&request_text, "DPoP");
    let token = field(&request_text, "Authorization")
        .strip_prefix("DPoP ")
        .unwrap()
        .to_owned();
    let (header, claims) = figure_json("figure-14-protected-resource-proof-content.txt");
    assert_eq!(decode_part(&proof, 0), header);
    assert_eq!(decode_part(&proof, 1), claims);

    let clock = MockClock::at_secs(claims["iat"].as_u64().unwrap());
    let verifier = ProofVerifier::builder("https://resource.example.org")
        .with_clock(clock.clone())
        .build()
        .unwrap();
    let headers = headers_with(&proof);
    let uri = Uri::from_static("/protectedresource");
    let with = |token| DpopRequest::new(&Method::GET, &uri, &headers).with_access_token(token);

    assert!(matches!(
        verifier.check(&with("another token")),
        Err(DpopError::AthMismatch)
    ));
    let accepted = verifier.verify(&with(&token)).await.unwrap();
    assert_eq!(accepted.jkt(), rfc_jkt());
    // The window: 60 seconds by default.
    clock.advance(Duration::from_secs(61));
    assert!(matches!(
        verifier.check(&with(&token)),
        Err(DpopError::Expired)
    ));
}

// ---------------------------------------------------------------------------------------
// Proofs made by jsonwebtoken (RustCrypto backend).

fn install_provider() {
    // Both jsonwebtoken backends are on in tests: pick one for the client side.
    let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
}

/// A client key: its jsonwebtoken signing key and algorithm.
struct Client {
    key: jsonwebtoken::EncodingKey,
    alg: jsonwebtoken::Algorithm,
    jwk: jsonwebtoken::jwk::Jwk,
}

impl Client {
    fn es256() -> Self {
        install_provider();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        Self::new(
            jsonwebtoken::EncodingKey::from_ec_der(pkcs8.as_ref()),
            jsonwebtoken::Algorithm::ES256,
        )
    }

    fn eddsa() -> Self {
        install_provider();
        // A PKCS#8 v1 Ed25519 key: the fixed prefix, then the 32-byte seed.
        let mut der = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        let mut seed = [0u8; 32];
        aws_lc_rs::rand::fill(&mut seed).unwrap();
        der.extend_from_slice(&seed);
        Self::new(
            jsonwebtoken::EncodingKey::from_ed_der(&der),
            jsonwebtoken::Algorithm::EdDSA,
        )
    }

    fn new(key: jsonwebtoken::EncodingKey, alg: jsonwebtoken::Algorithm) -> Self {
        let jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&key, alg).unwrap();
        Self { key, alg, jwk }
    }

    fn proof(&self, claims: &Value) -> String {
        let mut header = jsonwebtoken::Header::new(self.alg);
        header.typ = Some("dpop+jwt".to_owned());
        header.jwk = Some(self.jwk.clone());
        jsonwebtoken::encode(&header, claims, &self.key).unwrap()
    }

    fn jkt(&self) -> String {
        let jwk: Jwk = serde_json::from_value(serde_json::to_value(&self.jwk).unwrap()).unwrap();
        jwk_thumbprint(&jwk).unwrap()
    }
}

fn claims(jti: &str) -> Value {
    json!({ "jti": jti, "htm": "GET", "htu": "https://api.example.com/items", "iat": NOW })
}

fn verifier(clock: &MockClock) -> ProofVerifier {
    ProofVerifier::builder(ORIGIN)
        .with_clock(clock.clone())
        .build()
        .unwrap()
}

/// Checks `proof` for `GET /items` (with `token` when given).
fn check(verifier: &ProofVerifier, proof: &str, token: Option<&str>) -> Result<String, DpopError> {
    let headers = headers_with(proof);
    let uri = Uri::from_static("/items?page=2");
    let mut request = DpopRequest::new(&Method::GET, &uri, &headers);
    if let Some(token) = token {
        request = request.with_access_token(token);
    }
    verifier.check(&request).map(|p| p.jkt().to_owned())
}

fn ath(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        token.as_bytes(),
    ))
}

#[test]
fn proofs_of_another_implementation_verify_for_each_default_algorithm() {
    let clock = MockClock::at_secs(NOW);
    let verifier = verifier(&clock);
    for client in [Client::es256(), Client::eddsa()] {
        let proof = client.proof(&claims("a-unique-id"));
        assert_eq!(check(&verifier, &proof, None).unwrap(), client.jkt());

        // With an access token, `ath` is required and must be its hash.
        let mut bound = claims("another-id");
        assert!(matches!(
            check(&verifier, &client.proof(&bound), Some("the-token")),
            Err(DpopError::MissingAth)
        ));
        bound["ath"] = json!(ath("the-token"));
        let proof = client.proof(&bound);
        assert_eq!(
            check(&verifier, &proof, Some("the-token")).unwrap(),
            client.jkt()
        );
        assert!(matches!(
            check(&verifier, &proof, Some("the-other-token")),
            Err(DpopError::AthMismatch)
        ));
    }
}

#[test]
fn htu_is_compared_after_normalisation_and_without_the_query() {
    let clock = MockClock::at_secs(NOW);
    let verifier = verifier(&clock);
    let client = Client::es256();
    let mut c = claims("x");
    for same in [
        "https://API.example.com:443/items",
        "https://api.example.com/./items?page=1",
        "https://api.example.com/%69tems#top",
    ] {
        c["htu"] = json!(same);
        assert!(check(&verifier, &client.proof(&c), None).is_ok(), "{same}");
    }
    for other in [
        "http://api.example.com/items",
        "https://api.example.com:8443/items",
        "https://evil.example.com/items",
        "https://api.example.com/items/",
        "https://api.example.com/Items",
        "/items",
    ] {
        c["htu"] = json!(other);
        assert!(
            matches!(
                check(&verifier, &client.proof(&c), None),
                Err(DpopError::UriMismatch)
            ),
            "{other}"
        );
    }
    // Behind a proxy: the configured public origin counts, not the request's own.
    let public = ProofVerifier::builder("https://public.example.com:8443")
        .with_clock(clock)
        .build()
        .unwrap();
    c["htu"] = json!("https://public.example.com:8443/items");
    assert!(check(&public, &client.proof(&c), None).is_ok());
}

#[test]
fn wrong_method_time_and_missing_claims_are_refused() {
    let clock = MockClock::at_secs(NOW);
    let verifier = verifier(&clock);
    let client = Client::eddsa();
    let with = |change: &dyn Fn(&mut Value)| {
        let mut c = claims("id");
        change(&mut c);
        check(&verifier, &client.proof(&c), None)
    };
    assert!(matches!(
        with(&|c| c["htm"] = json!("POST")),
        Err(DpopError::MethodMismatch)
    ));
    assert!(matches!(
        with(&|c| c["htm"] = json!("get")),
        Err(DpopError::MethodMismatch)
    ));
    assert!(with(&|c| c["iat"] = json!(NOW - 60)).is_ok());
    assert!(matches!(
        with(&|c| c["iat"] = json!(NOW - 61)),
        Err(DpopError::Expired)
    ));
    assert!(with(&|c| c["iat"] = json!(NOW + 5)).is_ok());
    assert!(matches!(
        with(&|c| c["iat"] = json!(NOW + 6)),
        Err(DpopError::IssuedInFuture)
    ));
    for claim in ["jti", "htm", "htu", "iat"] {
        let refused = with(&|c| {
            c.as_object_mut().unwrap().remove(claim);
        });
        assert!(
            matches!(refused, Err(DpopError::MissingClaim(name)) if name == claim),
            "{claim}"
        );
    }
    assert!(matches!(
        with(&|c| c["jti"] = json!("")),
        Err(DpopError::InvalidJti)
    ));
    assert!(matches!(
        with(&|c| c["jti"] = json!("j".repeat(257))),
        Err(DpopError::InvalidJti)
    ));
}

// ---------------------------------------------------------------------------------------
// Hand-made proofs: headers no JOSE library would write.

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// A P-256 key of ours, its public JWK, and proofs signed with it whatever the header says.
struct Raw {
    pair: EcdsaKeyPair,
    jwk: Value,
}

impl Raw {
    fn new() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let point = pair.public_key().as_ref().to_vec();
        let jwk = json!({
            "kty": "EC",
            "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..]),
        });
        Self { pair, jwk }
    }

    fn header(&self) -> Value {
        json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk })
    }

    fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!("{}.{}", b64(header), b64(claims));
        let sig = self
            .pair
            .sign(&SystemRandom::new(), input.as_bytes())
            .unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }
}

#[test]
fn bad_headers_are_refused_each_for_its_reason() {
    let clock = MockClock::at_secs(NOW);
    let verifier = verifier(&clock);
    let raw = Raw::new();
    let c = claims("id");
    assert!(check(&verifier, &raw.sign(&raw.header(), &c), None).is_ok());
    let with = |change: &dyn Fn(&mut Value)| {
        let mut h = raw.header();
        change(&mut h);
        check(&verifier, &raw.sign(&h, &c), None)
    };
    for typ in [
        json!("jwt"),
        json!("DPOP+JWT"),
        json!("application/dpop+jwt"),
        Value::Null,
    ] {
        assert!(matches!(
            with(&|h| h["typ"] = typ.clone()),
            Err(DpopError::WrongType)
        ));
    }
    for alg in ["none", "HS256", "RS256", "ES384", "es256"] {
        assert!(
            matches!(
                with(&|h| h["alg"] = json!(alg)),
                Err(DpopError::UnsupportedAlgorithm)
            ),
            "{alg}"
        );
    }
    // `alg` and the key must agree.
    assert!(matches!(
        with(&|h| h["alg"] = json!("EdDSA")),
        Err(DpopError::InvalidKey(_))
    ));
    for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
        assert!(
            matches!(
                with(&|h| h["jwk"][private] = json!("AQAB")),
                Err(DpopError::PrivateKey)
            ),
            "{private}"
        );
    }
    assert!(matches!(
        with(&|h| {
            h.as_object_mut().unwrap().remove("jwk");
        }),
        Err(DpopError::MissingJwk)
    ));
    assert!(matches!(
        with(&|h| h["crit"] = json!(["exp"])),
        Err(DpopError::UnsupportedCritical)
    ));
    // Another key in the header than the one that signed.
    let other = Raw::new();
    assert!(matches!(
        with(&|h| h["jwk"] = other.jwk.clone()),
        Err(DpopError::InvalidSignature)
    ));
}

#[test]
fn hs256_and_none_proofs_are_refused_even_when_well_formed() {
    let clock = MockClock::at_secs(NOW);
    // Even a verifier told to accept every asymmetric algorithm.
    let verifier = ProofVerifier::builder(ORIGIN)
        .with_clock(clock)
        .with_algorithms([
            Algorithm::ES256,
            Algorithm::EdDSA,
            Algorithm::RS256,
            Algorithm::PS256,
        ])
        .build()
        .unwrap();
    let c = claims("id");
    let secret = [7u8; 32];
    let header = json!({
        "typ": "dpop+jwt", "alg": "HS256",
        "jwk": { "kty": "oct", "k": URL_SAFE_NO_PAD.encode(secret) },
    });
    let input = format!("{}.{}", b64(&header), b64(&c));
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &secret);
    let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    let hs256 = format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()));
    assert!(matches!(
        check(&verifier, &hs256, None),
        Err(DpopError::UnsupportedAlgorithm)
    ));

    let none = json!({ "typ": "dpop+jwt", "alg": "none", "jwk": Raw::new().jwk });
    for signature in ["", "AA"] {
        let proof = format!("{}.{}.{signature}", b64(&none), b64(&c));
        assert!(check(&verifier, &proof, None).is_err(), "{signature:?}");
    }
    let proof = format!("{}.{}.AA", b64(&none), b64(&c));
    assert!(matches!(
        check(&verifier, &proof, None),
        Err(DpopError::UnsupportedAlgorithm)
    ));
    // A symmetric algorithm cannot even be configured.
    assert!(
        ProofVerifier::builder(ORIGIN)
            .with_algorithms([Algorithm::HS256])
            .build()
            .is_err()
    );
}

#[test]
fn the_header_must_be_present_once_and_small() {
    let clock = MockClock::at_secs(NOW);
    let verifier = verifier(&clock);
    let uri = Uri::from_static("/items");
    let proof = Client::es256().proof(&claims("id"));

    let empty = HeaderMap::new();
    let request = DpopRequest::new(&Method::GET, &uri, &empty);
    assert!(matches!(
        verifier.check(&request),
        Err(DpopError::MissingProof)
    ));

    let mut twice = headers_with(&proof);
    twice.append("dpop", HeaderValue::from_str(&proof).unwrap());
    let request = DpopRequest::new(&Method::GET, &uri, &twice);
    assert!(matches!(
        verifier.check(&request),
        Err(DpopError::MultipleProofs)
    ));

    let big = format!("{proof}{}", "A".repeat(5000));
    assert!(matches!(
        check(&verifier, &big, None),
        Err(DpopError::TooLarge)
    ));
    for junk in ["a.b", "a.b.c", "....", "not base64!.x.y"] {
        assert!(
            matches!(check(&verifier, junk, None), Err(DpopError::Malformed(_))),
            "{junk}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Replay and nonces.

#[tokio::test]
async fn a_proof_is_accepted_once_and_only_after_every_check() {
    let clock = MockClock::at_secs(NOW);
    let verifier = verifier(&clock);
    let client = Client::es256();
    let mut c = claims("once");
    c["ath"] = json!(ath("token"));
    let proof = client.proof(&c);
    let headers = headers_with(&proof);
    let uri = Uri::from_static("/items");
    let request = |token| DpopRequest::new(&Method::GET, &uri, &headers).with_access_token(token);

    // A refusal for `ath` records nothing: the right request still gets through once.
    assert!(matches!(
        verifier.verify(&request("wrong")).await,
        Err(DpopError::AthMismatch)
    ));
    assert!(verifier.verify(&request("token")).await.is_ok());
    assert!(matches!(
        verifier.verify(&request("token")).await,
        Err(DpopError::Replay)
    ));
    // The same jti under another key is another proof.
    let other = Client::es256().proof(&c);
    let headers = headers_with(&other);
    let request = DpopRequest::new(&Method::GET, &uri, &headers).with_access_token("token");
    assert!(verifier.verify(&request).await.is_ok());
}

#[tokio::test]
async fn a_shared_replay_cache_refuses_a_proof_on_every_verifier() {
    let clock = MockClock::at_secs(NOW);
    let cache = Arc::new(MemoryReplayCache::new(1_000));
    let build = || {
        ProofVerifier::builder(ORIGIN)
            .with_clock(clock.clone())
            .with_replay_cache(cache.clone())
            .build()
            .unwrap()
    };
    let (one, two) = (build(), build());
    let proof = Client::eddsa().proof(&claims("shared"));
    let headers = headers_with(&proof);
    let uri = Uri::from_static("/items");
    let request = DpopRequest::new(&Method::GET, &uri, &headers);
    assert!(one.verify(&request).await.is_ok());
    assert!(matches!(two.verify(&request).await, Err(DpopError::Replay)));
}

#[tokio::test]
async fn a_full_replay_cache_fails_closed() {
    let clock = MockClock::at_secs(NOW);
    let verifier = ProofVerifier::builder(ORIGIN)
        .with_clock(clock.clone())
        .with_replay_cache(Arc::new(MemoryReplayCache::new(1)))
        .build()
        .unwrap();
    let client = Client::es256();
    let uri = Uri::from_static("/items");
    let verify = |jti: &str| {
        let headers = headers_with(&client.proof(&claims(jti)));
        let verifier = verifier.clone();
        let uri = uri.clone();
        async move {
            verifier
                .verify(&DpopRequest::new(&Method::GET, &uri, &headers))
                .await
        }
    };
    assert!(verify("first").await.is_ok());
    assert!(matches!(
        verify("second").await,
        Err(DpopError::ReplayCache(_))
    ));
}

#[test]
fn nonces_are_required_when_configured() {
    let clock = MockClock::at_secs(NOW);
    let nonces = DpopNonces::new(&[5; 32]).unwrap();
    let verifier = ProofVerifier::builder(ORIGIN)
        .with_clock(clock.clone())
        .with_nonces(nonces)
        .build()
        .unwrap();
    let client = Client::eddsa();
    let mut c = claims("n");
    let refused = check(&verifier, &client.proof(&c), None).unwrap_err();
    assert!(matches!(refused, DpopError::NonceRequired));
    assert_eq!(refused.error_code(), "use_dpop_nonce");
    c["nonce"] = json!("not-ours");
    assert!(matches!(
        check(&verifier, &client.proof(&c), None),
        Err(DpopError::NonceRequired)
    ));
    let other_server = DpopNonces::new(&[6; 32]).unwrap();
    c["nonce"] = json!(other_server.issue(NOW));
    assert!(matches!(
        check(&verifier, &client.proof(&c), None),
        Err(DpopError::NonceRequired)
    ));

    c["nonce"] = json!(verifier.nonces().unwrap().issue(NOW));
    let headers = headers_with(&client.proof(&c));
    let uri = Uri::from_static("/items");
    let request = DpopRequest::new(&Method::GET, &uri, &headers);
    assert!(!verifier.check(&request).unwrap().renew_nonce());
    // In the next step the nonce is still good, and a fresh one should be sent.
    clock.advance(Duration::from_secs(300));
    c["iat"] = json!(NOW + 300);
    let headers = headers_with(&client.proof(&c));
    let request = DpopRequest::new(&Method::GET, &uri, &headers);
    assert!(verifier.check(&request).unwrap().renew_nonce());
    clock.advance(Duration::from_secs(300));
    c["iat"] = json!(NOW + 600);
    assert!(matches!(
        check(&verifier, &client.proof(&c), None),
        Err(DpopError::NonceRequired)
    ));
}

/// Two instances on one Redis (127.0.0.1:6379, or `REDIS_ADDR`), each with its own
/// connection: a proof one accepted is a replay for the other. The test's keys expire by
/// themselves within the proof window.
#[cfg(feature = "redis")]
#[tokio::test]
async fn a_proof_accepted_by_one_instance_is_a_replay_on_another_through_redis() {
    use tower_jwt_auth::store::RedisBackend;

    let addr = std::env::var("REDIS_ADDR").unwrap_or_else(|_| "127.0.0.1:6379".into());
    let mut tag = [0u8; 8];
    aws_lc_rs::rand::fill(&mut tag).unwrap();
    let prefix = format!(
        "dpop-test-{}",
        URL_SAFE_NO_PAD.encode(tag).replace(['-', '_'], "x")
    );
    let clock = MockClock::at_secs(NOW);
    let mut verifiers = Vec::new();
    for _ in 0..2 {
        let backend = RedisBackend::builder(format!("redis://{addr}/"))
            .with_prefix(&prefix)
            .build()
            .await
            .unwrap();
        verifiers.push(
            ProofVerifier::builder(ORIGIN)
                .with_clock(clock.clone())
                .with_replay_cache(Arc::new(backend))
                .build()
                .unwrap(),
        );
    }
    let client = Client::es256();
    let uri = Uri::from_static("/items");
    let headers = headers_with(&client.proof(&claims("across-instances")));
    let request = DpopRequest::new(&Method::GET, &uri, &headers);
    assert!(verifiers[0].verify(&request).await.is_ok());
    assert!(matches!(
        verifiers[1].verify(&request).await,
        Err(DpopError::Replay)
    ));
    assert!(matches!(
        verifiers[0].verify(&request).await,
        Err(DpopError::Replay)
    ));
    // Another proof of the same client is accepted.
    let headers = headers_with(&client.proof(&claims("another")));
    let request = DpopRequest::new(&Method::GET, &uri, &headers);
    assert!(verifiers[1].verify(&request).await.is_ok());
}
