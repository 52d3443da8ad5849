//! [`MetadataService`]: the issuer's RFC 8414 authorization server metadata, from which
//! resource servers discover its key set.

use std::{
    convert::Infallible,
    future::{Ready, ready},
    task::{Context, Poll},
};

use bytes::Bytes;
use http::{HeaderValue, Request, Response};
use http_body_util::Full;
use tower_service::Service;

use super::document::document_response;
use crate::{config::ConfigError, dpop::ProofVerifier, issuer::Issuer, keys};

/// Serves the issuer's authorization server metadata (RFC 8414) at
/// [`path`](Self::path), `/.well-known/oauth-authorization-server` followed by the issuer's
/// path, so that a resource server given only the issuer's URL finds its key set
/// ([`RemoteJwks::discover`](crate::keys::RemoteJwks::discover), or any OAuth client that
/// reads RFC 8414 metadata).
///
/// The document names the issuer exactly as its tokens do (`iss`), and the routes of
/// [`token_routes`](crate::axum::token_routes) nested at `prefix`:
///
/// | member | value |
/// | --- | --- |
/// | `issuer` | the issuer's `iss` |
/// | `jwks_uri` | `{origin}{prefix}/jwks.json` |
/// | `token_endpoint` | `{origin}{prefix}/refresh` (grant type `refresh_token`) |
/// | `revocation_endpoint` | `{origin}{prefix}/revoke` |
///
/// plus `grant_types_supported: ["refresh_token"]`, `response_types_supported: []` (no
/// authorization endpoint: the application signs users in with its own routes) and `none`
/// as the client authentication of the token and revocation endpoints. The document is
/// built once; it is served with `Cache-Control: public, max-age=3600`.
///
/// ```
/// use axum::Router;
/// use tower_jwt_auth::{Issuer, KeySet, Sessions, SigningKey, endpoints::MetadataService, token_routes, BearerAuthLayer};
///
/// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?))
///     .with_issuer("https://auth.example")
///     .build()?;
/// let metadata = MetadataService::new(&issuer, "/auth")?;
/// assert_eq!(metadata.path(), "/.well-known/oauth-authorization-server");
/// let auth = BearerAuthLayer::new(&issuer);
/// let path = metadata.path().to_owned();
/// let app: Router = Router::new()
///     .nest("/auth", token_routes(Sessions::new(issuer), &auth))
///     .route_service(&path, metadata);
/// # let _ = app;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct MetadataService {
    path: String,
    document: Bytes,
}

impl MetadataService {
    /// The metadata of `issuer`, whose token routes are nested at `prefix` (`""` for the
    /// root, else a path such as `/auth`).
    ///
    /// Fails with [`ConfigError::Conflict`] when the issuer has no `iss`, or one that is
    /// not an `https` URL (`http` only for a loopback host) without query and fragment, as
    /// RFC 8414 §2 requires; and with [`ConfigError::Name`] for a `prefix` that does not
    /// start with `/` or ends with one.
    ///
    /// ```
    /// use tower_jwt_auth::{ConfigError, Issuer, KeySet, SigningKey, endpoints::MetadataService};
    ///
    /// let keys = KeySet::new(SigningKey::generate_ed25519()?);
    /// let named = Issuer::builder(keys.clone()).with_issuer("quickstart").build()?;
    /// assert!(matches!(MetadataService::new(&named, "/auth"), Err(ConfigError::Conflict(_))));
    /// let tenant = Issuer::builder(keys).with_issuer("https://auth.example/tenant").build()?;
    /// let metadata = MetadataService::new(&tenant, "/tenant/auth")?;
    /// assert_eq!(metadata.path(), "/.well-known/oauth-authorization-server/tenant");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(issuer: &Issuer, prefix: &str) -> Result<Self, ConfigError> {
        let iss = issuer.verifier().issuer().ok_or(ConfigError::Conflict(
            "the metadata needs an issuer with an `iss`",
        ))?;
        let origin = origin(iss).ok_or(ConfigError::Conflict(
            "the issuer must be an https URL (http only on a loopback host) without query or fragment",
        ))?;
        if !(prefix.is_empty() || prefix.starts_with('/') && !prefix.ends_with('/')) {
            return Err(ConfigError::Name(
                "the prefix is empty or starts with `/` and does not end with one",
            ));
        }
        let issuer_path = iss[origin.len()..].trim_end_matches('/');
        let endpoint = |route: &str| format!("{origin}{prefix}/{route}");
        let document = serde_json::json!({
            "issuer": iss,
            "jwks_uri": endpoint("jwks.json"),
            "token_endpoint": endpoint("refresh"),
            "revocation_endpoint": endpoint("revoke"),
            "grant_types_supported": ["refresh_token"],
            "response_types_supported": [],
            "token_endpoint_auth_methods_supported": ["none"],
            "revocation_endpoint_auth_methods_supported": ["none"],
        });
        Ok(Self {
            path: format!("/.well-known/oauth-authorization-server{issuer_path}"),
            document: Bytes::from(document.to_string()),
        })
    }

    /// Where the document is served: `/.well-known/oauth-authorization-server` followed by
    /// the issuer's path (RFC 8414 §3.1).
    ///
    /// ```
    /// use tower_jwt_auth::{Issuer, KeySet, SigningKey, endpoints::MetadataService};
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?))
    ///     .with_issuer("http://127.0.0.1:3000")
    ///     .build()?;
    /// let metadata = MetadataService::new(&issuer, "/auth")?;
    /// assert_eq!(metadata.path(), "/.well-known/oauth-authorization-server");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Says that the token endpoint takes DPoP proofs (RFC 9449 §5.1): adds
    /// `dpop_signing_alg_values_supported`, the algorithms `verifier` accepts, so that a
    /// client knows which key to make before it logs in.
    ///
    /// ```
    /// use tower_jwt_auth::{Issuer, KeySet, SigningKey, dpop::ProofVerifier, endpoints::MetadataService};
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?))
    ///     .with_issuer("https://auth.example")
    ///     .build()?;
    /// let proofs = ProofVerifier::builder("https://auth.example").build()?;
    /// let metadata = MetadataService::new(&issuer, "/auth")?.with_dpop(&proofs);
    /// # let _ = metadata;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_dpop(mut self, verifier: &ProofVerifier) -> Self {
        let algs: Vec<&str> = verifier.algorithms().iter().map(|a| a.as_str()).collect();
        // The document was built by `new` as a JSON object: add the member to it.
        if let Ok(serde_json::Value::Object(mut document)) =
            serde_json::from_slice::<serde_json::Value>(&self.document)
        {
            document.insert("dpop_signing_alg_values_supported".to_owned(), algs.into());
            self.document = Bytes::from(serde_json::Value::Object(document).to_string());
        }
        self
    }
}

