//! [`ProofVerifier`]: the checks of RFC 9449 §4.3 on one request's DPoP proof.

use std::{fmt, sync::Arc, time::Duration};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use subtle::ConstantTimeEq;

use super::{
    DpopConfigError, DpopError, DpopNonces, DpopProof, MemoryReplayCache, ReplayCache, ReplayKey,
    htu::{normal_htu, normal_origin, push_normal_path},
    jwk_thumbprint,
    proof::{ProofClaims, ProofHeader},
};
use crate::{
    clock::{Clock, SystemClock},
    crypto::digest,
    keys::{Algorithm, VerifyingKey},
    token::jws::{Compact, decode_into},
};

/// The `DPoP-Nonce` response header (RFC 9449 §8).
pub(crate) const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// The `typ` of a DPoP proof.
const DPOP_TYP: &str = "dpop+jwt";
/// Largest decoded header: room for an RSA-8192 `jwk`.
const HEADER_MAX: usize = 2048;
/// Largest signature: RSA-8192.
const SIGNATURE_MAX: usize = 1024;
/// Largest decoded claims set.
const CLAIMS_MAX: usize = 2048;

/// One request, as the proof is checked against it.
///
/// ```
/// use http::{HeaderMap, Method, Uri};
/// use tower_jwt_auth::dpop::DpopRequest;
///
/// let headers = HeaderMap::new();
/// let uri = Uri::from_static("/api/items?page=2");
/// let request = DpopRequest::new(&Method::GET, &uri, &headers).with_access_token("at");
/// # let _ = request;
/// ```
#[derive(Clone, Copy)]
pub struct DpopRequest<'a> {
    method: &'a Method,
    uri: &'a Uri,
    headers: &'a HeaderMap,
    access_token: Option<&'a str>,
}

impl fmt::Debug for DpopRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopRequest")
            .field("method", self.method)
            .field("path", &self.uri.path())
            .field(
                "access_token",
                &self.access_token.map(|_| crate::redact::Redacted),
            )
            .finish_non_exhaustive()
    }
}

impl<'a> DpopRequest<'a> {
    /// The request's method, URI (its path is what counts: the origin is the verifier's)
    /// and headers (where the `DPoP` header is read).
    ///
    /// ```
    /// use http::{HeaderMap, Method, Uri};
    /// use tower_jwt_auth::dpop::DpopRequest;
    ///
    /// let (headers, uri) = (HeaderMap::new(), Uri::from_static("/token"));
    /// let _ = DpopRequest::new(&Method::POST, &uri, &headers);
    /// ```
    pub fn new(method: &'a Method, uri: &'a Uri, headers: &'a HeaderMap) -> Self {
        Self {
            method,
            uri,
            headers,
            access_token: None,
        }
    }

    /// The access token presented with the proof (at a protected resource): the proof must
    /// then carry its hash, `ath`.
    ///
    /// ```
    /// use http::{HeaderMap, Method, Uri};
    /// use tower_jwt_auth::dpop::DpopRequest;
    ///
    /// let (headers, uri) = (HeaderMap::new(), Uri::from_static("/items"));
    /// let _ = DpopRequest::new(&Method::GET, &uri, &headers).with_access_token("token");
    /// ```
    pub fn with_access_token(mut self, token: &'a str) -> Self {
        self.access_token = Some(token);
        self
    }
}

