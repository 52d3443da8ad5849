//! The test client's cookie jar: what a browser keeps of `Set-Cookie` and sends back
//! (RFC 6265 §5.3 and §5.4, for one host over https).

use cookie::Cookie;
use http::{HeaderMap, HeaderValue, header};

/// One stored cookie.
#[derive(Clone)]
struct Stored {
    name: String,
    value: String,
    path: String,
    /// When it runs out (milliseconds on the jar's clock), if it has a `Max-Age`.
    expires_at: Option<u64>,
}

/// The cookies of one client.
#[derive(Clone, Default)]
pub(super) struct Jar {
    cookies: Vec<Stored>,
}

/// RFC 6265 §5.1.4: the default path of a cookie set by a response to `request_path`.
fn default_path(request_path: &str) -> &str {
    match request_path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &request_path[..i],
    }
}

/// RFC 6265 §5.1.4: does `cookie_path` match `request_path`?
fn path_matches(cookie_path: &str, request_path: &str) -> bool {
    request_path == cookie_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/')
                || request_path.as_bytes().get(cookie_path.len()) == Some(&b'/')))
}

impl Jar {
    /// Keeps (or deletes) the cookies of a response's `Set-Cookie` headers to `request_path`,
    /// at `now` (milliseconds); a cookie whose name's prefix its attributes break is ignored.
    pub(super) fn store(&mut self, headers: &HeaderMap, request_path: &str, now: u64) {
        for value in headers.get_all(header::SET_COOKIE) {
            let Some(cookie) = value.to_str().ok().and_then(|v| Cookie::parse(v).ok()) else {
                continue;
            };
            let path = match cookie.path() {
                Some(path) if path.starts_with('/') => path.to_owned(),
                _ => default_path(request_path).to_owned(),
            };
            let secure = cookie.secure() == Some(true);
            let name = cookie.name();
            // RFC 6265bis §4.1.3: the prefixes promise attributes.
            if name.starts_with("__Secure-") && !secure
                || name.starts_with("__Host-")
                    && (!secure || path != "/" || cookie.domain().is_some())
            {
                continue;
            }
            self.cookies.retain(|c| c.name != name || c.path != path);
            let max_age = cookie.max_age().map(|age| age.whole_milliseconds());
            if max_age.is_some_and(|age| age <= 0) {
                continue;
            }
            self.cookies.push(Stored {
                name: name.to_owned(),
                value: cookie.value().to_owned(),
                path,
                expires_at: max_age.map(|age| now.saturating_add(age as u64)),
            });
        }
    }

    /// The value of the cookie `name` that a request to `path` sends, at `now`.
    pub(super) fn get(&self, name: &str, path: &str, now: u64) -> Option<&str> {
        self.sent(path, now)
            .find(|c| c.name == name)
            .map(|c| c.value.as_str())
    }

    /// The cookies a request to `path` sends at `now`, longest path first.
    fn sent(&self, path: &str, now: u64) -> std::vec::IntoIter<&Stored> {
        let mut sent: Vec<&Stored> = self
            .cookies
            .iter()
            .filter(|c| path_matches(&c.path, path) && c.expires_at.is_none_or(|at| now < at))
            .collect();
        sent.sort_by_key(|c| std::cmp::Reverse(c.path.len()));
        sent.into_iter()
    }

    /// The `Cookie` header of a request to `path` at `now`, if any cookie goes.
    pub(super) fn header(&self, path: &str, now: u64) -> Option<HeaderValue> {
        let line = self
            .sent(path, now)
            .map(|c| format!("{}={}", c.name, c.value))
            .collect::<Vec<_>>()
            .join("; ");
        if line.is_empty() {
            return None;
        }
        let mut value = HeaderValue::from_str(&line).ok()?;
        value.set_sensitive(true);
        Some(value)
    }

    /// The names of the cookies a request to `path` sends at `now`.
    pub(super) fn names(&self, path: &str, now: u64) -> Vec<String> {
        self.sent(path, now).map(|c| c.name.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(header::SET_COOKIE, HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    #[test]
    fn paths_match_per_rfc6265() {
        assert!(path_matches("/", "/me"));
        assert!(path_matches("/auth/refresh", "/auth/refresh"));
        assert!(path_matches("/auth", "/auth/refresh"));
        assert!(!path_matches("/auth/refresh", "/me"));
        assert!(!path_matches("/auth/refresh", "/auth/refreshed"));
        assert_eq!(default_path("/auth/login"), "/auth");
        assert_eq!(default_path("/login"), "/");
    }

    #[test]
    fn prefixes_max_age_and_paths_are_honoured() {
        let mut jar = Jar::default();
        jar.store(
            &set(&[
                "__Host-a=1; Path=/; Secure",
                "__Host-b=2; Path=/x; Secure",
                "__Secure-c=3; Path=/",
                "r=4; Path=/auth/refresh; Secure; Max-Age=10",
            ]),
            "/login",
            0,
        );
        assert_eq!(jar.names("/me", 0), ["__Host-a"]);
        assert_eq!(jar.names("/auth/refresh", 0), ["r", "__Host-a"]);
        assert_eq!(jar.names("/auth/refresh", 10_000), ["__Host-a"]);
        jar.store(&set(&["__Host-a=; Path=/; Secure; Max-Age=0"]), "/", 0);
        assert!(jar.get("__Host-a", "/", 0).is_none());
        assert_eq!(jar.get("r", "/auth/refresh", 0), Some("4"));
    }
}
