//! [`verify_dpop`]: a token request's optional DPoP proof, checked as a token endpoint
//! answers it (RFC 9449 §5).

use http::{HeaderMap, Method, Uri};

use super::ErrorResponse;
use crate::dpop::{DPOP_NONCE, DpopError, DpopProof, DpopRequest, ProofVerifier};

/// Checks the DPoP proof of a token request (a login, a signup, a refresh), if it has one:
/// `Ok(None)` without a `DPoP` header, `Ok(Some(proof))` for a proof that passed every check
/// of [`ProofVerifier::verify`] (`htm` the request's method, `htu` its path under the
/// verifier's origin, no `ath`, not seen before), and otherwise the answer to send: 400
/// `invalid_dpop_proof` (two `DPoP` headers included), or `use_dpop_nonce` with the next
/// server nonce in a `DPoP-Nonce` header, or 503 when the replay cache could not answer.
///
/// `uri` is the request's URI as the client sent it: under an axum `nest`, take the
/// `OriginalUri`. A proof that passed may say that the client's nonce should roll
/// ([`DpopProof::renew_nonce`]): send [`ProofVerifier::fresh_nonce`] in the success's
/// `DPoP-Nonce` header.
///
/// ```
/// use http::{HeaderMap, Method, Uri};
/// use tower_jwt_auth::{dpop::ProofVerifier, endpoints::verify_dpop};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let verifier = ProofVerifier::builder("https://auth.example.com").build()?;
/// let uri = Uri::from_static("/auth/login");
/// let mut headers = HeaderMap::new();
/// // No proof: a bearer login.
/// assert!(matches!(verify_dpop(&verifier, &Method::POST, &uri, &headers).await, Ok(None)));
/// // A bad proof: the 400 answer.
/// headers.insert("dpop", "not-a-proof".parse()?);
/// let refused = verify_dpop(&verifier, &Method::POST, &uri, &headers).await.unwrap_err();
/// assert_eq!(refused.error(), "invalid_dpop_proof");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn verify_dpop(
    verifier: &ProofVerifier,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Option<DpopProof>, ErrorResponse> {
    if !headers.contains_key("dpop") {
        return Ok(None);
    }
    match verifier
        .verify(&DpopRequest::new(method, uri, headers))
        .await
    {
        Ok(proof) => Ok(Some(proof)),
        Err(err) => {
            let nonce = match err {
                DpopError::NonceRequired => verifier.fresh_nonce(),
                _ => None,
            };
            let response = ErrorResponse::from(err);
            Err(match nonce {
                Some(nonce) => response.with_dpop_nonce(nonce),
                None => response,
            })
        }
    }
}

/// Adds the next server nonce to `headers` when `proof` says the client's should roll.
pub(crate) fn renew_nonce(verifier: &ProofVerifier, proof: &DpopProof, headers: &mut HeaderMap) {
    if let Some(value) = verifier.renewed_nonce(proof) {
        headers.insert(DPOP_NONCE, value);
    }
}