/// Checks the DPoP proof (RFC 9449 §4.3) of a request, then records it in a replay cache.
///
/// The checks, each with its own [`DpopError`]: exactly one `DPoP` header, within the size
/// cap; a compact JWS whose `typ` is exactly `dpop+jwt`, without `crit`; an `alg` of the
/// allow-list (asymmetric only: `ES256` and `EdDSA` by default); a public `jwk` of that
/// algorithm, under which the signature verifies; a `jti` of at most 256 bytes; `htm` equal to
/// the method; `htu` equal to the verifier's origin and the request's path, both normalised
/// (RFC 3986 §6.2.2 and §6.2.3; query and fragment ignored); `iat` within the window on the
/// verifier's clock; `ath` equal to the hash of the access token when one is given; a fresh
/// server nonce when [nonces](ProofVerifierBuilder::with_nonces) are required. Only then is the
/// (`jkt`, `jti`) pair recorded: a second use within its window is a
/// [`Replay`](DpopError::Replay).
///
/// The proof is never logged, and no error carries it.
///
/// ```
/// use std::time::Duration;
/// use tower_jwt_auth::dpop::ProofVerifier;
///
/// let verifier = ProofVerifier::builder("https://api.example.com")
///     .with_max_age(Duration::from_secs(30))
///     .build()?;
/// # let _ = verifier;
/// # Ok::<(), tower_jwt_auth::dpop::DpopConfigError>(())
/// ```
#[derive(Clone)]
pub struct ProofVerifier {
    origin: Arc<str>,
    algorithms: Arc<[Algorithm]>,
    max_age: u64,
    future_skew: u64,
    max_len: usize,
    clock: Arc<dyn Clock>,
    nonces: Option<DpopNonces>,
    replay: Arc<dyn ReplayCache>,
}

impl fmt::Debug for ProofVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProofVerifier")
            .field("origin", &self.origin)
            .field("algorithms", &self.algorithms)
            .field("max_age_secs", &self.max_age)
            .field("future_skew_secs", &self.future_skew)
            .field("max_len", &self.max_len)
            .field("nonces", &self.nonces)
            .field("replay", &self.replay)
            .finish_non_exhaustive()
    }
}

/// Configures a [`ProofVerifier`]; [`build`](Self::build) checks the settings.
#[must_use]
pub struct ProofVerifierBuilder {
    origin: Result<String, DpopConfigError>,
    algorithms: Vec<Algorithm>,
    max_age: Duration,
    future_skew: Duration,
    max_len: usize,
    clock: Arc<dyn Clock>,
    nonces: Option<DpopNonces>,
    replay: Option<Arc<dyn ReplayCache>>,
}

impl fmt::Debug for ProofVerifierBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProofVerifierBuilder")
            .field("origin", &self.origin)
            .field("algorithms", &self.algorithms)
            .finish_non_exhaustive()
    }
}

impl ProofVerifier {
    /// A builder for a verifier of the requests made to `origin`: the public
    /// `scheme://host[:port]` clients send their requests to (behind a proxy, the proxy's),
    /// against which each proof's `htu` is compared. It is fixed, never read from the
    /// request's `Host` header.
    ///
    /// ```
    /// use tower_jwt_auth::dpop::ProofVerifier;
    ///
    /// assert!(ProofVerifier::builder("https://api.example.com:8443").build().is_ok());
    /// assert!(ProofVerifier::builder("https://api.example.com/path").build().is_err());
    /// ```
    pub fn builder(origin: &str) -> ProofVerifierBuilder {
        ProofVerifierBuilder {
            origin: parse_origin(origin),
            algorithms: vec![Algorithm::ES256, Algorithm::EdDSA],
            max_age: Duration::from_secs(60),
            future_skew: Duration::from_secs(5),
            max_len: 4096,
            clock: Arc::new(SystemClock),
            nonces: None,
            replay: None,
        }
    }

