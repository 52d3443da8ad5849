//! [`DpopPolicy`]: whether DPoP is optional or required, on the issuing side and at the layer.

/// Whether DPoP (RFC 9449) is optional or required: for the issuing side
/// ([`SessionsBuilder::with_dpop`](crate::session::SessionsBuilder::with_dpop)) and for a
/// protected resource ([`BearerAuthLayer::with_dpop`](crate::BearerAuthLayer::with_dpop)).
///
/// Whatever the policy, a DPoP-bound token (one with `cnf.jkt`) is accepted only with the
/// `DPoP` scheme and a valid proof of its key, a bound session refreshes only with a proof of
/// its key, and a token without `cnf` is never accepted with the `DPoP` scheme.
///
/// ```
/// use tower_jwt_auth::dpop::DpopPolicy;
///
/// assert_eq!(DpopPolicy::default(), DpopPolicy::Optional);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum DpopPolicy {
    /// DPoP when the client uses it (the default). On the issuing side, a login with a proof
    /// starts a bound session and one without gets bearer tokens. At the layer, tokens
    /// without `cnf` are still accepted as bearer tokens (from the header, or the cookie or
    /// query parameter when enabled), for clients that cannot keep a key or during a
    /// migration; a request without credentials gets both a `Bearer` and a `DPoP` challenge.
    #[default]
    Optional,
    /// DPoP always. On the issuing side, a login or refresh without a proof is refused
    /// ([`StartError::DpopRequired`](crate::session::StartError::DpopRequired),
    /// [`RefreshError::DpopRequired`](crate::session::RefreshError::DpopRequired)), so every
    /// new session is bound. At the layer, a bearer token, from wherever it comes, is refused
    /// (401 `invalid_token`), and every challenge is `DPoP`.
    Required,
}
