//! [`ProtectedResourceMetadata`]: a resource server's RFC 9728 metadata, from which clients
//! learn which authorization servers issue its tokens.

use std::{
    convert::Infallible,
    future::{Ready, ready},
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http::{HeaderValue, Request, Response};
use http_body_util::Full;
use tower_service::Service;

use super::{document::document_response, metadata::origin};
use crate::{bearer::BearerAuthLayer, config::ConfigError};

/// The well-known path of RFC 9728 §3, before the resource's own path.
const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// Serves a resource server's protected resource metadata (RFC 9728) at
/// [`path`](Self::path), `/.well-known/oauth-protected-resource` followed by the resource's
/// path, so that a client refused by the resource (401, or 403 `insufficient_scope`) learns
/// where to get a token: [`BearerAuthLayer::with_resource_metadata`] names the document's
/// [`url`](Self::url) in every `WWW-Authenticate: Bearer` challenge (`resource_metadata`),
/// and the client reads `authorization_servers` from it. MCP servers are required to serve it.
///
/// | member | value |
/// | --- | --- |
/// | `resource` | the resource identifier, as given to [`builder`](Self::builder) |
/// | `authorization_servers` | the issuers of [`with_authorization_server`](ProtectedResourceMetadataBuilder::with_authorization_server), if any |
/// | `scopes_supported` | [`with_scopes_supported`](ProtectedResourceMetadataBuilder::with_scopes_supported), if any |
/// | `bearer_methods_supported` | `["header"]`, plus `"query"` for a layer that reads the `access_token` parameter ([`with_bearer_methods_of`](ProtectedResourceMetadataBuilder::with_bearer_methods_of)) |
/// | `jwks_uri`, `resource_name`, `resource_documentation` | if set |
///
/// The document is built once; it is served as JSON with `Cache-Control: public,
/// max-age=3600` (see [`with_max_age`](ProtectedResourceMetadataBuilder::with_max_age)).
///
/// ```
/// use axum::{Router, routing::get};
/// use tower_jwt_auth::{BearerAuthLayer, Issuer, KeySet, SigningKey, endpoints::ProtectedResourceMetadata};
///
/// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?))
///     .with_issuer("https://auth.example")
///     .build()?;
/// let metadata = ProtectedResourceMetadata::builder("https://api.example/mcp")
///     .with_authorization_server("https://auth.example")
///     .with_scopes_supported(["files:read", "files:write"])
///     .build()?;
/// assert_eq!(metadata.path(), "/.well-known/oauth-protected-resource/mcp");
/// let auth = BearerAuthLayer::new(&issuer).with_resource_metadata(&metadata);
/// let path = metadata.path().to_owned();
/// let app: Router = Router::new()
///     .route("/mcp", get(|| async { "hello" }))
///     .route_layer(auth)
///     .route_service(&path, metadata);
/// # let _ = app;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ProtectedResourceMetadata {
    path: String,
    url: String,
    document: Bytes,
    cache_control: HeaderValue,
}

/// Builds a [`ProtectedResourceMetadata`]; from [`ProtectedResourceMetadata::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct ProtectedResourceMetadataBuilder {
    resource: String,
    authorization_servers: Vec<String>,
    scopes: Option<Vec<String>>,
    query: bool,
    jwks_uri: Option<String>,
    name: Option<String>,
    documentation: Option<String>,
    max_age: u64,
}

impl ProtectedResourceMetadata {
    /// The metadata of the resource identified by `resource`: an `https` URL (`http` only
    /// on a loopback host) without query, fragment nor credentials, the one clients name
    /// as the token's audience.
    ///
    /// ```
    /// use tower_jwt_auth::endpoints::ProtectedResourceMetadata;
    ///
    /// let metadata = ProtectedResourceMetadata::builder("https://api.example").build()?;
    /// assert_eq!(metadata.url(), "https://api.example/.well-known/oauth-protected-resource");
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    pub fn builder(resource: impl Into<String>) -> ProtectedResourceMetadataBuilder {
        ProtectedResourceMetadataBuilder {
            resource: resource.into(),
            authorization_servers: Vec::new(),
            scopes: None,
            query: false,
            jwks_uri: None,
            name: None,
            documentation: None,
            max_age: 3600,
        }
    }