    /// Every check but the replay one: what the proof tells, or why it is refused. Nothing is
    /// recorded, so a proof that passes here can be passed again: use
    /// [`verify`](Self::verify) to accept a request.
    ///
    /// ```
    /// use http::{HeaderMap, Method, Uri};
    /// use tower_jwt_auth::dpop::{DpopError, DpopRequest, ProofVerifier};
    ///
    /// let verifier = ProofVerifier::builder("https://api.example.com").build()?;
    /// let (headers, uri) = (HeaderMap::new(), Uri::from_static("/items"));
    /// let request = DpopRequest::new(&Method::GET, &uri, &headers);
    /// assert!(matches!(verifier.check(&request), Err(DpopError::MissingProof)));
    /// # Ok::<(), tower_jwt_auth::dpop::DpopConfigError>(())
    /// ```
    pub fn check(&self, request: &DpopRequest<'_>) -> Result<DpopProof, DpopError> {
        let now = self.clock.now_secs();
        let proof = single_header(request.headers)?;
        if proof.len() > self.max_len {
            return Err(DpopError::TooLarge);
        }
        let compact =
            Compact::split(proof).map_err(|_| DpopError::Malformed("not a compact JWS"))?;

        let mut header_buf = [0u8; HEADER_MAX];
        let header_bytes = decode_into(compact.header, &mut header_buf, "")
            .map_err(|_| DpopError::Malformed("the header is not base64url or too large"))?;
        let header: ProofHeader<'_> = serde_json::from_slice(header_bytes)
            .map_err(|_| DpopError::Malformed("the header is not a valid JSON object"))?;
        if header.crit {
            return Err(DpopError::UnsupportedCritical);
        }
        if header.typ.as_deref() != Some(DPOP_TYP) {
            return Err(DpopError::WrongType);
        }
        let algorithm = header
            .alg
            .as_deref()
            .and_then(|alg| self.algorithms.iter().find(|a| a.as_str() == alg))
            .copied()
            .ok_or(DpopError::UnsupportedAlgorithm)?;
        let jwk = header.jwk.ok_or(DpopError::MissingJwk)?;
        if jwk.has_private_member() {
            return Err(DpopError::PrivateKey);
        }
        let jwk = jwk.into_jwk();
        let key = VerifyingKey::from_jwk(&jwk, algorithm).map_err(DpopError::InvalidKey)?;

        let mut signature_buf = [0u8; SIGNATURE_MAX];
        let signature = decode_into(compact.signature, &mut signature_buf, "")
            .map_err(|_| DpopError::Malformed("the signature is not base64url or too large"))?;
        if !key.verify(compact.signing_input.as_bytes(), signature) {
            return Err(DpopError::InvalidSignature);
        }

        let mut claims_buf = [0u8; CLAIMS_MAX];
        let claims_bytes = decode_into(compact.payload, &mut claims_buf, "")
            .map_err(|_| DpopError::Malformed("the claims are not base64url or too large"))?;
        let claims: ProofClaims<'_> = serde_json::from_slice(claims_bytes)
            .map_err(|_| DpopError::Malformed("the claims are not a valid JSON object"))?;
        let jti = claims.jti.ok_or(DpopError::MissingClaim("jti"))?;
        if jti.is_empty() || jti.len() > 256 {
            return Err(DpopError::InvalidJti);
        }
        let htm = claims.htm.ok_or(DpopError::MissingClaim("htm"))?;
        let htu = claims.htu.ok_or(DpopError::MissingClaim("htu"))?;
        let iat = claims.iat.ok_or(DpopError::MissingClaim("iat"))?;
        if htm != request.method.as_str() {
            return Err(DpopError::MethodMismatch);
        }
        if normal_htu(&htu) != Some(self.expected_htu(request.uri)?) {
            return Err(DpopError::UriMismatch);
        }
        if iat > now.saturating_add(self.future_skew) {
            return Err(DpopError::IssuedInFuture);
        }
        if iat.saturating_add(self.max_age) < now {
            return Err(DpopError::Expired);
        }
        if let Some(token) = request.access_token {
            let ath = claims.ath.ok_or(DpopError::MissingAth)?;
            let hash = digest::digest(&digest::SHA256, token.as_bytes());
            let mut expected = [0u8; 43];
            let len = URL_SAFE_NO_PAD
                .encode_slice(hash.as_ref(), &mut expected)
                .map_err(|_| DpopError::AthMismatch)?;
            if !bool::from(expected[..len].ct_eq(ath.as_bytes())) {
                return Err(DpopError::AthMismatch);
            }
        }
        let renew_nonce = match &self.nonces {
            Some(nonces) => {
                let nonce = claims.nonce.as_deref().ok_or(DpopError::NonceRequired)?;
                if !nonces.check(nonce, now) {
                    return Err(DpopError::NonceRequired);
                }
                nonces.should_roll(nonce, now)
            }
            None => false,
        };
        let jkt = jwk_thumbprint(&jwk).ok_or(DpopError::Malformed("the key has no thumbprint"))?;
        Ok(DpopProof {
            jkt,
            jti: jti.into_owned(),
            iat,
            renew_nonce,
        })
    }

