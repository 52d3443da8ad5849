//! [`DpopError`]: why a DPoP proof was refused; [`DpopConfigError`]: why a DPoP setting was.

use crate::{keys::KeyError, store::BoxError};

/// Why a DPoP proof (RFC 9449 §4.3) was refused. Each check has its own variant; none of
/// them carries the proof, the key or the access token.
///
/// [`error_code`](Self::error_code) gives the RFC 9449 error to answer with:
/// `use_dpop_nonce` when the client must retry with a fresh server nonce, otherwise
/// `invalid_dpop_proof` (a replay-cache outage is neither: answer it as unavailable).
///
/// ```
/// use tower_jwt_auth::dpop::DpopError;
///
/// assert_eq!(DpopError::MissingProof.error_code(), "invalid_dpop_proof");
/// assert_eq!(DpopError::NonceRequired.error_code(), "use_dpop_nonce");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DpopError {
    /// The request has no `DPoP` header.
    #[error("the request has no DPoP proof")]
    MissingProof,
    /// The request has more than one `DPoP` header.
    #[error("the request has more than one DPoP header")]
    MultipleProofs,
    /// The proof is longer than the configured cap.
    #[error("the DPoP proof is too large")]
    TooLarge,
    /// The proof is not a compact JWS with JSON header and claims of the expected shape.
    #[error("the DPoP proof is malformed: {0}")]
    Malformed(&'static str),
    /// The header's `typ` is not exactly `dpop+jwt`.
    #[error("the DPoP proof's `typ` is not `dpop+jwt`")]
    WrongType,
    /// The header has a `crit` member: no extension is supported.
    #[error("the DPoP proof has a `crit` header")]
    UnsupportedCritical,
    /// The header's `alg` is missing, `none`, symmetric, or not in the allow-list.
    #[error("the DPoP proof's `alg` is not accepted")]
    UnsupportedAlgorithm,
    /// The header has no `jwk`.
    #[error("the DPoP proof has no `jwk` header")]
    MissingJwk,
    /// The header's `jwk` carries a private member (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`,
    /// `k`).
    #[error("the DPoP proof's `jwk` contains private key material")]
    PrivateKey,
    /// The header's `jwk` is not a valid public key for the header's `alg`.
    #[error("the DPoP proof's `jwk` is not a valid key for its `alg`")]
    InvalidKey(#[source] KeyError),
    /// The signature does not verify under the header's `jwk`.
    #[error("the DPoP proof's signature is invalid")]
    InvalidSignature,
    /// A required claim (`jti`, `htm`, `htu`, `iat`) is missing.
    #[error("the DPoP proof has no `{0}` claim")]
    MissingClaim(&'static str),
    /// The `jti` is empty or longer than the cap.
    #[error("the DPoP proof's `jti` is empty or too long")]
    InvalidJti,
    /// The `htm` is not the request's method.
    #[error("the DPoP proof's `htm` is not the request method")]
    MethodMismatch,
    /// The `htu` is not the request's URI (without query and fragment, after normalisation).
    #[error("the DPoP proof's `htu` is not the request URI")]
    UriMismatch,
    /// The `iat` is older than the accepted window.
    #[error("the DPoP proof is too old")]
    Expired,
    /// The `iat` is further in the future than the accepted skew.
    #[error("the DPoP proof is issued in the future")]
    IssuedInFuture,
    /// An access token was presented and the proof has no `ath`.
    #[error("the DPoP proof has no `ath` claim")]
    MissingAth,
    /// The `ath` is not the hash of the presented access token.
    #[error("the DPoP proof's `ath` does not match the access token")]
    AthMismatch,
    /// The server requires a nonce and the proof has none, or a stale or unknown one: the
    /// client retries with the nonce of the `DPoP-Nonce` response header.
    #[error("the DPoP proof needs a fresh server nonce")]
    NonceRequired,
    /// This (`jkt`, `jti`) pair was already accepted within its window.
    #[error("the DPoP proof was already used")]
    Replay,
    /// The replay cache could not answer: the proof is refused (fail closed).
    #[error("the DPoP replay cache is unavailable")]
    ReplayCache(#[source] BoxError),
}

impl DpopError {
    /// The RFC 9449 error code to answer with: `use_dpop_nonce` for
    /// [`NonceRequired`](Self::NonceRequired), `invalid_dpop_proof` otherwise.
    ///
    /// ```
    /// use tower_jwt_auth::dpop::DpopError;
    ///
    /// assert_eq!(DpopError::Replay.error_code(), "invalid_dpop_proof");
    /// ```
    pub fn error_code(&self) -> &'static str {
        match self {
            Self::NonceRequired => "use_dpop_nonce",
            _ => "invalid_dpop_proof",
        }
    }

    /// A short description for an `error_description`, without any detail of the proof.
    pub(crate) fn description(&self) -> &'static str {
        match self {
            Self::MissingProof => "the request has no DPoP proof",
            Self::MultipleProofs => "the request has more than one DPoP header",
            Self::TooLarge => "the DPoP proof is too large",
            Self::Malformed(_) => "the DPoP proof is malformed",
            Self::WrongType => "the DPoP proof's typ is not dpop+jwt",
            Self::UnsupportedCritical => "the DPoP proof has a crit header",
            Self::UnsupportedAlgorithm => "the DPoP proof's alg is not accepted",
            Self::MissingJwk => "the DPoP proof has no jwk header",
            Self::PrivateKey => "the DPoP proof's jwk contains private key material",
            Self::InvalidKey(_) => "the DPoP proof's jwk is not a valid key for its alg",
            Self::InvalidSignature => "the DPoP proof's signature is invalid",
            Self::MissingClaim(_) => "the DPoP proof lacks a required claim",
            Self::InvalidJti => "the DPoP proof's jti is empty or too long",
            Self::MethodMismatch => "the DPoP proof's htm is not the request method",
            Self::UriMismatch => "the DPoP proof's htu is not the request URI",
            Self::Expired => "the DPoP proof is too old",
            Self::IssuedInFuture => "the DPoP proof is issued in the future",
            Self::MissingAth => "the DPoP proof has no ath claim",
            Self::AthMismatch => "the DPoP proof's ath does not match the access token",
            Self::NonceRequired => "the DPoP proof needs a fresh server nonce",
            Self::Replay => "the DPoP proof was already used",
            Self::ReplayCache(_) => "the DPoP replay cache is unavailable",
        }
    }
}

/// Why a DPoP setting was refused when it was built.
///
/// ```
/// use tower_jwt_auth::dpop::{DpopConfigError, ProofVerifier};
///
/// let err = ProofVerifier::builder("not an origin").build().unwrap_err();
/// assert!(matches!(err, DpopConfigError::InvalidOrigin(_)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DpopConfigError {
    /// The external origin is not `scheme://host[:port]` with an `http` or `https` scheme.
    #[error("invalid DPoP origin: {0}")]
    InvalidOrigin(&'static str),
    /// The algorithm list is empty or holds a symmetric algorithm.
    #[error("invalid DPoP algorithms: {0}")]
    InvalidAlgorithms(&'static str),
    /// A time window or size is zero or out of range.
    #[error("invalid DPoP setting: {0}")]
    InvalidSetting(&'static str),
    /// A nonce secret is shorter than 32 bytes.
    #[error("a DPoP nonce secret must be at least 32 bytes")]
    ShortSecret,
}