/// The `scheme://authority` part of an issuer URL allowed in metadata: `https`, or `http` on
/// a loopback host; no query, fragment nor credentials.
pub(super) fn origin(iss: &str) -> Option<&str> {
    let (scheme, rest) = iss.split_once("://")?;
    let authority_len = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_len];
    if authority.is_empty() || authority.contains('@') || iss.contains(['?', '#']) {
        return None;
    }
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                host
            } else {
                authority
            }
        }
        _ => authority,
    };
    match scheme {
        "https" => Some(&iss[..scheme.len() + 3 + authority_len]),
        "http" if keys::is_loopback_host(host) => Some(&iss[..scheme.len() + 3 + authority_len]),
        _ => None,
    }
}

impl<B> Service<Request<B>> for MetadataService {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        ready(Ok(document_response(
            request.method(),
            || self.document.clone(),
            "application/json",
            HeaderValue::from_static("public, max-age=3600"),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Algorithm, KeySet, SigningKey};

    #[test]
    fn with_dpop_names_the_proof_algorithms_and_keeps_the_rest() {
        let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519().unwrap()))
            .with_issuer("https://auth.example")
            .build()
            .unwrap();
        let plain = MetadataService::new(&issuer, "/auth").unwrap();
        let document = |m: &MetadataService| -> serde_json::Value {
            serde_json::from_slice(&m.document).unwrap()
        };
        assert!(
            document(&plain)
                .get("dpop_signing_alg_values_supported")
                .is_none()
        );
        let proofs = ProofVerifier::builder("https://auth.example")
            .with_algorithms([Algorithm::EdDSA])
            .build()
            .unwrap();
        let with = plain.clone().with_dpop(&proofs);
        let mut expected = document(&plain);
        expected["dpop_signing_alg_values_supported"] = serde_json::json!(["EdDSA"]);
        assert_eq!(document(&with), expected);
    }

    #[test]
    fn only_https_or_loopback_http_issuers_have_metadata() {
        assert_eq!(origin("https://auth.example"), Some("https://auth.example"));
        assert_eq!(
            origin("https://auth.example:8443/t/1"),
            Some("https://auth.example:8443")
        );
        assert_eq!(
            origin("http://127.0.0.1:3000"),
            Some("http://127.0.0.1:3000")
        );
        assert_eq!(origin("http://[::1]:3000/x"), Some("http://[::1]:3000"));
        assert_eq!(origin("http://localhost"), Some("http://localhost"));
        for refused in [
            "quickstart",
            "http://auth.example",
            "https://",
            "https://user@auth.example",
            "https://auth.example/?tenant=1",
            "https://auth.example/#x",
            "ftp://auth.example",
        ] {
            assert_eq!(origin(refused), None, "{refused}");
        }
    }
}
