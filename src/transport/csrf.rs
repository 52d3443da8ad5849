//! The CSRF double-submit check: the value of the session's `csrf` claim, sent back by the
//! page in a header, compared in constant time.

use http::{HeaderMap, HeaderName, Method};
use subtle::ConstantTimeEq;

/// Why a request that authenticates with a cookie was refused for CSRF (403).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CsrfFailure {
    /// No CSRF header.
    Missing,
    /// A CSRF header that is not the session's value (or more than one, or a session without
    /// one).
    Mismatch,
}

impl CsrfFailure {
    /// The error description sent to the client.
    pub(crate) fn description(self) -> &'static str {
        match self {
            Self::Missing => {
                "the CSRF header is missing: a request that changes state and authenticates \
                 with a cookie must send the session's CSRF value"
            }
            Self::Mismatch => "the CSRF header does not match the session's CSRF value",
        }
    }
}

/// Methods that change nothing (RFC 9110 §9.2.1) need no CSRF value; every other method does,
/// extension methods included (fail closed).
pub(crate) fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// Checks the CSRF header `name` of `headers` against the session's value `expected` (the
/// token's `csrf` claim), in constant time. A token without the claim fails.
pub(crate) fn check(
    headers: &HeaderMap,
    name: &HeaderName,
    expected: Option<&str>,
) -> Result<(), CsrfFailure> {
    let mut values = headers.get_all(name).iter();
    let Some(sent) = values.next() else {
        return Err(CsrfFailure::Missing);
    };
    if values.next().is_some() {
        return Err(CsrfFailure::Mismatch);
    }
    match expected {
        Some(expected) if !expected.is_empty() && equal(sent.as_bytes(), expected.as_bytes()) => {
            Ok(())
        }
        _ => Err(CsrfFailure::Mismatch),
    }
}

/// Constant-time equality: the time taken depends on the lengths only, never on where the
/// values differ.
fn equal(a: &[u8], b: &[u8]) -> bool {
    bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    const HEADER: HeaderName = HeaderName::from_static("x-csrf-token");

    fn with(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(HEADER, HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    #[test]
    fn right_value_passes_and_anything_else_fails() {
        assert_eq!(check(&with(&["abc"]), &HEADER, Some("abc")), Ok(()));
        assert_eq!(
            check(&with(&[]), &HEADER, Some("abc")),
            Err(CsrfFailure::Missing)
        );
        for (sent, expected) in [
            (&["abd"][..], Some("abc")),
            (&["ab"][..], Some("abc")),
            (&["abcd"][..], Some("abc")),
            (&[""][..], Some("")),
            (&["abc"][..], None),
            (&["abc", "abc"][..], Some("abc")),
        ] {
            assert_eq!(
                check(&with(sent), &HEADER, expected),
                Err(CsrfFailure::Mismatch),
                "{sent:?} {expected:?}"
            );
        }
    }

    #[test]
    fn constant_time_equality_is_equality() {
        assert!(equal(b"same value", b"same value"));
        assert!(!equal(b"same value", b"same valuE"));
        assert!(!equal(b"Same value", b"same value"));
        assert!(!equal(b"short", b"shorter"));
        assert!(equal(b"", b""));
    }

    #[test]
    fn only_safe_methods_go_without() {
        for m in [Method::GET, Method::HEAD, Method::OPTIONS, Method::TRACE] {
            assert!(is_safe(&m), "{m}");
        }
        for m in [
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::CONNECT,
            Method::from_bytes(b"PURGE").unwrap(),
        ] {
            assert!(!is_safe(&m), "{m}");
        }
    }
}