    /// Where the document is served: `/.well-known/oauth-protected-resource` followed by
    /// the resource's path (RFC 9728 §3.1).
    ///
    /// ```
    /// use tower_jwt_auth::endpoints::ProtectedResourceMetadata;
    ///
    /// let root = ProtectedResourceMetadata::builder("https://api.example/").build()?;
    /// assert_eq!(root.path(), "/.well-known/oauth-protected-resource");
    /// let tenant = ProtectedResourceMetadata::builder("https://api.example/t/1").build()?;
    /// assert_eq!(tenant.path(), "/.well-known/oauth-protected-resource/t/1");
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The document's URL: the resource's origin followed by [`path`](Self::path); what a
    /// challenge names as `resource_metadata`.
    ///
    /// ```
    /// use tower_jwt_auth::endpoints::ProtectedResourceMetadata;
    ///
    /// let metadata = ProtectedResourceMetadata::builder("http://127.0.0.1:8080/api").build()?;
    /// assert_eq!(metadata.url(), "http://127.0.0.1:8080/.well-known/oauth-protected-resource/api");
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl ProtectedResourceMetadataBuilder {
    /// Adds an authorization server (its issuer identifier, an `https` URL, `http` only on
    /// a loopback host, without query nor fragment) whose tokens the resource accepts. A
    /// client uses the first one it supports and discovers it by RFC 8414.
    ///
    /// ```
    /// use tower_jwt_auth::endpoints::ProtectedResourceMetadata;
    ///
    /// let metadata = ProtectedResourceMetadata::builder("https://api.example")
    ///     .with_authorization_server("https://auth.example")
    ///     .build()?;
    /// # let _ = metadata;
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    pub fn with_authorization_server(mut self, issuer: impl Into<String>) -> Self {
        self.authorization_servers.push(issuer.into());
        self
    }

    /// The scopes clients may ask for to reach the resource (`scopes_supported`).
    ///
    /// ```
    /// use tower_jwt_auth::endpoints::ProtectedResourceMetadata;
    ///
    /// let metadata = ProtectedResourceMetadata::builder("https://api.example")
    ///     .with_scopes_supported(["read", "write"])
    ///     .build()?;
    /// # let _ = metadata;
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    pub fn with_scopes_supported<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// Lists the ways `layer` reads a token in `bearer_methods_supported`: `"header"`, and
    /// `"query"` if the layer has [`with_query_parameter`](BearerAuthLayer::with_query_parameter).
    /// Without it, the document says `["header"]`. Cookies are no RFC 6750 method and are
    /// not listed.
    ///
    /// ```
    /// use tower_jwt_auth::{BearerAuthLayer, Issuer, KeySet, SigningKey, endpoints::ProtectedResourceMetadata};
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let auth = BearerAuthLayer::new(&issuer).with_query_parameter();
    /// let metadata = ProtectedResourceMetadata::builder("https://api.example")
    ///     .with_bearer_methods_of(&auth)
    ///     .build()?;
    /// # let _ = metadata;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_bearer_methods_of<T, R>(mut self, layer: &BearerAuthLayer<T, R>) -> Self {
        self.query = layer.config.sources.query;
        self
    }

    /// The URL of the resource's own key set (`jwks_uri`), an `https` URL (`http` only on a
    /// loopback host); only for a resource that signs its responses.
    ///
    /// ```
    /// use tower_jwt_auth::endpoints::ProtectedResourceMetadata;
    ///
    /// let metadata = ProtectedResourceMetadata::builder("https://api.example")
    ///     .with_jwks_uri("https://api.example/jwks.json")
    ///     .build()?;
    /// # let _ = metadata;
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    pub fn with_jwks_uri(mut self, url: impl Into<String>) -> Self {
        self.jwks_uri = Some(url.into());
        self
    }

    /// A name for people (`resource_name`), shown by clients when they ask for consent.
    ///
    /// ```
    /// use tower_jwt_auth::endpoints::ProtectedResourceMetadata;
    ///
    /// let metadata = ProtectedResourceMetadata::builder("https://api.example")
    ///     .with_resource_name("Example files")
    ///     .build()?;
    /// # let _ = metadata;
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    pub fn with_resource_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The URL of the resource's documentation for developers (`resource_documentation`),
    /// an `http` or `https` URL.
    ///
    /// ```
    /// use tower_jwt_auth::endpoints::ProtectedResourceMetadata;
    ///
    /// let metadata = ProtectedResourceMetadata::builder("https://api.example")
    ///     .with_resource_documentation("https://docs.example/api")
    ///     .build()?;
    /// # let _ = metadata;
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    pub fn with_resource_documentation(mut self, url: impl Into<String>) -> Self {
        self.documentation = Some(url.into());
        self
    }

