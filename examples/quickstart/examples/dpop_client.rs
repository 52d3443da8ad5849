//! A DPoP client (RFC 9449) of the quickstart: it holds a P-256 key that never leaves it,
//! proves possession of it with a fresh signed proof on every request, and so gets tokens
//! that are useless to anyone without the key.
//!
//! ```sh
//! cargo run -p quickstart                          # the server, on 127.0.0.1:3000
//! cargo run -p quickstart --example dpop_client    # signs up, calls /me, refreshes
//! ```
//!
//! `SERVER_URL` (default `http://127.0.0.1:3000`) names the server. The proofs are made with
//! jsonwebtoken (its RustCrypto backend) and ring, not with tower-jwt-auth: any JOSE library that signs ES256 and
//! writes a `jwk` header does.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header, jwk::Jwk};
use reqwest::{Method, Response, StatusCode};
use ring::{
    digest::{SHA256, digest},
    rand::{SecureRandom, SystemRandom},
    signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair},
};
use serde_json::{Value, json};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The client's key and the server's latest nonce.
pub(crate) struct DpopClient {
    http: reqwest::Client,
    key: EncodingKey,
    jwk: Jwk,
    rng: SystemRandom,
    nonce: Option<String>,
}

impl DpopClient {
    /// A client with a new P-256 key.
    pub(crate) fn new() -> Result<Self, Error> {
        // Where another build turns on jsonwebtoken's second backend too, pick this one.
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| "cannot generate a key")?;
        let key = EncodingKey::from_ec_der(pkcs8.as_ref());
        let jwk = Jwk::from_encoding_key(&key, Algorithm::ES256)?;
        Ok(Self {
            http: reqwest::Client::new(),
            key,
            jwk,
            rng,
            nonce: None,
        })
    }

    /// A proof for `method` on `url`: a JWT signed by the client's key, with the public key in
    /// its header, bound to `access_token` (`ath`) when one is sent.
    pub(crate) fn proof(
        &self,
        method: &Method,
        url: &str,
        access_token: Option<&str>,
    ) -> Result<String, Error> {
        let mut jti = [0u8; 16];
        self.rng.fill(&mut jti).map_err(|_| "no randomness")?;
        let mut claims = json!({
            "jti": URL_SAFE_NO_PAD.encode(jti),
            "htm": method.as_str(),
            "htu": url.split(['?', '#']).next().unwrap_or(url), // no query or fragment
            "iat": SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs(),
        });
        if let Some(token) = access_token {
            claims["ath"] = URL_SAFE_NO_PAD
                .encode(digest(&SHA256, token.as_bytes()))
                .into();
        }
        if let Some(nonce) = &self.nonce {
            claims["nonce"] = nonce.clone().into();
        }
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("dpop+jwt".to_owned());
        header.jwk = Some(self.jwk.clone()); // the public key
        Ok(jsonwebtoken::encode(&header, &claims, &self.key)?)
    }

    /// Sends `method url` with a fresh proof (and `Authorization: DPoP` when `access_token` is
    /// given); when the server asks for a nonce (`use_dpop_nonce`), once more with it.
    pub(crate) async fn send(
        &mut self,
        method: Method,
        url: &str,
        access_token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Response, Error> {
        let mut retried = false;
        loop {
            let mut request = self
                .http
                .request(method.clone(), url)
                .header("DPoP", self.proof(&method, url, access_token)?);
            if let Some(token) = access_token {
                request = request.header("Authorization", format!("DPoP {token}"));
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request.send().await?;
            if let Some(nonce) = response.headers().get("DPoP-Nonce") {
                self.nonce = Some(nonce.to_str()?.to_owned());
            }
            let asks_nonce = matches!(
                response.status(),
                StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED
            ) && response.headers().contains_key("DPoP-Nonce")
                && !retried;
            if !asks_nonce {
                return Ok(response);
            }
            retried = true;
        }
    }
}

/// Signs `username` up at `server`, calls `/me` with the bound access token, refreshes, and
/// calls `/me` again with the new one; the answers' statuses and token types, in order.
pub(crate) async fn run(server: &str, username: &str) -> Result<Vec<String>, Error> {
    let mut client = DpopClient::new()?;
    let mut steps = Vec::new();
    let credentials = json!({"username": username, "password": "correct horse battery"});
    let pair: Value = client
        .send(
            Method::POST,
            &format!("{server}/auth/signup"),
            None,
            Some(&credentials),
        )
        .await?
        .error_for_status()?
        .json()
        .await?;
    steps.push(format!("signup: token_type {}", pair["token_type"]));
    let access = pair["access_token"].as_str().ok_or("no access token")?;
    let me = client
        .send(Method::GET, &format!("{server}/me"), Some(access), None)
        .await?;
    steps.push(format!("/me: {}", me.status()));
    let refresh = json!({"refresh_token": pair["refresh_token"]});
    let next: Value = client
        .send(
            Method::POST,
            &format!("{server}/auth/refresh"),
            None,
            Some(&refresh),
        )
        .await?
        .error_for_status()?
        .json()
        .await?;
    steps.push(format!("refresh: token_type {}", next["token_type"]));
    let access = next["access_token"].as_str().ok_or("no access token")?;
    let me = client
        .send(Method::GET, &format!("{server}/me"), Some(access), None)
        .await?;
    steps.push(format!("/me: {}", me.status()));
    Ok(steps)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let server = std::env::var("SERVER_URL").unwrap_or_else(|_| "http://127.0.0.1:3000".into());
    let mut id = [0u8; 6];
    SystemRandom::new()
        .fill(&mut id)
        .map_err(|_| "no randomness")?;
    let username = format!("dpop-{}", URL_SAFE_NO_PAD.encode(id).to_lowercase());
    for step in run(&server, &username).await? {
        println!("{step}");
    }
    Ok(())
}
