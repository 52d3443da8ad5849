//! [`BearerAuth`]: the bearer middleware service.

use std::{
    fmt,
    future::Future,
    sync::Arc,
    task::{Context, Poll, Waker},
};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, header};
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;
use tower_service::Service;

use super::{
    AuthError, Authenticated, OnRejection, ResponseBody, ResponseFuture,
    cache::TokenCache,
    layer::{Config, DpopSettings},
    rules::Rules,
    source::Origin,
};
use crate::{
    dpop::{DPOP_NONCE, DpopError, DpopPolicy, DpopProof, DpopRequest},
    telemetry,
    token::{Claims, TokenError, TokenKind},
};

/// What authentication decided, short of a rejection.
enum Verdict<T> {
    /// Let through, with the claims (`None`: anonymous, optional mode).
    Pass(Option<Arc<Claims<T>>>),
    /// Good in every respect; the DPoP proof is still to be recorded in the replay cache.
    Dpop {
        claims: Arc<Claims<T>>,
        proof: DpopProof,
    },
    /// Verified here; the issuer's introspection endpoint has the last word (then the DPoP
    /// proof, if any, is recorded).
    #[cfg(feature = "remote-jwks")]
    Ask {
        claims: Arc<Claims<T>>,
        token: String,
        key: [u8; 32],
        proof: Option<DpopProof>,
    },
}

/// A refusal, and whether the request came with the `DPoP` scheme (its challenge is then
/// `DPoP`).
struct Refusal {
    error: AuthError,
    dpop: bool,
}

impl From<AuthError> for Refusal {
    fn from(error: AuthError) -> Self {
        Self { error, dpop: false }
    }
}

/// The service made by [`BearerAuthLayer`](super::BearerAuthLayer).
///
/// It puts the verified claims into the request extensions as an `Arc<Claims<T>>`, shared
/// with the layer's cache (the axum extractors take them from there).
pub struct BearerAuth<S, T, R> {
    pub(crate) inner: S,
    pub(crate) config: Arc<Config<R>>,
    pub(crate) cache: Option<Arc<TokenCache<T>>>,
    pub(crate) rules: Arc<Rules<T>>,
}

impl<S: Clone, T, R> Clone for BearerAuth<S, T, R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            config: self.config.clone(),
            cache: self.cache.clone(),
            rules: self.rules.clone(),
        }
    }
}

impl<S: fmt::Debug, T, R> fmt::Debug for BearerAuth<S, T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerAuth")
            .field("inner", &self.inner)
            .field("realm", &self.config.realm)
            .field("optional", &self.config.optional)
            .finish_non_exhaustive()
    }
}

impl<S, T, R> BearerAuth<S, T, R>
where
    T: DeserializeOwned,
{
    /// Finds and verifies the token: `Ok(None)` for an anonymous request in optional mode.
    fn authenticate<B>(&self, request: &Request<B>) -> Result<Verdict<T>, Refusal> {
        let config = &*self.config;
        let token = config.sources.extract(request.headers(), request.uri())?;
        let Some((token, origin)) = token else {
            return if config.optional {
                Ok(Verdict::Pass(None))
            } else {
                Err(AuthError::MissingToken.into())
            };
        };
        let dpop = origin == Origin::Dpop;
        self.authenticate_token(request, &token, origin)
            .map_err(|error| Refusal { error, dpop })
    }

    fn authenticate_token<B>(
        &self,
        request: &Request<B>,
        token: &str,
        origin: Origin,
    ) -> Result<Verdict<T>, AuthError> {
        let config = &*self.config;
        if origin != Origin::Dpop
            && config
                .dpop
                .as_ref()
                .is_some_and(|d| d.policy == DpopPolicy::Required)
        {
            return Err(AuthError::DpopBinding(
                "a DPoP-bound token with its DPoP proof is required",
            ));
        }
        let verified = match &self.cache {
            Some(cache) => cache.verify(&config.verifier, token),
            None => config
                .verifier
                .verify(token, TokenKind::Access)
                .map(Arc::new),
        };
        let claims = verified.map_err(|err| match err {
            TokenError::RevocationUnavailable => AuthError::Unavailable,
            err => AuthError::InvalidToken(err),
        })?;
        // The binding, on every request, kept token or not.
        let proof = match (&claims.cnf, origin == Origin::Dpop, &config.dpop) {
            (None, false, _) => None,
            (Some(cnf), true, Some(dpop)) => Some(check_proof(dpop, request, token, &cnf.jkt)?),
            (Some(_), false, _) => {
                return Err(AuthError::DpopBinding(
                    "a DPoP-bound token must be presented with the DPoP scheme and a proof",
                ));
            }
            (None, true, _) => return Err(AuthError::DpopBinding("the token is not DPoP-bound")),
            // The DPoP scheme is read only when DPoP is configured; fail closed regardless.
            (Some(_), true, None) => return Err(AuthError::DpopBinding("DPoP is not enabled")),
        };
        // On every request, kept token or not.
        config.sources.check_csrf(
            origin,
            request.method(),
            request.headers(),
            claims.csrf_token(),
        )?;
        // On every request too: scopes and the application's checks.
        self.rules.check(&claims)?;
        // Last, and only for a token good in every other respect: the issuer's answer.
        #[cfg(feature = "remote-jwks")]
        if let Some(introspector) = &config.introspection {
            let key = super::Introspector::key(token);
            match introspector.cached(&key, config.verifier.clock().now_millis()) {
                Some(true) => {}
                Some(false) => return Err(AuthError::InvalidToken(TokenError::Revoked)),
                None => {
                    return Ok(Verdict::Ask {
                        claims,
                        token: token.to_owned(),
                        key,
                        proof,
                    });
                }
            }
        }
        Ok(match proof {
            Some(proof) => Verdict::Dpop { claims, proof },
            None => Verdict::Pass(Some(claims)),
        })
    }
}