    /// Checks the proof ([`check`](Self::check)), then records its (`jkt`, `jti`) in the
    /// replay cache: a proof is accepted once. The record is made only after every other
    /// check passed, and it lasts as long as the proof could still be accepted (`iat` plus
    /// the maximum age and the future skew).
    ///
    /// ```
    /// use http::{HeaderMap, Method, Uri};
    /// use tower_jwt_auth::dpop::{DpopError, DpopRequest, ProofVerifier};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let verifier = ProofVerifier::builder("https://api.example.com").build()?;
    /// let (headers, uri) = (HeaderMap::new(), Uri::from_static("/items"));
    /// let request = DpopRequest::new(&Method::GET, &uri, &headers);
    /// let refused = verifier.verify(&request).await.unwrap_err();
    /// assert_eq!(refused.error_code(), "invalid_dpop_proof");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn verify(&self, request: &DpopRequest<'_>) -> Result<DpopProof, DpopError> {
        let proof = self.check(request)?;
        self.record(&proof).await?;
        Ok(proof)
    }

    /// Records the (`jkt`, `jti`) of a proof that passed [`check`](Self::check): `Ok` the
    /// first time, [`Replay`](DpopError::Replay) after. The future owns what it needs, so
    /// that a middleware can keep it across an `.await`.
    pub(crate) fn record(
        &self,
        proof: &DpopProof,
    ) -> impl Future<Output = Result<(), DpopError>> + Send + 'static {
        let replay = self.replay.clone();
        let key = ReplayKey::new(&proof.jkt, &proof.jti);
        let now = self.clock.now_millis();
        let expires_at = proof
            .iat
            .saturating_add(self.max_age)
            .saturating_add(self.future_skew)
            .saturating_add(1)
            .saturating_mul(1000);
        async move {
            let fresh = replay
                .first_use(&key, now, expires_at)
                .await
                .map_err(DpopError::ReplayCache)?;
            if fresh {
                Ok(())
            } else {
                Err(DpopError::Replay)
            }
        }
    }

    /// The server nonces this verifier requires, if any: to issue the `DPoP-Nonce` header
    /// of a `use_dpop_nonce` answer, or of a success when
    /// [`DpopProof::renew_nonce`] says so.
    ///
    /// ```
    /// use tower_jwt_auth::dpop::{DpopNonces, ProofVerifier};
    ///
    /// let verifier = ProofVerifier::builder("https://api.example.com")
    ///     .with_nonces(DpopNonces::new(&[7; 32])?)
    ///     .build()?;
    /// assert!(verifier.nonces().is_some());
    /// # Ok::<(), tower_jwt_auth::dpop::DpopConfigError>(())
    /// ```
    pub fn nonces(&self) -> Option<&DpopNonces> {
        self.nonces.as_ref()
    }

    /// A fresh server nonce for a `DPoP-Nonce` response header, on the verifier's clock, or
    /// `None` when the verifier does not require nonces.
    ///
    /// ```
    /// use tower_jwt_auth::dpop::{DpopNonces, ProofVerifier};
    ///
    /// let plain = ProofVerifier::builder("https://api.example.com").build()?;
    /// assert_eq!(plain.fresh_nonce(), None);
    /// let verifier = ProofVerifier::builder("https://api.example.com")
    ///     .with_nonces(DpopNonces::new(&[7; 32])?)
    ///     .build()?;
    /// assert!(verifier.fresh_nonce().is_some());
    /// # Ok::<(), tower_jwt_auth::dpop::DpopConfigError>(())
    /// ```
    pub fn fresh_nonce(&self) -> Option<String> {
        let nonces = self.nonces.as_ref()?;
        Some(nonces.issue(self.clock.now_secs()))
    }

    /// The `DPoP-Nonce` value for a success whose proof's nonce is about to roll
    /// ([`DpopProof::renew_nonce`]); `None` otherwise.
    pub(crate) fn renewed_nonce(&self, proof: &DpopProof) -> Option<HeaderValue> {
        if !proof.renew_nonce() {
            return None;
        }
        HeaderValue::try_from(self.fresh_nonce()?).ok()
    }

    /// The algorithms accepted in a proof's `alg`, for the `algs` parameter of a `DPoP`
    /// challenge or `dpop_signing_alg_values_supported`.
    ///
    /// ```
    /// use tower_jwt_auth::{dpop::ProofVerifier, keys::Algorithm};
    ///
    /// let verifier = ProofVerifier::builder("https://api.example.com").build()?;
    /// assert_eq!(verifier.algorithms(), [Algorithm::ES256, Algorithm::EdDSA]);
    /// # Ok::<(), tower_jwt_auth::dpop::DpopConfigError>(())
    /// ```
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// The `htu` a proof for `uri` must name: the origin, then the request's path.
    fn expected_htu(&self, uri: &Uri) -> Result<String, DpopError> {
        let mut expected = String::with_capacity(self.origin.len() + uri.path().len());
        expected.push_str(&self.origin);
        push_normal_path(uri.path(), &mut expected).ok_or(DpopError::UriMismatch)?;
        Ok(expected)
    }
}

