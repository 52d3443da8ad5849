//! [`CookieTransport`]: which cookies carry the tokens, with which attributes.

use std::{fmt, sync::Arc};

use bytes::Bytes;
use cookie::{Cookie, time::Duration};
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode, header};
use http_body_util::Full;

use super::response::json_response;
use crate::{config::ConfigError, issuer::TokenPair};

/// The `SameSite` attribute of the transport's cookies.
///
/// ```
/// use tower_jwt_auth::transport::{CookieTransport, SameSite};
///
/// let transport = CookieTransport::mounted_at("/auth").with_same_site(SameSite::Lax).build()?;
/// # let _ = transport;
/// # Ok::<(), tower_jwt_auth::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SameSite {
    /// Never sent on a request started by another site (the default).
    Strict,
    /// Also sent on top-level navigations from another site.
    Lax,
    /// Sent on every cross-site request; requires `Secure`.
    None,
}

impl SameSite {
    fn attribute(self) -> cookie::SameSite {
        match self {
            Self::Strict => cookie::SameSite::Strict,
            Self::Lax => cookie::SameSite::Lax,
            Self::None => cookie::SameSite::None,
        }
    }
}

struct Config {
    /// Where the token routes are mounted: `/auth`, or empty for the root.
    mount: Box<str>,
    /// `mount` + `/refresh`.
    refresh_path: Box<str>,
    /// `None`: the access token goes in the response body.
    access_cookie: Option<Box<str>>,
    refresh_cookie: Box<str>,
    csrf_cookie: Box<str>,
    csrf_header: HeaderName,
    secure: bool,
    same_site: SameSite,
    domain: Option<Box<str>>,
}

/// The cookie transport for browser apps: the token endpoints put the refresh token in an
/// `HttpOnly` cookie that only the refresh endpoint receives, the access token in its own
/// `HttpOnly` cookie (or in the response body), and the session's CSRF value in a cookie that
/// the page can read; requests that authenticate with a cookie and change state must send
/// that value back in a header.
///
/// One value configures both sides, so that their names agree:
/// [`BearerAuthLayer::with_cookie_transport`](crate::BearerAuthLayer::with_cookie_transport)
/// reads the access cookie and checks the CSRF header, and
/// [`RefreshService::with_cookie_transport`](crate::endpoints::RefreshService::with_cookie_transport)
/// (or, with axum, [`cookie_token_routes`](crate::axum::cookie_token_routes)) reads the refresh
/// cookie. The transport also knows where the token routes are mounted
/// ([`mounted_at`](Self::mounted_at)): the refresh cookie's `Path` is its refresh route, and
/// `cookie_token_routes` returns the routes already there, so the two always agree. The
/// application's login handler answers with
/// [`token_response`](Self::token_response).
///
/// The cookies, secure by default:
///
/// | cookie | default name | attributes | `Max-Age` |
/// | --- | --- | --- | --- |
/// | access token | `__Host-access_token` | `HttpOnly; Secure; SameSite=Strict; Path=/` | the access token's lifetime |
/// | refresh token | `__Secure-refresh_token` | `HttpOnly; Secure; SameSite=Strict; Path=`*the refresh path* | the refresh token's lifetime |
/// | CSRF value | `__Host-csrf_token` | `Secure; SameSite=Strict; Path=/` (readable by the page) | the refresh token's lifetime |
///
/// The `__Host-` prefix (RFC 6265bis §4.1.3.2) needs `Secure`, `Path=/` and no `Domain`, so
/// the refresh cookie, whose path is narrower, gets `__Secure-`; with a domain every cookie
/// gets `__Secure-`; without `Secure` (plain-http development) none.
///
/// ```
/// use tower_jwt_auth::transport::CookieTransport;
///
/// let transport = CookieTransport::mounted_at("/auth").build()?;
/// assert_eq!(transport.access_cookie_name(), Some("__Host-access_token"));
/// assert_eq!(transport.refresh_cookie_name(), "__Secure-refresh_token");
/// assert_eq!(transport.csrf_cookie_name(), "__Host-csrf_token");
/// assert_eq!(transport.csrf_header(), "x-csrf-token");
/// # Ok::<(), tower_jwt_auth::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct CookieTransport {
    config: Arc<Config>,
}