/// The DPoP proof of a request with a bound token: every check of RFC 9449 §4.3 but the
/// replay one, with the token's hash, and the proof's key must be the token's.
fn check_proof<B>(
    dpop: &DpopSettings,
    request: &Request<B>,
    token: &str,
    jkt: &str,
) -> Result<DpopProof, AuthError> {
    let proof = DpopRequest::new(request.method(), request.uri(), request.headers())
        .with_access_token(token);
    let proof = dpop.verifier.check(&proof).map_err(dpop_refusal)?;
    if !bool::from(proof.jkt().as_bytes().ct_eq(jkt.as_bytes())) {
        return Err(AuthError::InvalidDpopProof(
            "the DPoP proof's key is not the one the token is bound to",
        ));
    }
    Ok(proof)
}

/// The answer to a refused proof.
fn dpop_refusal(error: DpopError) -> AuthError {
    match error {
        DpopError::NonceRequired => AuthError::UseDpopNonce,
        DpopError::ReplayCache(err) => {
            tracing::warn!(
                target: "tower_jwt_auth::bearer",
                error = %err,
                "the DPoP replay cache is unavailable: request refused"
            );
            AuthError::Unavailable
        }
        error => AuthError::InvalidDpopProof(error.description()),
    }
}

impl<S, T, R, ReqBody, ResBody> Service<Request<ReqBody>> for BearerAuth<S, T, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    T: DeserializeOwned + Clone + Send + Sync + 'static,
    R: OnRejection,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // Keep tokens out of any header logging further down the stack.
        mark_sensitive(request.headers_mut(), header::AUTHORIZATION);
        if self.config.sources.cookie.is_some() {
            mark_sensitive(request.headers_mut(), header::COOKIE);
        }
        if self.config.dpop.is_some() {
            mark_sensitive(
                request.headers_mut(),
                header::HeaderName::from_static("dpop"),
            );
        }
        let outcome = {
            let _span =
                tracing::debug_span!(target: "tower_jwt_auth::bearer", "authenticate").entered();
            self.authenticate(&request)
        };
        match outcome {
            Ok(Verdict::Pass(claims)) => {
                // Claims prove that the layer ran; the marker says so for an anonymous
                // request in optional mode.
                let extensions = request.extensions_mut();
                telemetry::accepted(claims.is_none());
                // The check is synchronous: the service polled ready takes the request.
                match claims {
                    Some(claims) => {
                        extensions.insert(claims);
                        ResponseFuture::inner(self.inner.call(request))
                    }
                    None => {
                        extensions.insert(Authenticated);
                        ResponseFuture::anonymous(
                            self.inner.call(request),
                            self.config.realm.clone(),
                            self.config.resource_metadata.clone(),
                            self.config.dpop.clone(),
                        )
                    }
                }
            }
            Ok(Verdict::Dpop { claims, proof }) => {
                let Some(dpop) = &self.config.dpop else {
                    return ResponseFuture::rejected(reject(
                        &self.config,
                        AuthError::Unavailable,
                        true,
                    ));
                };
                let nonce = dpop.verifier.renewed_nonce(&proof);
                let mut record = Box::pin(dpop.verifier.record(&proof));
                // A replay cache in memory answers at once: then the ready service takes the
                // request now, as for a bearer token.
                match record
                    .as_mut()
                    .poll(&mut Context::from_waker(Waker::noop()))
                {
                    Poll::Ready(Ok(())) => {
                        telemetry::accepted(false);
                        request.extensions_mut().insert(claims);
                        ResponseFuture::renewing(self.inner.call(request), nonce)
                    }
                    Poll::Ready(Err(error)) => {
                        ResponseFuture::rejected(reject(&self.config, dpop_refusal(error), true))
                    }
                    Poll::Pending => {
                        // A shared cache (Redis) answers later: the ready service goes into
                        // the future, a clone stays.
                        let clone = self.inner.clone();
                        let mut inner = std::mem::replace(&mut self.inner, clone);
                        let config = self.config.clone();
                        ResponseFuture::checking(Box::pin(async move {
                            match record.await {
                                Ok(()) => {
                                    telemetry::accepted(false);
                                    request.extensions_mut().insert(claims);
                                    Ok(ResponseFuture::renewing(inner.call(request), nonce))
                                }
                                Err(error) => Err(reject(&config, dpop_refusal(error), true)),
                            }
                        }))
                    }
                }
            }
            #[cfg(feature = "remote-jwks")]
            Ok(Verdict::Ask {
                claims,
                token,
                key,
                proof,
            }) => {
                // The inner service is called after an await: the ready one goes into the
                // future, a clone stays.
                let clone = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, clone);
                let config = self.config.clone();
                let dpop = proof.is_some();
                ResponseFuture::checking(Box::pin(async move {
                    let Some(introspector) = &config.introspection else {
                        return Err(reject(&config, AuthError::Unavailable, dpop));
                    };
                    let subject = super::introspection::Subject {
                        sub: &claims.sub,
                        jti: &claims.jti,
                        exp_secs: claims.exp,
                    };
                    let clock = config.verifier.clock();
                    match introspector.ask(key, &token, subject, &**clock).await {
                        Ok(true) => {}
                        Ok(false) => {
                            return Err(reject(
                                &config,
                                AuthError::InvalidToken(TokenError::Revoked),
                                dpop,
                            ));
                        }
                        Err(_) => return Err(reject(&config, AuthError::Unavailable, dpop)),
                    }
                    let mut nonce = None;
                    if let (Some(proof), Some(settings)) = (proof, &config.dpop) {
                        nonce = settings.verifier.renewed_nonce(&proof);
                        if let Err(error) = settings.verifier.record(&proof).await {
                            return Err(reject(&config, dpop_refusal(error), true));
                        }
                    }
                    telemetry::accepted(false);
                    request.extensions_mut().insert(claims);
                    Ok(ResponseFuture::renewing(inner.call(request), nonce))
                }))
            }
            Err(Refusal { error, dpop }) => {
                ResponseFuture::rejected(reject(&self.config, error, dpop))
            }
        }
    }
}

