//! DPoP (RFC 9449) through the quickstart: a login with a proof gets a bound pair, whose
//! refresh needs a proof of the same key.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::{sync::Arc, time::Duration};

use quickstart::{Config, app, serve};
use reqwest::StatusCode;
use ring::{
    rand::{SecureRandom, SystemRandom},
    signature::{Ed25519KeyPair, KeyPair},
};
use serde_json::{Value, json};
use support::{T0, b64, jws_part};
use tokio::net::TcpListener;
use tower_jwt_auth::clock::MockClock;

const PASSWORD: &str = "correct horse battery";

/// A client's Ed25519 key, signing DPoP proofs.
struct Client {
    key: Ed25519KeyPair,
}

impl Client {
    fn new() -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        Self {
            key: Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap(),
        }
    }

    /// A proof for `POST {url}`, issued at the server's mock time.
    fn proof(&self, url: &str) -> String {
        let jwk = json!({ "kty": "OKP", "crv": "Ed25519", "x": b64(self.key.public_key()) });
        let header = json!({ "typ": "dpop+jwt", "alg": "EdDSA", "jwk": jwk });
        let mut jti = [0u8; 16];
        SystemRandom::new().fill(&mut jti).unwrap();
        let claims = json!({ "jti": b64(jti), "htm": "POST", "htu": url, "iat": T0 });
        let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        let signature = self.key.sign(input.as_bytes());
        format!("{input}.{}", b64(signature))
    }
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    body: &Value,
    proof: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = http.post(url).json(body);
    if let Some(proof) = proof {
        request = request.header("dpop", proof);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn a_login_with_a_proof_is_bound_and_refreshes_only_with_its_key() {
    let clock = MockClock::at_secs(T0);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let config = Config {
        clock: Some(Arc::new(clock)),
        hash_queue: Duration::from_secs(10),
        addr: listener.local_addr().unwrap().to_string(),
        ..Config::default()
    };
    tokio::spawn(serve(
        listener,
        app(&config).unwrap(),
        std::future::pending(),
    ));
    let http = reqwest::Client::new();
    let (client, other) = (Client::new(), Client::new());
    let credentials = json!({ "username": "dora", "password": PASSWORD });

    // Signup without a proof: bearer tokens, as before.
    let url = format!("{base}/auth/signup");
    let (status, pair) = post(&http, &url, &credentials, None).await;
    assert_eq!(status, StatusCode::CREATED, "{pair}");
    assert_eq!(pair["token_type"], "Bearer");

    // A bad proof is refused before the password is looked at.
    let url = format!("{base}/auth/login");
    let (status, body) = post(&http, &url, &credentials, Some("not-a-proof")).await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_dpop_proof"))
    );

    let (status, pair) = post(&http, &url, &credentials, Some(&client.proof(&url))).await;
    assert_eq!(status, StatusCode::OK, "{pair}");
    assert_eq!(pair["token_type"], "DPoP");
    let access = pair["access_token"].as_str().unwrap();
    assert!(jws_part(access, 1)["cnf"]["jkt"].is_string());
    let refresh = json!({ "refresh_token": pair["refresh_token"] });

    let url = format!("{base}/auth/refresh");
    let (status, body) = post(&http, &url, &refresh, None).await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_grant"))
    );
    let (status, body) = post(&http, &url, &refresh, Some(&other.proof(&url))).await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_grant"))
    );

    // Neither used the token up: the right key refreshes it, and the pair stays bound.
    let (status, next) = post(&http, &url, &refresh, Some(&client.proof(&url))).await;
    assert_eq!(status, StatusCode::OK, "{next}");
    assert_eq!(next["token_type"], "DPoP");
    assert_eq!(
        jws_part(next["access_token"].as_str().unwrap(), 1)["cnf"],
        jws_part(access, 1)["cnf"]
    );
}