impl fmt::Debug for CookieTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &*self.config;
        f.debug_struct("CookieTransport")
            .field("mount_path", &self.mount_path())
            .field("access_cookie", &c.access_cookie)
            .field("refresh_cookie", &c.refresh_cookie)
            .field("csrf_cookie", &c.csrf_cookie)
            .field("csrf_header", &c.csrf_header)
            .field("secure", &c.secure)
            .field("same_site", &c.same_site)
            .field("domain", &c.domain)
            .finish()
    }
}

/// Builds a [`CookieTransport`]; see [`CookieTransport::mounted_at`].
#[derive(Debug, Clone)]
pub struct CookieTransportBuilder {
    mount: String,
    access_in_body: bool,
    names: [String; 3],
    csrf_header: String,
    secure: bool,
    same_site: SameSite,
    domain: Option<String>,
}

/// RFC 6265 cookie-name: an HTTP token.
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl CookieTransport {
    /// A transport whose token routes are mounted at `path`, as the browser sees it: the
    /// refresh route is `path` + `/refresh`, and the refresh cookie is sent there only.
    /// [`cookie_token_routes`](crate::axum::cookie_token_routes) returns its routes already at
    /// `path`, to merge into the application's router; `"/"` mounts them at the root.
    ///
    /// ```
    /// use tower_jwt_auth::transport::CookieTransport;
    ///
    /// let transport = CookieTransport::mounted_at("/auth").build()?;
    /// assert_eq!(transport.mount_path(), "/auth");
    /// assert_eq!(transport.refresh_path(), "/auth/refresh");
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    pub fn mounted_at(path: impl Into<String>) -> CookieTransportBuilder {
        CookieTransportBuilder {
            mount: path.into(),
            access_in_body: false,
            names: [
                "access_token".to_owned(),
                "refresh_token".to_owned(),
                "csrf_token".to_owned(),
            ],
            csrf_header: "x-csrf-token".to_owned(),
            secure: true,
            same_site: SameSite::Strict,
            domain: None,
        }
    }

    /// Where the token routes are mounted (`"/"` for the root).
    ///
    /// ```
    /// # use tower_jwt_auth::transport::CookieTransport;
    /// assert_eq!(CookieTransport::mounted_at("/api/token/").build()?.mount_path(), "/api/token");
    /// assert_eq!(CookieTransport::mounted_at("/").build()?.mount_path(), "/");
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    pub fn mount_path(&self) -> &str {
        match &*self.config.mount {
            "" => "/",
            mount => mount,
        }
    }

    /// The path of the refresh route, the refresh cookie's `Path`: the
    /// [mount path](Self::mount_path) + `/refresh`.
    ///
    /// ```
    /// # use tower_jwt_auth::transport::CookieTransport;
    /// let transport = CookieTransport::mounted_at("/api/token").build()?;
    /// assert_eq!(transport.refresh_path(), "/api/token/refresh");
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    pub fn refresh_path(&self) -> &str {
        &self.config.refresh_path
    }

    /// The access token's cookie, prefix included; `None` when the access token goes in
    /// the response body.
    ///
    /// ```
    /// # use tower_jwt_auth::transport::CookieTransport;
    /// let transport = CookieTransport::mounted_at("/auth").with_access_in_body().build()?;
    /// assert_eq!(transport.access_cookie_name(), None);
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    pub fn access_cookie_name(&self) -> Option<&str> {
        self.config.access_cookie.as_deref()
    }

    /// The refresh token's cookie, prefix included.
    ///
    /// ```
    /// # use tower_jwt_auth::transport::CookieTransport;
    /// let transport = CookieTransport::mounted_at("/auth").allow_insecure_http().build()?;
    /// assert_eq!(transport.refresh_cookie_name(), "refresh_token");
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    pub fn refresh_cookie_name(&self) -> &str {
        &self.config.refresh_cookie
    }

    /// The cookie with the session's CSRF value, which the page reads (not `HttpOnly`).
    ///
    /// ```
    /// # use tower_jwt_auth::transport::CookieTransport;
    /// let transport = CookieTransport::mounted_at("/auth").with_domain("example.com").build()?;
    /// assert_eq!(transport.csrf_cookie_name(), "__Secure-csrf_token");
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    pub fn csrf_cookie_name(&self) -> &str {
        &self.config.csrf_cookie
    }

    /// The request header that carries the CSRF value back (`x-csrf-token` by default).
    ///
    /// ```
    /// # use tower_jwt_auth::transport::CookieTransport;
    /// let transport = CookieTransport::mounted_at("/auth").with_csrf_header("x-xsrf-token").build()?;
    /// assert_eq!(transport.csrf_header(), "x-xsrf-token");
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    pub fn csrf_header(&self) -> &HeaderName {
        &self.config.csrf_header
    }

    fn cookie<'a>(&'a self, name: &'a str, value: &'a str, path: &'a str) -> Cookie<'a> {
        let c = &*self.config;
        let mut builder = Cookie::build((name, value))
            .path(path)
            .secure(c.secure)
            .same_site(c.same_site.attribute());
        if let Some(domain) = c.domain.as_deref() {
            builder = builder.domain(domain);
        }
        builder.build()
    }

    fn append(headers: &mut HeaderMap, cookie: &Cookie<'_>) {
        if let Ok(mut value) = HeaderValue::from_str(&cookie.to_string()) {
            // The value is a token: keep it out of header logging.
            value.set_sensitive(true);
            headers.append(header::SET_COOKIE, value);
        }
    }

    /// Appends the `Set-Cookie` headers of `pair` to `headers`: the refresh token, the
    /// access token (unless it goes in the body) and the CSRF value, each with the `Max-Age`
    /// of its token.
    ///
    /// ```
    /// use http::HeaderMap;
    /// use tower_jwt_auth::{Issuer, KeySet, SigningKey, transport::CookieTransport};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let transport = CookieTransport::mounted_at("/auth").build()?;
    /// let mut headers = HeaderMap::new();
    /// transport.set_cookies(&tower_jwt_auth::Sessions::new(issuer.clone()).start("alice").await?, &mut headers);
    /// assert_eq!(headers.get_all("set-cookie").iter().count(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_cookies(&self, pair: &TokenPair, headers: &mut HeaderMap) {
        let c = &*self.config;
        let seconds = |s: u64| Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX));
        let mut refresh = self.cookie(&c.refresh_cookie, pair.refresh_token(), &c.refresh_path);
        refresh.set_http_only(true);
        refresh.set_max_age(seconds(pair.refresh_expires_in()));
        Self::append(headers, &refresh);
        if let Some(name) = c.access_cookie.as_deref() {
            let mut access = self.cookie(name, pair.access_token(), "/");
            access.set_http_only(true);
            access.set_max_age(seconds(pair.expires_in()));
            Self::append(headers, &access);
        }
        let mut csrf = self.cookie(&c.csrf_cookie, pair.csrf_token(), "/");
        csrf.set_max_age(seconds(pair.refresh_expires_in()));
        Self::append(headers, &csrf);
    }

    /// Appends `Set-Cookie` headers that delete every cookie of the transport (empty value,
    /// `Max-Age=0`, same path and domain): for logout, and after a refresh token was refused.
    ///
    /// ```
    /// use http::HeaderMap;
    /// use tower_jwt_auth::transport::CookieTransport;
    ///
    /// let transport = CookieTransport::mounted_at("/auth").build()?;
    /// let mut headers = HeaderMap::new();
    /// transport.clear_cookies(&mut headers);
    /// assert!(headers.get_all("set-cookie").iter().all(|v| v.to_str().unwrap().contains("Max-Age=0")));
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    pub fn clear_cookies(&self, headers: &mut HeaderMap) {
        let c = &*self.config;
        let mut cookies = vec![self.cookie(&c.refresh_cookie, "", &c.refresh_path)];
        if let Some(name) = c.access_cookie.as_deref() {
            cookies.push(self.cookie(name, "", "/"));
        }
        cookies.push(self.cookie(&c.csrf_cookie, "", "/"));
        for mut cookie in cookies {
            cookie.make_removal();
            Self::append(headers, &cookie);
        }
    }

    /// The response of a login, signup or refresh under this transport: `status`, the
    /// cookies of [`set_cookies`](Self::set_cookies), `Cache-Control: no-store`, and a JSON
    /// body without the refresh token:
    /// `{"expires_in", "refresh_expires_in", "scope" (if any), "csrf_token"}`, plus
    /// `"access_token"` and `"token_type"` when the access token goes in the body.
    ///
    /// ```
    /// use http::StatusCode;
    /// use tower_jwt_auth::{Issuer, KeySet, SigningKey, transport::CookieTransport};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let transport = CookieTransport::mounted_at("/auth").build()?;
    /// let pair = tower_jwt_auth::Sessions::new(issuer.clone()).start("alice").await?;
    /// let response = transport.token_response(StatusCode::CREATED, &pair);
    /// assert_eq!(response.status(), StatusCode::CREATED);
    /// assert_eq!(response.headers()["cache-control"], "no-store");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn token_response(&self, status: StatusCode, pair: &TokenPair) -> Response<Full<Bytes>> {
        let mut body = serde_json::json!({
            "expires_in": pair.expires_in(),
            "refresh_expires_in": pair.refresh_expires_in(),
            "csrf_token": pair.csrf_token(),
        });
        if !pair.scope().is_empty() {
            body["scope"] = pair.scope().into();
        }
        if self.config.access_cookie.is_none() {
            body["access_token"] = pair.access_token().into();
            body["token_type"] = "Bearer".into();
        }
        let mut response = json_response(status, &body);
        if response.status() == status {
            self.set_cookies(pair, response.headers_mut());
        }
        response
    }

    /// The refresh token of the request's refresh cookie; two such cookies are an error.
    pub(crate) fn refresh_cookie<'a>(
        &self,
        headers: &'a HeaderMap,
    ) -> Result<Option<&'a str>, &'static str> {
        let mut found = None;
        let mut seen = false;
        for value in headers.get_all(header::COOKIE) {
            let Ok(value) = value.to_str() else {
                continue;
            };
            for cookie in Cookie::split_parse(value).flatten() {
                if cookie.name() != &*self.config.refresh_cookie {
                    continue;
                }
                if seen {
                    return Err("more than one refresh token cookie");
                }
                seen = true;
                // An empty value (a cookie being deleted) counts as none.
                found = cookie.value_raw().filter(|v| !v.is_empty());
            }
        }
        Ok(found)
    }
}

