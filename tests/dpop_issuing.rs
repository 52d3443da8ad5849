//! DPoP on the issuing side (RFC 9449 §5): a login with a proof binds the session, a bound
//! session refreshes only with a proof of its key, the `Required` policy, and the refresh
//! endpoint's answers. Proofs are made by another JOSE implementation (jsonwebtoken with its
//! RustCrypto backend).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use aws_lc_rs::{
    rand::SystemRandom,
    signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair},
};
use axum::Router;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};
use tower::ServiceExt;
use tower_jwt_auth::{
    BearerAuthLayer, Issuer, KeySet, Sessions, SigningKey, TokenPair,
    clock::MockClock,
    dpop::{DpopNonces, DpopPolicy, DpopProof, DpopRequest, ProofVerifier, jwk_thumbprint},
    endpoints::{ErrorResponse, RefreshService},
    keys::Jwk,
    session::{Login, RefreshError, StartError},
    token::{NoCustomClaims, TokenKind},
    token_routes,
};

const NOW: u64 = 1_700_000_000;
const ORIGIN: &str = "https://auth.example.com";

/// A client key: its jsonwebtoken signing key and public JWK.
struct Client {
    key: jsonwebtoken::EncodingKey,
    jwk: jsonwebtoken::jwk::Jwk,
}

impl Client {
    fn new() -> Self {
        // Both jsonwebtoken backends are on in tests: pick one for the client side.
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        let key = jsonwebtoken::EncodingKey::from_ec_der(pkcs8.as_ref());
        let jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&key, jsonwebtoken::Algorithm::ES256)
            .unwrap();
        Self { key, jwk }
    }

    /// A proof for `htm` `htu`, issued at `iat`, with a server nonce when given.
    fn proof_at(&self, htm: &str, htu: &str, iat: u64, nonce: Option<&str>) -> String {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.typ = Some("dpop+jwt".to_owned());
        header.jwk = Some(self.jwk.clone());
        let mut claims = json!({
            "jti": random_jti(),
            "htm": htm,
            "htu": htu,
            "iat": iat,
        });
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        jsonwebtoken::encode(&header, &claims, &self.key).unwrap()
    }

    /// A proof for `POST {ORIGIN}{path}` now.
    fn post(&self, path: &str) -> String {
        self.proof_at("POST", &format!("{ORIGIN}{path}"), NOW, None)
    }

    fn jkt(&self) -> String {
        let jwk: Jwk = serde_json::from_value(serde_json::to_value(&self.jwk).unwrap()).unwrap();
        jwk_thumbprint(&jwk).unwrap()
    }
}

fn random_jti() -> String {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

struct Setup {
    clock: MockClock,
    issuer: Issuer,
    sessions: Sessions,
    verifier: ProofVerifier,
}

fn setup(policy: DpopPolicy, nonces: bool) -> Setup {
    let clock = MockClock::at_secs(NOW);
    let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519().unwrap()))
        .with_clock(clock.clone())
        .build()
        .unwrap();
    let sessions = Sessions::builder(issuer.clone())
        .with_dpop(policy)
        .build()
        .unwrap();
    let mut verifier = ProofVerifier::builder(ORIGIN).with_clock(clock.clone());
    if nonces {
        verifier = verifier.with_nonces(DpopNonces::new(&[9; 32]).unwrap());
    }
    Setup {
        clock,
        issuer,
        sessions,
        verifier: verifier.build().unwrap(),
    }
}

impl Setup {
    /// The verified proof of a `POST /auth/login` carrying `proof`.
    async fn login_proof(&self, proof: &str) -> DpopProof {
        let headers = dpop_headers(&[proof]);
        let uri = Uri::from_static("/auth/login");
        self.verifier
            .verify(&DpopRequest::new(&Method::POST, &uri, &headers))
            .await
            .unwrap()
    }

    /// A session of alice bound to `client`'s key.
    async fn bound_login(&self, client: &Client) -> TokenPair {
        let proof = self.login_proof(&client.post("/auth/login")).await;
        self.sessions
            .start_with(Login::new("alice").with_dpop(&proof))
            .await
            .unwrap()
    }