/// The one `DPoP` header of a request.
fn single_header(headers: &HeaderMap) -> Result<&str, DpopError> {
    let mut values = headers.get_all("dpop").iter();
    let value = values.next().ok_or(DpopError::MissingProof)?;
    if values.next().is_some() {
        return Err(DpopError::MultipleProofs);
    }
    value
        .to_str()
        .map_err(|_| DpopError::Malformed("the header is not visible ASCII"))
}

fn parse_origin(origin: &str) -> Result<String, DpopConfigError> {
    const WHAT: &str = "expected scheme://host[:port] with http or https";
    let uri: Uri = origin
        .parse()
        .map_err(|_| DpopConfigError::InvalidOrigin(WHAT))?;
    let bare = uri.path_and_query().is_none_or(|p| p.as_str() == "/");
    if !bare || origin.contains('#') {
        return Err(DpopConfigError::InvalidOrigin(
            "the origin has a path, a query or a fragment",
        ));
    }
    normal_origin(&uri).ok_or(DpopConfigError::InvalidOrigin(WHAT))
}

impl ProofVerifierBuilder {
    /// The algorithms accepted in a proof's `alg` (default `ES256` and `EdDSA`; `RS256` and
    /// `PS256` may be added). Symmetric algorithms are refused by [`build`](Self::build), as
    /// is an empty list: RFC 9449 proofs are signed with the client's private key.
    ///
    /// ```
    /// use tower_jwt_auth::{dpop::ProofVerifier, keys::Algorithm};
    ///
    /// let builder = ProofVerifier::builder("https://api.example.com");
    /// assert!(builder.with_algorithms([Algorithm::HS256]).build().is_err());
    /// let verifier = ProofVerifier::builder("https://api.example.com")
    ///     .with_algorithms([Algorithm::ES256, Algorithm::PS256])
    ///     .build()?;
    /// # let _ = verifier;
    /// # Ok::<(), tower_jwt_auth::dpop::DpopConfigError>(())
    /// ```
    pub fn with_algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// How old a proof's `iat` may be (default 60 seconds, at most 1 hour). The replay cache
    /// holds each proof this long: a longer window means more memory, and a longer time
    /// for a captured proof to be used.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_jwt_auth::dpop::ProofVerifier;
    ///
    /// let builder = ProofVerifier::builder("https://api.example.com");
    /// assert!(builder.with_max_age(Duration::from_secs(7200)).build().is_err());
    /// ```
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// How far in the future a proof's `iat` may be, for clients whose clock runs ahead
    /// (default 5 seconds, at most 5 minutes).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_jwt_auth::dpop::ProofVerifier;
    ///
    /// let verifier = ProofVerifier::builder("https://api.example.com")
    ///     .with_future_skew(Duration::from_secs(2))
    ///     .build()?;
    /// # let _ = verifier;
    /// # Ok::<(), tower_jwt_auth::dpop::DpopConfigError>(())
    /// ```
    pub fn with_future_skew(mut self, skew: Duration) -> Self {
        self.future_skew = skew;
        self
    }