impl CookieTransportBuilder {
    /// Puts the access token in the response body instead of a cookie: the page keeps it in
    /// memory and sends it as `Authorization: Bearer`, which needs no CSRF protection; only
    /// the refresh token is in a cookie.
    ///
    /// ```
    /// # use tower_jwt_auth::transport::CookieTransport;
    /// let transport = CookieTransport::mounted_at("/auth").with_access_in_body().build()?;
    /// assert!(transport.access_cookie_name().is_none());
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_access_in_body(mut self) -> Self {
        self.access_in_body = true;
        self
    }

    /// The cookies' names, without prefix: the transport adds `__Host-` or `__Secure-` as
    /// the attributes allow. Defaults: `access_token`, `refresh_token`, `csrf_token`.
    ///
    /// ```
    /// # use tower_jwt_auth::transport::CookieTransport;
    /// let transport = CookieTransport::mounted_at("/auth").with_cookie_names("at", "rt", "xsrf").build()?;
    /// assert_eq!(transport.csrf_cookie_name(), "__Host-xsrf");
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_cookie_names(
        mut self,
        access: impl Into<String>,
        refresh: impl Into<String>,
        csrf: impl Into<String>,
    ) -> Self {
        self.names = [access.into(), refresh.into(), csrf.into()];
        self
    }