    /// The verified proof of a `POST /auth/refresh` by `client`.
    async fn refresh_proof(&self, client: &Client) -> DpopProof {
        let headers = dpop_headers(&[&client.post("/auth/refresh")]);
        let uri = Uri::from_static("/auth/refresh");
        self.verifier
            .verify(&DpopRequest::new(&Method::POST, &uri, &headers))
            .await
            .unwrap()
    }

    fn jkts(&self, pair: &TokenPair) -> (Option<String>, Option<String>) {
        let verifier = self.issuer.verifier();
        let access = verifier
            .verify::<NoCustomClaims>(pair.access_token(), TokenKind::Access)
            .unwrap();
        let refresh = verifier
            .verify::<NoCustomClaims>(pair.refresh_token(), TokenKind::Refresh)
            .unwrap();
        (access.cnf.map(|c| c.jkt), refresh.cnf.map(|c| c.jkt))
    }
}

fn dpop_headers(proofs: &[&str]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for proof in proofs {
        headers.append("dpop", HeaderValue::from_str(proof).unwrap());
    }
    headers
}

// ---------------------------------------------------------------------------------------
// Sessions.

#[tokio::test]
async fn a_login_with_a_proof_binds_both_tokens_to_its_key() {
    let setup = setup(DpopPolicy::Optional, false);
    let client = Client::new();
    let pair = setup.bound_login(&client).await;
    assert_eq!(pair.token_type(), "DPoP");
    assert_eq!(serde_json::to_value(&pair).unwrap()["token_type"], "DPoP");
    let jkt = Some(client.jkt());
    assert_eq!(setup.jkts(&pair), (jkt.clone(), jkt));

    // Without a proof, the default policy hands out bearer tokens.
    let bearer = setup.sessions.start("bob").await.unwrap();
    assert_eq!(bearer.token_type(), "Bearer");
    assert_eq!(setup.jkts(&bearer), (None, None));
}

#[tokio::test]
async fn a_bound_session_refreshes_with_its_key_and_stays_bound() {
    let setup = setup(DpopPolicy::Optional, false);
    let client = Client::new();
    let pair = setup.bound_login(&client).await;
    let proof = setup.refresh_proof(&client).await;
    let next = setup
        .sessions
        .refresh_with_proof(pair.refresh_token(), Some(&proof))
        .await
        .unwrap();
    assert_eq!(next.token_type(), "DPoP");
    let jkt = Some(client.jkt());
    assert_eq!(setup.jkts(&next), (jkt.clone(), jkt));
}

#[tokio::test]
async fn another_key_or_no_proof_is_invalid_grant_and_leaves_the_session_alone() {
    let setup = setup(DpopPolicy::Optional, false);
    let (client, thief) = (Client::new(), Client::new());
    let pair = setup.bound_login(&client).await;

    let stolen = setup.refresh_proof(&thief).await;
    let refused = setup
        .sessions
        .refresh_with_proof(pair.refresh_token(), Some(&stolen))
        .await
        .unwrap_err();
    assert!(
        matches!(refused, RefreshError::DpopKeyMismatch),
        "{refused:?}"
    );
    assert!(refused.is_invalid_grant());
    let refused = setup
        .sessions
        .refresh(pair.refresh_token())
        .await
        .unwrap_err();
    assert!(
        matches!(refused, RefreshError::DpopKeyMismatch),
        "{refused:?}"
    );
    assert_eq!(ErrorResponse::from(refused).error(), "invalid_grant");

    // Nothing was rotated or revoked: the access token still verifies and the same refresh
    // token still works with the right key.
    assert!(
        setup
            .issuer
            .verifier()
            .verify_access::<NoCustomClaims>(pair.access_token())
            .is_ok()
    );
    let proof = setup.refresh_proof(&client).await;
    let next = setup
        .sessions
        .refresh_with_proof(pair.refresh_token(), Some(&proof))
        .await
        .unwrap();
    assert_eq!(next.token_type(), "DPoP");
}

#[tokio::test]
async fn a_bearer_session_refreshed_with_a_proof_stays_bearer() {
    let setup = setup(DpopPolicy::Optional, false);
    let pair = setup.sessions.start("alice").await.unwrap();
    let proof = setup.refresh_proof(&Client::new()).await;
    let next = setup
        .sessions
        .refresh_with_proof(pair.refresh_token(), Some(&proof))
        .await
        .unwrap();
    assert_eq!(next.token_type(), "Bearer");
    assert_eq!(setup.jkts(&next), (None, None));
}