/// The response for `error`, counted, with the RFC 9728 parameter and the reason attached;
/// with DPoP, its challenges and nonce (`dpop`: the request came with the `DPoP` scheme).
fn reject<R: OnRejection>(config: &Config<R>, error: AuthError, dpop: bool) -> Response<Bytes> {
    telemetry::rejected(
        error.reason(),
        error.status().as_u16(),
        matches!(error, AuthError::Unavailable),
    );
    let mut response = config
        .on_rejection
        .on_rejection(&error, config.realm.as_deref());
    if let Some(param) = &config.resource_metadata {
        add_challenge_param(response.headers_mut(), param);
    }
    if let Some(settings) = &config.dpop {
        dpop_challenges(
            response.headers_mut(),
            settings,
            &error,
            dpop,
            config.realm.as_deref(),
        );
    }
    // The reason (never the token) for an outer TraceLayer or the app's logging.
    response.extensions_mut().insert(error);
    response
}

/// Appends `param` (`name="value"`, built at layer build) to a `Bearer` challenge, whichever
/// rejection handler made it (RFC 9728 §5.1).
pub(super) fn add_challenge_param(headers: &mut http::HeaderMap, param: &[u8]) {
    let Some(challenge) = headers.get_mut(header::WWW_AUTHENTICATE) else {
        return;
    };
    let old = challenge.as_bytes();
    if !is_scheme(old, b"Bearer") {
        return;
    }
    let (scheme, rest) = old.split_at(6);
    if let Some(value) = append_param(scheme, rest, param) {
        *challenge = value;
    }
}

