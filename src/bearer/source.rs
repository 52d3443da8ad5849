//! Where the access token is read from: the `Authorization: Bearer` header (RFC 6750 §2.1),
//! and only when enabled a cookie or the `access_token` query parameter (§2.3).

use std::borrow::Cow;

use http::{HeaderMap, HeaderName, Method, Uri, header};

use super::AuthError;
use crate::transport::csrf;

/// The configured token sources.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sources {
    pub(crate) cookie: Option<Box<str>>,
    pub(crate) query: bool,
    /// With a cookie transport: the header whose CSRF value a token from the cookie needs on
    /// a request that changes state.
    pub(crate) csrf_header: Option<HeaderName>,
    /// With DPoP: `Authorization: DPoP <token>` is read too (RFC 9449 §7.1).
    pub(crate) dpop: bool,
}

/// Where the request's token was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    Header,
    /// `Authorization: DPoP <token>`: the request must carry a proof.
    Dpop,
    Cookie,
    Query,
}

/// RFC 6750 §2.1 `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

/// The token of the `Authorization` header and its scheme, `None` when there is none or it is
/// of another scheme (`DPoP` counts only when `dpop` is on).
fn from_header(headers: &HeaderMap, dpop: bool) -> Result<Option<(&str, Origin)>, AuthError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(AuthError::InvalidRequest(
            "more than one Authorization header",
        ));
    }
    let value = value
        .to_str()
        .map_err(|_| AuthError::InvalidRequest("Authorization header is not ASCII"))?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let origin = if scheme.eq_ignore_ascii_case("bearer") {
        Origin::Header
    } else if dpop && scheme.eq_ignore_ascii_case("dpop") {
        Origin::Dpop
    } else {
        // Credentials of another scheme: as if there were no bearer token.
        return Ok(None);
    };
    let token = rest.trim_start_matches(' ');
    if !is_b64token(token) {
        return Err(AuthError::InvalidRequest(match origin {
            Origin::Dpop => "malformed DPoP token",
            _ => "malformed bearer token",
        }));
    }
    Ok(Some((token, origin)))
}

fn from_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, AuthError> {
    let mut found = None;
    for value in headers.get_all(header::COOKIE) {
        let Ok(value) = value.to_str() else {
            continue;
        };
        for pair in value.split(';') {
            let Some((k, v)) = pair.trim().split_once('=') else {
                continue;
            };
            if k != name {
                continue;
            }
            if found.is_some() {
                return Err(AuthError::InvalidRequest("more than one token cookie"));
            }
            let v = v.trim_matches('"');
            if !is_b64token(v) {
                return Err(AuthError::InvalidRequest("malformed token cookie"));
            }
            found = Some(v);
        }
    }
    Ok(found)
}

fn from_query(uri: &Uri) -> Result<Option<Cow<'_, str>>, AuthError> {
    let Some(query) = uri.query() else {
        return Ok(None);
    };
    let mut found = None;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if k != "access_token" {
            continue;
        }
        if found.is_some() {
            return Err(AuthError::InvalidRequest(
                "more than one access_token parameter",
            ));
        }
        if !is_b64token(&v) {
            return Err(AuthError::InvalidRequest(
                "malformed access_token parameter",
            ));
        }
        found = Some(v);
    }
    Ok(found)
}

