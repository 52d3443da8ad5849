//! [`BearerAuth`]: the bearer middleware service.

use std::{
    fmt,
    sync::Arc,
    task::{Context, Poll},
};

use bytes::Bytes;
use http::{Request, Response, header};
use serde::de::DeserializeOwned;
use tower_service::Service;

use super::{
    AuthError, Authenticated, OnRejection, ResponseBody, ResponseFuture, cache::TokenCache,
    layer::Config, rules::Rules,
};
use crate::{
    telemetry,
    token::{Claims, TokenError, TokenKind},
};

/// What authentication decided, short of a rejection.
enum Verdict<T> {
    /// Let through, with the claims (`None`: anonymous, optional mode).
    Pass(Option<Arc<Claims<T>>>),
    /// Verified here; the issuer's introspection endpoint has the last word.
    #[cfg(feature = "remote-jwks")]
    Ask {
        claims: Arc<Claims<T>>,
        token: String,
        key: [u8; 32],
    },
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
    fn authenticate<B>(&self, request: &Request<B>) -> Result<Verdict<T>, AuthError> {
        let config = &*self.config;
        let token = config.sources.extract(request.headers(), request.uri())?;
        let Some((token, origin)) = token else {
            return if config.optional {
                Ok(Verdict::Pass(None))
            } else {
                Err(AuthError::MissingToken)
            };
        };
        let verified = match &self.cache {
            Some(cache) => cache.verify(&config.verifier, &token),
            None => config
                .verifier
                .verify(&token, TokenKind::Access)
                .map(Arc::new),
        };
        let claims = verified.map_err(|err| match err {
            TokenError::RevocationUnavailable => AuthError::Unavailable,
            err => AuthError::InvalidToken(err),
        })?;
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
            let key = super::Introspector::key(&token);
            match introspector.cached(&key, config.verifier.clock().now_millis()) {
                Some(true) => {}
                Some(false) => return Err(AuthError::InvalidToken(TokenError::Revoked)),
                None => {
                    return Ok(Verdict::Ask {
                        claims,
                        token: token.into_owned(),
                        key,
                    });
                }
            }
        }
        Ok(Verdict::Pass(Some(claims)))
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
                        )
                    }
                }
            }
            #[cfg(feature = "remote-jwks")]
            Ok(Verdict::Ask { claims, token, key }) => {
                // The inner service is called after an await: the ready one goes into the
                // future, a clone stays.
                let clone = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, clone);
                let config = self.config.clone();
                ResponseFuture::introspecting(Box::pin(async move {
                    let Some(introspector) = &config.introspection else {
                        return Err(reject(&config, AuthError::Unavailable));
                    };
                    let subject = super::introspection::Subject {
                        sub: &claims.sub,
                        jti: &claims.jti,
                        exp_secs: claims.exp,
                    };
                    let clock = config.verifier.clock();
                    match introspector.ask(key, &token, subject, &**clock).await {
                        Ok(true) => {
                            telemetry::accepted(false);
                            request.extensions_mut().insert(claims);
                            Ok(inner.call(request))
                        }
                        Ok(false) => Err(reject(
                            &config,
                            AuthError::InvalidToken(TokenError::Revoked),
                        )),
                        Err(_) => Err(reject(&config, AuthError::Unavailable)),
                    }
                }))
            }
            Err(error) => ResponseFuture::rejected(reject(&self.config, error)),
        }
    }
}

/// The response for `error`, counted, with the RFC 9728 parameter and the reason attached.
fn reject<R: OnRejection>(config: &Config<R>, error: AuthError) -> Response<Bytes> {
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
    let scheme = b"Bearer";
    if old.len() < scheme.len() || !old[..scheme.len()].eq_ignore_ascii_case(scheme) {
        return;
    }
    let bare = old.len() == scheme.len();
    if !bare && old[scheme.len()] != b' ' {
        return;
    }
    let mut value = Vec::with_capacity(old.len() + 2 + param.len());
    value.extend_from_slice(old);
    value.extend_from_slice(if bare { b" " } else { b", " });
    value.extend_from_slice(param);
    if let Ok(value) = http::HeaderValue::from_maybe_shared(Bytes::from(value)) {
        *challenge = value;
    }
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

    use super::add_challenge_param;

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
}