#[tokio::test]
async fn the_required_policy_refuses_a_login_or_refresh_without_a_proof() {
    let setup = setup(DpopPolicy::Required, false);
    let refused = setup.sessions.start("alice").await.unwrap_err();
    assert!(matches!(refused, StartError::DpopRequired), "{refused:?}");
    let answer = ErrorResponse::from(refused);
    assert_eq!(
        (answer.status(), answer.error()),
        (StatusCode::BAD_REQUEST, "invalid_dpop_proof")
    );
    let refused = setup
        .sessions
        .start_with(Login::new("alice").with_label("phone"))
        .await
        .unwrap_err();
    assert!(matches!(refused, StartError::DpopRequired), "{refused:?}");

    let client = Client::new();
    let pair = setup.bound_login(&client).await;
    let refused = setup
        .sessions
        .refresh(pair.refresh_token())
        .await
        .unwrap_err();
    assert!(matches!(refused, RefreshError::DpopRequired), "{refused:?}");
    assert_eq!(ErrorResponse::from(refused).error(), "invalid_dpop_proof");
    // The token was not used up.
    let proof = setup.refresh_proof(&client).await;
    assert!(
        setup
            .sessions
            .refresh_with_proof(pair.refresh_token(), Some(&proof))
            .await
            .is_ok()
    );
}

// ---------------------------------------------------------------------------------------
// The refresh endpoint.

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

async fn post_refresh<S, B>(service: S, path: &str, refresh_token: &str, proofs: &[&str]) -> Answer
where
    S: tower::Service<
            Request<Full<Bytes>>,
            Response = http::Response<B>,
            Error = std::convert::Infallible,
        >,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let mut request = Request::post(path).header("content-type", "application/json");
    for proof in proofs {
        request = request.header("dpop", *proof);
    }
    let body = json!({ "refresh_token": refresh_token }).to_string();
    let response = service
        .oneshot(request.body(Full::from(body)).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: serde_json::from_slice(&bytes).unwrap(),
    }
}

fn refused(answer: &Answer, error: &str) {
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
    assert_eq!(answer.body["error"], error, "{}", answer.body);
    assert!(answer.body["error_description"].is_string());
    assert_eq!(answer.headers["cache-control"], "no-store");
}

#[tokio::test]
async fn the_endpoint_refreshes_a_bound_session_with_a_proof_of_its_key_only() {
    let setup = setup(DpopPolicy::Optional, false);
    let service = RefreshService::new(setup.sessions.clone()).with_dpop(setup.verifier.clone());
    let (client, thief) = (Client::new(), Client::new());
    let pair = setup.bound_login(&client).await;
    let token = pair.refresh_token();

    let answer = post_refresh(service.clone(), "/auth/refresh", token, &[]).await;
    refused(&answer, "invalid_grant");
    let proof = thief.post("/auth/refresh");
    let answer = post_refresh(service.clone(), "/auth/refresh", token, &[&proof]).await;
    refused(&answer, "invalid_grant");

    let proof = client.post("/auth/refresh");
    let answer = post_refresh(service.clone(), "/auth/refresh", token, &[&proof]).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["token_type"], "DPoP");
    assert_eq!(answer.headers["cache-control"], "no-store");
    assert!(answer.headers.get("dpop-nonce").is_none());

    // The same proof again is a replay, refused before the session is touched.
    let next = answer.body["refresh_token"].as_str().unwrap().to_owned();
    let answer = post_refresh(service.clone(), "/auth/refresh", &next, &[&proof]).await;
    refused(&answer, "invalid_dpop_proof");
    let fresh = client.post("/auth/refresh");
    let answer = post_refresh(service, "/auth/refresh", &next, &[&fresh]).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
}