impl Sources {
    /// Finds the one token of the request and where it was; a token in two places is
    /// `invalid_request`.
    pub(crate) fn extract<'a>(
        &self,
        headers: &'a HeaderMap,
        uri: &'a Uri,
    ) -> Result<Option<(Cow<'a, str>, Origin)>, AuthError> {
        let mut token = from_header(headers, self.dpop)?.map(|(t, o)| (Cow::Borrowed(t), o));
        let mut add = |found: Option<Cow<'a, str>>, origin| {
            if let Some(found) = found {
                if token.is_some() {
                    return Err(AuthError::InvalidRequest(
                        "token presented in more than one way",
                    ));
                }
                token = Some((found, origin));
            }
            Ok(())
        };
        if let Some(name) = &self.cookie {
            add(
                from_cookie(headers, name)?.map(Cow::Borrowed),
                Origin::Cookie,
            )?;
        }
        if self.query {
            add(from_query(uri)?, Origin::Query)?;
        }
        Ok(token)
    }

    /// The cookie transport's CSRF rule: a token from the cookie on a request that changes
    /// state needs the CSRF header with the session's value (`csrf`, the token's claim).
    pub(crate) fn check_csrf(
        &self,
        origin: Origin,
        method: &Method,
        headers: &HeaderMap,
        csrf: Option<&str>,
    ) -> Result<(), AuthError> {
        match &self.csrf_header {
            Some(name) if origin == Origin::Cookie && !csrf::is_safe(method) => {
                csrf::check(headers, name, csrf).map_err(|f| AuthError::Csrf(f.description()))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    fn extract(
        sources: &Sources,
        h: &[(&str, &str)],
        uri: &str,
    ) -> Result<Option<String>, AuthError> {
        let h = headers(h);
        let uri: Uri = uri.parse().unwrap();
        sources
            .extract(&h, &uri)
            .map(|t| t.map(|(t, _)| t.into_owned()))
    }

    #[test]
    fn authorization_header_parsing() {
        let s = Sources::default();
        let ok = |v: &str| extract(&s, &[("authorization", v)], "/");
        assert_eq!(
            ok("Bearer abc.def-_~+/==").unwrap().as_deref(),
            Some("abc.def-_~+/==")
        );
        assert_eq!(ok("bearer abc").unwrap().as_deref(), Some("abc"));
        assert_eq!(ok("BEARER  abc").unwrap().as_deref(), Some("abc"));
        assert_eq!(ok("Basic dXNlcjpwYXNz").unwrap(), None);
        assert_eq!(ok("Bearerabc").unwrap(), None);
        assert_eq!(ok("DPoP abc").unwrap(), None, "DPoP is off by default");
        for bad in [
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "Bearer a,b",
            "Bearer =abc",
            "Bearer ab=c",
        ] {
            assert!(
                matches!(ok(bad), Err(AuthError::InvalidRequest(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            extract(
                &s,
                &[("authorization", "Bearer a"), ("authorization", "Bearer a")],
                "/"
            ),
            Err(AuthError::InvalidRequest(_))
        ));
        assert_eq!(
            extract(&s, &[], "/?access_token=abc").unwrap(),
            None,
            "query is off by default"
        );
    }

    #[test]
    fn the_dpop_scheme_only_with_dpop() {
        let s = Sources {
            dpop: true,
            ..Sources::default()
        };
        let h = headers(&[("authorization", "dpop abc")]);
        let uri = Uri::from_static("/");
        let (token, origin) = s.extract(&h, &uri).unwrap().unwrap();
        assert_eq!((&*token, origin), ("abc", Origin::Dpop));
        let h = headers(&[("authorization", "Bearer abc")]);
        assert_eq!(s.extract(&h, &uri).unwrap().unwrap().1, Origin::Header);
        let h = headers(&[("authorization", "DPoP a b")]);
        assert!(matches!(
            s.extract(&h, &uri),
            Err(AuthError::InvalidRequest("malformed DPoP token"))
        ));
    }

    #[test]
    fn cookie_and_query_only_when_enabled_and_never_twice() {
        let s = Sources {
            cookie: Some("at".into()),
            query: true,
            csrf_header: None,
            dpop: false,
        };
        assert_eq!(
            extract(&s, &[("cookie", "x=1; at=tok; y=2")], "/")
                .unwrap()
                .as_deref(),
            Some("tok")
        );
        assert_eq!(
            extract(&s, &[], "/p?a=1&access_token=tok")
                .unwrap()
                .as_deref(),
            Some("tok")
        );
        for (h, uri) in [
            (vec![("cookie", "at=a; at=b")], "/"),
            (vec![("cookie", "at=a"), ("authorization", "Bearer a")], "/"),
            (vec![("authorization", "Bearer a")], "/?access_token=a"),
            (vec![], "/?access_token=a&access_token=b"),
            (vec![("cookie", "at=a b")], "/"),
        ] {
            assert!(
                matches!(extract(&s, &h, uri), Err(AuthError::InvalidRequest(_))),
                "{h:?} {uri}"
            );
        }
    }
}