    /// The request header that carries the CSRF value (default `X-CSRF-Token`).
    ///
    /// ```
    /// # use tower_jwt_auth::transport::CookieTransport;
    /// let transport = CookieTransport::mounted_at("/auth").with_csrf_header("X-XSRF-Token").build()?;
    /// assert_eq!(transport.csrf_header(), "x-xsrf-token");
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_csrf_header(mut self, name: impl Into<String>) -> Self {
        self.csrf_header = name.into();
        self
    }

    /// The cookies' `SameSite` attribute (default `Strict`).
    ///
    /// Risk: `Lax` sends the access cookie on top-level navigations from other sites and
    /// `None` on every cross-site request: the CSRF header still guards the methods that
    /// change state, but safe methods (`GET`) must then change nothing.
    ///
    /// ```
    /// # use tower_jwt_auth::transport::{CookieTransport, SameSite};
    /// let transport = CookieTransport::mounted_at("/auth").with_same_site(SameSite::Lax).build()?;
    /// # let _ = transport;
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = same_site;
        self
    }

    /// The cookies' `Domain` (default none: host-only cookies). With a domain the cookies are
    /// sent to its subdomains too and cannot have the `__Host-` prefix.
    ///
    /// ```
    /// # use tower_jwt_auth::transport::CookieTransport;
    /// let transport = CookieTransport::mounted_at("/auth").with_domain("example.com").build()?;
    /// assert_eq!(transport.access_cookie_name(), Some("__Secure-access_token"));
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// Cookies without `Secure` and without prefix, for plain-http development only:
    /// [`build`](Self::build) logs a warning.
    ///
    /// Risk: over plain http the tokens travel in clear text and can be read and replayed by
    /// anyone on the network path. Never in production.
    ///
    /// ```
    /// # use tower_jwt_auth::transport::CookieTransport;
    /// let transport = CookieTransport::mounted_at("/auth").allow_insecure_http().build()?;
    /// assert_eq!(transport.access_cookie_name(), Some("access_token"));
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    #[must_use]
    pub fn allow_insecure_http(mut self) -> Self {
        self.secure = false;
        self
    }

    /// The transport, or why the configuration is refused: a mount path that is not an
    /// absolute path or holds a character other than letters, digits and `/-._~!$&'()+,=@%`
    /// (no route parameters, `;`, spaces or controls), a cookie name that is not an HTTP token (or carries a prefix already),
    /// two cookies of the same name, a CSRF header name that is not a header name, an empty
    /// or malformed domain, or `SameSite=None` without `Secure`.
    ///
    /// ```
    /// use tower_jwt_auth::transport::{CookieTransport, SameSite};
    ///
    /// let refused = CookieTransport::mounted_at("/auth")
    ///     .allow_insecure_http()
    ///     .with_same_site(SameSite::None)
    ///     .build();
    /// assert!(refused.is_err());
    /// assert!(CookieTransport::mounted_at("auth").build().is_err());
    /// assert!(CookieTransport::mounted_at("/{tenant}/auth").build().is_err());
    /// ```
    pub fn build(self) -> Result<CookieTransport, ConfigError> {
        let mount = self.mount.trim_end_matches('/');
        if !self.mount.starts_with('/')
            || mount.contains("//")
            || !mount
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/-._~!$&'()+,=@%".contains(&b))
        {
            return Err(ConfigError::Name(
                "the mount path must be an absolute path of letters, digits and \
                 `/-._~!$&'()+,=@%`",
            ));
        }
        let path = format!("{mount}/refresh");
        if self.same_site == SameSite::None && !self.secure {
            return Err(ConfigError::Conflict("SameSite=None requires Secure"));
        }
        if let Some(domain) = self.domain.as_deref() {
            let valid = !domain.is_empty()
                && domain
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
            if !valid {
                return Err(ConfigError::Name("the cookie domain is not a host name"));
            }
        }
        for name in &self.names {
            if !is_token(name) {
                return Err(ConfigError::Name("a cookie name is not an HTTP token"));
            }
            let lower = name.to_ascii_lowercase();
            if lower.starts_with("__host-") || lower.starts_with("__secure-") {
                return Err(ConfigError::Name(
                    "cookie names are given without prefix: the transport adds `__Host-` or \
                     `__Secure-` as the attributes allow",
                ));
            }
        }
        let [access, refresh, csrf] = &self.names;
        if access == refresh || access == csrf || refresh == csrf {
            return Err(ConfigError::Conflict("two cookies with the same name"));
        }
        let csrf_header = HeaderName::from_bytes(self.csrf_header.as_bytes())
            .map_err(|_| ConfigError::Name("the CSRF header is not a header name"))?;
        let host_only = self.domain.is_none();
        // RFC 6265bis §4.1.3: `__Host-` needs Secure, Path=/ and no Domain; `__Secure-`
        // needs Secure.
        let prefixed = |name: &str, path: &str| -> Box<str> {
            match (self.secure, host_only && path == "/") {
                (false, _) => name.into(),
                (true, true) => format!("__Host-{name}").into(),
                (true, false) => format!("__Secure-{name}").into(),
            }
        };
        if !self.secure {
            tracing::warn!(
                "cookie transport without `Secure`: tokens travel in clear text over plain http; \
                 for local development only"
            );
        }
        Ok(CookieTransport {
            config: Arc::new(Config {
                access_cookie: (!self.access_in_body).then(|| prefixed(access, "/")),
                refresh_cookie: prefixed(refresh, &path),
                csrf_cookie: prefixed(csrf, "/"),
                mount: mount.into(),
                refresh_path: path.into(),
                csrf_header,
                secure: self.secure,
                same_site: self.same_site,
                domain: self.domain.map(String::into_boxed_str),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_configurations_are_refused() {
        let b = || CookieTransport::mounted_at("/auth");
        for refused in [
            CookieTransport::mounted_at("auth").build(),
            CookieTransport::mounted_at("/a;b").build(),
            CookieTransport::mounted_at("").build(),
            CookieTransport::mounted_at("/a b").build(),
            CookieTransport::mounted_at("/{tenant}").build(),
            CookieTransport::mounted_at("/*rest").build(),
            CookieTransport::mounted_at("/a//b").build(),
            CookieTransport::mounted_at("/a?b").build(),
            b().with_same_site(SameSite::None)
                .allow_insecure_http()
                .build(),
            b().with_cookie_names("__Host-at", "rt", "c").build(),
            b().with_cookie_names("at", "__secure-rt", "c").build(),
            b().with_cookie_names("a t", "rt", "c").build(),
            b().with_cookie_names("", "rt", "c").build(),
            b().with_cookie_names("same", "same", "c").build(),
            b().with_csrf_header("x csrf").build(),
            b().with_domain("").build(),
            b().with_domain("exa mple.com").build(),
        ] {
            assert!(refused.is_err());
        }
        assert!(b().with_same_site(SameSite::None).build().is_ok());
    }

    #[test]
    fn prefixes_follow_the_attributes() {
        let t = CookieTransport::mounted_at("/").build().unwrap();
        assert_eq!(t.refresh_path(), "/refresh");
        assert_eq!(t.refresh_cookie_name(), "__Secure-refresh_token");
        let t = CookieTransport::mounted_at("/auth")
            .with_domain("example.com")
            .build()
            .unwrap();
        assert_eq!(t.refresh_cookie_name(), "__Secure-refresh_token");
        assert_eq!(t.csrf_cookie_name(), "__Secure-csrf_token");
        let t = CookieTransport::mounted_at("/auth")
            .allow_insecure_http()
            .build()
            .unwrap();
        assert_eq!(t.refresh_cookie_name(), "refresh_token");
        assert_eq!(t.csrf_cookie_name(), "csrf_token");
    }

    #[test]
    fn the_refresh_cookie_is_found_once() {
        let t = CookieTransport::mounted_at("/r")
            .allow_insecure_http()
            .build()
            .unwrap();
        let mut h = HeaderMap::new();
        assert_eq!(t.refresh_cookie(&h), Ok(None));
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; refresh_token=abc.def; b=2"),
        );
        assert_eq!(t.refresh_cookie(&h), Ok(Some("abc.def")));
        h.insert(header::COOKIE, HeaderValue::from_static("refresh_token="));
        assert_eq!(t.refresh_cookie(&h), Ok(None));
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("refresh_token=a; refresh_token=b"),
        );
        assert!(t.refresh_cookie(&h).is_err());
    }
}