#[tokio::test]
async fn bad_proofs_are_invalid_dpop_proof_and_leave_the_session_alone() {
    let setup = setup(DpopPolicy::Optional, false);
    let service = RefreshService::new(setup.sessions.clone()).with_dpop(setup.verifier.clone());
    let client = Client::new();
    let pair = setup.bound_login(&client).await;
    let token = pair.refresh_token();

    let wrong_method = client.proof_at("GET", &format!("{ORIGIN}/auth/refresh"), NOW, None);
    let wrong_uri = client.post("/auth/login");
    let other_origin = client.proof_at("POST", "https://evil.example.com/auth/refresh", NOW, None);
    let too_old = client.proof_at("POST", &format!("{ORIGIN}/auth/refresh"), NOW - 600, None);
    for bad in [
        "not-a-proof",
        wrong_method.as_str(),
        wrong_uri.as_str(),
        other_origin.as_str(),
        too_old.as_str(),
    ] {
        let answer = post_refresh(service.clone(), "/auth/refresh", token, &[bad]).await;
        refused(&answer, "invalid_dpop_proof");
    }
    // Two DPoP headers, even both valid.
    let (one, two) = (client.post("/auth/refresh"), client.post("/auth/refresh"));
    let answer = post_refresh(service.clone(), "/auth/refresh", token, &[&one, &two]).await;
    refused(&answer, "invalid_dpop_proof");

    // None of them used the refresh token up.
    let proof = client.post("/auth/refresh");
    let answer = post_refresh(service, "/auth/refresh", token, &[&proof]).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
}

#[tokio::test]
async fn a_nonce_is_handed_out_then_accepted_and_renewed() {
    let setup = setup(DpopPolicy::Optional, true);
    let service = RefreshService::new(setup.sessions.clone()).with_dpop(setup.verifier.clone());
    let client = Client::new();
    // The login took a nonce, as the endpoint would have asked.
    let nonce = setup.verifier.fresh_nonce().unwrap();
    let htu = format!("{ORIGIN}/auth/login");
    let pair = {
        let proof = client.proof_at("POST", &htu, NOW, Some(&nonce));
        let proof = setup.login_proof(&proof).await;
        setup
            .sessions
            .start_with(Login::new("alice").with_dpop(&proof))
            .await
            .unwrap()
    };
    let token = pair.refresh_token();
    let htu = format!("{ORIGIN}/auth/refresh");

    let without = client.proof_at("POST", &htu, NOW, None);
    let answer = post_refresh(service.clone(), "/auth/refresh", token, &[&without]).await;
    refused(&answer, "use_dpop_nonce");
    let nonce = answer.headers["dpop-nonce"].to_str().unwrap().to_owned();

    let with = client.proof_at("POST", &htu, NOW, Some(&nonce));
    let answer = post_refresh(service.clone(), "/auth/refresh", token, &[&with]).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["token_type"], "DPoP");
    assert!(
        answer.headers.get("dpop-nonce").is_none(),
        "the nonce is current"
    );

    // One step later the nonce is still accepted, and the answer brings the next one.
    setup.clock.advance(Duration::from_secs(300));
    let next = answer.body["refresh_token"].as_str().unwrap().to_owned();
    let later = client.proof_at("POST", &htu, NOW + 300, Some(&nonce));
    let answer = post_refresh(service, "/auth/refresh", &next, &[&later]).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let renewed = answer.headers["dpop-nonce"].to_str().unwrap();
    assert_ne!(renewed, nonce);
    assert!(DpopNonces::new(&[9; 32]).unwrap().check(renewed, NOW + 300));
}

#[tokio::test]
async fn nested_token_routes_check_the_htu_the_client_sent() {
    let setup = setup(DpopPolicy::Optional, false);
    // The layer's DPoP verifier is the refresh route's too.
    let auth =
        BearerAuthLayer::new(&setup.issuer).with_dpop(setup.verifier.clone(), DpopPolicy::Optional);
    let app: Router = Router::new().nest("/auth", token_routes(setup.sessions.clone(), &auth));
    let client = Client::new();
    let pair = setup.bound_login(&client).await;

    // The proof names /auth/refresh, not the path the nested router sees.
    let stripped = client.post("/refresh");
    let answer = post_refresh(
        app.clone(),
        "/auth/refresh",
        pair.refresh_token(),
        &[&stripped],
    )
    .await;
    refused(&answer, "invalid_dpop_proof");
    let proof = client.post("/auth/refresh");
    let answer = post_refresh(app, "/auth/refresh", pair.refresh_token(), &[&proof]).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["token_type"], "DPoP");
}