    /// How long clients and proxies may cache the document (default one hour; whole
    /// seconds).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_jwt_auth::endpoints::ProtectedResourceMetadata;
    ///
    /// let metadata = ProtectedResourceMetadata::builder("https://api.example")
    ///     .with_max_age(Duration::from_secs(300))
    ///     .build()?;
    /// # let _ = metadata;
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age.as_secs();
        self
    }

    /// The metadata, or [`ConfigError::Conflict`] for a resource, authorization server or
    /// `jwks_uri` that is not an `https` URL (`http` only on a loopback host) without query,
    /// fragment and credentials, or a documentation URL that is not `http` or `https`;
    /// [`ConfigError::Empty`] for an empty scope or resource name.
    ///
    /// ```
    /// use tower_jwt_auth::{ConfigError, endpoints::ProtectedResourceMetadata};
    ///
    /// for bad in ["http://api.example", "https://api.example/#top", "api"] {
    ///     let refused = ProtectedResourceMetadata::builder(bad).build();
    ///     assert!(matches!(refused, Err(ConfigError::Conflict(_))));
    /// }
    /// ```
    pub fn build(self) -> Result<ProtectedResourceMetadata, ConfigError> {
        let resource_origin = secure_url(&self.resource).ok_or(ConfigError::Conflict(
            "the resource must be an https URL (http only on a loopback host) without query or fragment",
        ))?;
        if self
            .authorization_servers
            .iter()
            .any(|issuer| secure_url(issuer).is_none())
        {
            return Err(ConfigError::Conflict(
                "an authorization server must be an https URL (http only on a loopback host) without query or fragment",
            ));
        }
        if self
            .jwks_uri
            .as_deref()
            .is_some_and(|u| secure_url(u).is_none())
        {
            return Err(ConfigError::Conflict(
                "the jwks_uri must be an https URL (http only on a loopback host)",
            ));
        }
        if let Some(url) = &self.documentation
            && !((url.starts_with("https://") || url.starts_with("http://")) && visible(url))
        {
            return Err(ConfigError::Conflict(
                "the resource documentation must be an http or https URL",
            ));
        }
        if let Some(scopes) = &self.scopes
            && scopes.iter().any(|s| s.is_empty() || s.contains(' '))
        {
            return Err(ConfigError::Empty("a supported scope"));
        }
        if self.name.as_deref().is_some_and(str::is_empty) {
            return Err(ConfigError::Empty("the resource name"));
        }
        let resource_path = match &self.resource[resource_origin.len()..] {
            "/" => "",
            path => path,
        };
        let path = format!("{WELL_KNOWN}{resource_path}");
        let url = format!("{resource_origin}{path}");
        let mut methods = vec!["header"];
        if self.query {
            methods.push("query");
        }
        let mut document = serde_json::json!({
            "resource": self.resource,
            "bearer_methods_supported": methods,
        });
        if !self.authorization_servers.is_empty() {
            document["authorization_servers"] = self.authorization_servers.into();
        }
        if let Some(scopes) = self.scopes {
            document["scopes_supported"] = scopes.into();
        }
        if let Some(jwks_uri) = self.jwks_uri {
            document["jwks_uri"] = jwks_uri.into();
        }
        if let Some(name) = self.name {
            document["resource_name"] = name.into();
        }
        if let Some(documentation) = self.documentation {
            document["resource_documentation"] = documentation.into();
        }
        let cache_control = HeaderValue::from_str(&format!("public, max-age={}", self.max_age))
            .map_err(|_| ConfigError::Interval("the max-age"))?;
        Ok(ProtectedResourceMetadata {
            path,
            url,
            document: Bytes::from(document.to_string()),
            cache_control,
        })
    }
}

/// The origin of `url` if it is allowed in the metadata: see [`origin`], and only visible
/// ASCII, so that it can be named in a header.
fn secure_url(url: &str) -> Option<&str> {
    origin(url).filter(|_| visible(url))
}

fn visible(url: &str) -> bool {
    url.bytes().all(|b| b.is_ascii_graphic())
}

impl ProtectedResourceMetadata {
    /// The `resource_metadata="…"` challenge parameter naming [`url`](Self::url), escaped
    /// as a quoted-string.
    pub(crate) fn challenge_param(&self) -> Bytes {
        let mut param = String::with_capacity(self.url.len() + 20);
        param.push_str("resource_metadata=\"");
        for c in self.url.chars() {
            if c == '"' || c == '\\' {
                param.push('\\');
            }
            param.push(c);
        }
        param.push('"');
        Bytes::from(param)
    }
}

impl<B> Service<Request<B>> for ProtectedResourceMetadata {
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
            self.cache_control.clone(),
        )))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::ProtectedResourceMetadata;

    #[test]
    fn the_challenge_parameter_is_a_quoted_string() {
        let metadata = ProtectedResourceMetadata::builder("https://api.example/a\"b\\c")
            .build()
            .unwrap();
        assert_eq!(
            &metadata.challenge_param()[..],
            br#"resource_metadata="https://api.example/.well-known/oauth-protected-resource/a\"b\\c""#
        );
    }
}