    /// The largest `DPoP` header accepted, in bytes (default 4096, from 256 to 16384),
    /// refused before any decoding.
    ///
    /// ```
    /// use tower_jwt_auth::dpop::ProofVerifier;
    ///
    /// assert!(ProofVerifier::builder("https://api.example.com").with_max_len(10).build().is_err());
    /// ```
    pub fn with_max_len(mut self, max_len: usize) -> Self {
        self.max_len = max_len;
        self
    }

    /// The clock `iat` is checked against (default the system clock).
    ///
    /// ```
    /// use tower_jwt_auth::{clock::MockClock, dpop::ProofVerifier};
    ///
    /// let verifier = ProofVerifier::builder("https://api.example.com")
    ///     .with_clock(MockClock::at_secs(1_700_000_000))
    ///     .build()?;
    /// # let _ = verifier;
    /// # Ok::<(), tower_jwt_auth::dpop::DpopConfigError>(())
    /// ```
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Requires a server nonce in every proof (RFC 9449 §8–9): a proof without one, or
    /// with a stale one, is refused with `use_dpop_nonce`.
    ///
    /// ```
    /// use tower_jwt_auth::dpop::{DpopNonces, ProofVerifier};
    ///
    /// let verifier = ProofVerifier::builder("https://api.example.com")
    ///     .with_nonces(DpopNonces::new(&[7; 32])?)
    ///     .build()?;
    /// # let _ = verifier;
    /// # Ok::<(), tower_jwt_auth::dpop::DpopConfigError>(())
    /// ```
    pub fn with_nonces(mut self, nonces: DpopNonces) -> Self {
        self.nonces = Some(nonces);
        self
    }

    /// The replay cache (default a [`MemoryReplayCache`] of this verifier alone). Every
    /// instance that serves the same origin must share one, or a proof accepted by one
    /// instance can be replayed against another.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tower_jwt_auth::dpop::{MemoryReplayCache, ProofVerifier};
    ///
    /// let verifier = ProofVerifier::builder("https://api.example.com")
    ///     .with_replay_cache(Arc::new(MemoryReplayCache::new(100_000)))
    ///     .build()?;
    /// # let _ = verifier;
    /// # Ok::<(), tower_jwt_auth::dpop::DpopConfigError>(())
    /// ```
    pub fn with_replay_cache(mut self, cache: Arc<dyn ReplayCache>) -> Self {
        self.replay = Some(cache);
        self
    }

    /// The verifier, or the first setting that is refused.
    ///
    /// ```
    /// use tower_jwt_auth::dpop::ProofVerifier;
    ///
    /// assert!(ProofVerifier::builder("ftp://files.example.com").build().is_err());
    /// ```
    pub fn build(self) -> Result<ProofVerifier, DpopConfigError> {
        let origin = self.origin?;
        if self.algorithms.is_empty() {
            return Err(DpopConfigError::InvalidAlgorithms("the list is empty"));
        }
        if self.algorithms.iter().any(|a| a.is_hmac()) {
            return Err(DpopConfigError::InvalidAlgorithms(
                "a proof is never signed with a symmetric algorithm",
            ));
        }
        let max_age = self.max_age.as_secs();
        if !(1..=3600).contains(&max_age) {
            return Err(DpopConfigError::InvalidSetting(
                "the maximum age must be from 1 second to 1 hour",
            ));
        }
        let future_skew = self.future_skew.as_secs();
        if future_skew > 300 {
            return Err(DpopConfigError::InvalidSetting(
                "the future skew must be at most 5 minutes",
            ));
        }
        if !(256..=16_384).contains(&self.max_len) {
            return Err(DpopConfigError::InvalidSetting(
                "the size cap must be from 256 to 16384 bytes",
            ));
        }
        let mut algorithms = self.algorithms;
        algorithms.dedup();
        Ok(ProofVerifier {
            origin: origin.into(),
            algorithms: algorithms.into(),
            max_age,
            future_skew,
            max_len: self.max_len,
            clock: self.clock,
            nonces: self.nonces,
            replay: self
                .replay
                .unwrap_or_else(|| Arc::new(MemoryReplayCache::default())),
        })
    }
}