/// RFC 9449 §7.1 and §9: the challenge is `DPoP` (with `algs`) for a request made with the
/// `DPoP` scheme or on a layer that requires it; a request without credentials on a layer
/// that takes both schemes gets both challenges; `use_dpop_nonce` comes with a fresh nonce.
pub(super) fn dpop_challenges(
    headers: &mut http::HeaderMap,
    settings: &DpopSettings,
    error: &AuthError,
    dpop: bool,
    realm: Option<&str>,
) {
    let required = settings.policy == DpopPolicy::Required;
    let Some(challenge) = headers.get_mut(header::WWW_AUTHENTICATE) else {
        // The rejection handler sends no challenge: neither do we.
        return;
    };
    if let Some(value) = as_dpop(challenge.as_bytes(), dpop || required, &settings.algs) {
        *challenge = value;
    }
    if *error == AuthError::MissingToken
        && !required
        && let Some(value) = AuthError::MissingToken
            .www_authenticate(realm)
            .and_then(|bearer| as_dpop(bearer.as_bytes(), true, &settings.algs))
    {
        headers.append(header::WWW_AUTHENTICATE, value);
    }
    if *error == AuthError::UseDpopNonce
        && let Some(nonce) = settings.verifier.fresh_nonce()
        && let Ok(nonce) = HeaderValue::try_from(nonce)
    {
        headers.insert(DPOP_NONCE, nonce);
    }
}

/// `true` when `value` is a challenge of `scheme` (ASCII case-insensitive).
fn is_scheme(value: &[u8], scheme: &[u8]) -> bool {
    value.len() >= scheme.len()
        && value[..scheme.len()].eq_ignore_ascii_case(scheme)
        && (value.len() == scheme.len() || value[scheme.len()] == b' ')
}

/// A `DPoP` challenge with the `algs` parameter, from a `DPoP` challenge, or from a `Bearer`
/// one when `convert`; `None` for a challenge left as it is.
fn as_dpop(old: &[u8], convert: bool, algs: &[u8]) -> Option<HeaderValue> {
    let rest = if is_scheme(old, b"DPoP") {
        &old[4..]
    } else if convert && is_scheme(old, b"Bearer") {
        &old[6..]
    } else {
        return None;
    };
    append_param(b"DPoP", rest, algs)
}

/// The challenge `scheme` + `rest` (its parameters, with their leading space, or nothing)
/// with `param` appended.
fn append_param(scheme: &[u8], rest: &[u8], param: &[u8]) -> Option<HeaderValue> {
    let mut value = Vec::with_capacity(scheme.len() + rest.len() + 2 + param.len());
    value.extend_from_slice(scheme);
    value.extend_from_slice(rest);
    value.extend_from_slice(if rest.is_empty() { b" " } else { b", " });
    value.extend_from_slice(param);
    HeaderValue::from_maybe_shared(Bytes::from(value)).ok()
}

fn mark_sensitive(headers: &mut http::HeaderMap, name: header::HeaderName) {
    if let header::Entry::Occupied(mut entry) = headers.entry(name) {
        for value in entry.iter_mut() {
            value.set_sensitive(true);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use http::{HeaderMap, HeaderValue, header::WWW_AUTHENTICATE};

    use super::{add_challenge_param, as_dpop};

    fn with_param(challenge: Option<&'static str>) -> Option<String> {
        let mut headers = HeaderMap::new();
        if let Some(challenge) = challenge {
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        add_challenge_param(&mut headers, br#"resource_metadata="https://r.example/m""#);
        headers
            .get(WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned())
    }

    #[test]
    fn only_bearer_challenges_get_the_parameter() {
        assert_eq!(
            with_param(Some("Bearer")).unwrap(),
            r#"Bearer resource_metadata="https://r.example/m""#
        );
        assert_eq!(
            with_param(Some(r#"Bearer realm="api""#)).unwrap(),
            r#"Bearer realm="api", resource_metadata="https://r.example/m""#
        );
        // A handler's own scheme is left alone, and no challenge is added where none was.
        assert_eq!(with_param(Some("Basic")).unwrap(), "Basic");
        assert_eq!(with_param(Some("Bearerish")).unwrap(), "Bearerish");
        assert_eq!(with_param(None), None);
    }

    #[test]
    fn dpop_challenges_get_the_algorithms_and_bearer_ones_turn_dpop_only_when_asked() {
        let algs = br#"algs="ES256""#;
        let dpop = |old: &str, convert| {
            as_dpop(old.as_bytes(), convert, algs).map(|v| v.to_str().unwrap().to_owned())
        };
        assert_eq!(dpop("DPoP", false).unwrap(), r#"DPoP algs="ES256""#);
        assert_eq!(
            dpop(r#"dpop error="use_dpop_nonce""#, false).unwrap(),
            r#"DPoP error="use_dpop_nonce", algs="ES256""#
        );
        assert_eq!(dpop(r#"Bearer realm="api""#, false), None);
        assert_eq!(
            dpop(r#"Bearer realm="api""#, true).unwrap(),
            r#"DPoP realm="api", algs="ES256""#
        );
        assert_eq!(dpop("Bearerish", true), None);
        assert_eq!(dpop("DPoPx", true), None);
        assert_eq!(dpop("Basic", true), None);
    }
}
