//! The `htu` comparison (RFC 9449 §4.3): both URIs brought to RFC 3986 §6.2.2 syntax-based
//! and §6.2.3 scheme-based normal form, without query and fragment, then compared as text.

use std::fmt::Write as _;

use http::Uri;

/// `scheme://host[:port]` of an absolute `http` or `https` URI, lowercase, the default port
/// left out; `None` for anything else (no authority, another scheme, user information).
pub(super) fn normal_origin(uri: &Uri) -> Option<String> {
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let authority = uri.authority()?;
    if authority.as_str().contains('@') || authority.host().is_empty() {
        return None;
    }
    let mut out = String::with_capacity(scheme.len() + 3 + authority.as_str().len());
    out.push_str(&scheme);
    out.push_str("://");
    out.push_str(&authority.host().to_ascii_lowercase());
    match authority.port_u16() {
        Some(port) if port != default_port => {
            // Writing to a String cannot fail.
            let _ = write!(out, ":{port}");
        }
        _ => {}
    }
    Some(out)
}

/// Appends the normal form of an absolute path to `out`: percent-encodings of unreserved
/// characters decoded, the others in uppercase hex, dot segments removed, `/` when empty.
/// `None` when a `%` is not followed by two hex digits.
pub(super) fn push_normal_path(path: &str, out: &mut String) -> Option<()> {
    let mut decoded = String::with_capacity(path.len());
    let mut bytes = path.bytes();
    while let Some(b) = bytes.next() {
        if b != b'%' {
            decoded.push(char::from(b));
            continue;
        }
        let hex = |d: Option<u8>| char::from(d?).to_digit(16);
        let (hi, lo) = (hex(bytes.next())?, hex(bytes.next())?);
        let byte = u8::try_from(hi * 16 + lo).ok()?;
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            decoded.push(char::from(byte));
        } else {
            let _ = write!(decoded, "%{byte:02X}");
        }
    }
    if decoded.is_empty() {
        decoded.push('/');
    }
    remove_dot_segments(&decoded, out);
    Some(())
}

/// RFC 3986 §5.2.4.
fn remove_dot_segments(mut input: &str, out: &mut String) {
    let start = out.len();
    let pop = |out: &mut String| {
        let last = out[start..].rfind('/').map_or(start, |i| start + i);
        out.truncate(last);
    };
    while !input.is_empty() {
        if let Some(rest) = input
            .strip_prefix("../")
            .or_else(|| input.strip_prefix("./"))
        {
            input = rest;
        } else if input.starts_with("/./") {
            input = &input[2..];
        } else if input == "/." {
            input = "/";
        } else if input.starts_with("/../") {
            input = &input[3..];
            pop(out);
        } else if input == "/.." {
            input = "/";
            pop(out);
        } else if input == "." || input == ".." {
            input = "";
        } else {
            let skip = usize::from(input.starts_with('/'));
            let end = input[skip..].find('/').map_or(input.len(), |i| i + skip);
            out.push_str(&input[..end]);
            input = &input[end..];
        }
    }
}

/// The normal form of an `htu` claim: an absolute `http` or `https` URI, its query and
/// fragment ignored.
pub(super) fn normal_htu(htu: &str) -> Option<String> {
    let without_fragment = htu.split_once('#').map_or(htu, |(before, _)| before);
    let uri: Uri = without_fragment.parse().ok()?;
    let mut out = normal_origin(&uri)?;
    push_normal_path(uri.path(), &mut out)?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(htu: &str) -> Option<String> {
        normal_htu(htu)
    }

    #[test]
    fn equivalent_uris_have_one_normal_form() {
        let canonical = norm("https://server.example.com/token").unwrap();
        assert_eq!(canonical, "https://server.example.com/token");
        for same in [
            "HTTPS://Server.EXAMPLE.com/token",
            "https://server.example.com:443/token",
            "https://server.example.com/token?x=1",
            "https://server.example.com/token#frag",
            "https://server.example.com/a/../token",
            "https://server.example.com/./token",
            "https://server.example.com/%74oken",
        ] {
            assert_eq!(norm(same).as_deref(), Some(canonical.as_str()), "{same}");
        }
        assert_eq!(
            norm("http://a.example:80").as_deref(),
            Some("http://a.example/")
        );
        assert_eq!(
            norm("https://a.example/%2f%c3%a9").as_deref(),
            Some("https://a.example/%2F%C3%A9")
        );
    }

    #[test]
    fn different_uris_stay_different() {
        let canonical = norm("https://server.example.com/token").unwrap();
        for other in [
            "http://server.example.com/token",
            "https://server.example.com:8443/token",
            "https://server.example.org/token",
            "https://server.example.com/Token",
            "https://server.example.com/token/",
            "https://server.example.com/a/token",
        ] {
            assert_ne!(norm(other).as_deref(), Some(canonical.as_str()), "{other}");
        }
    }

    #[test]
    fn unusable_htu_values_have_no_normal_form() {
        for bad in [
            "/token",
            "ftp://server.example.com/token",
            "https://user@server.example.com/token",
            "https://server.example.com/%zz",
            "https://server.example.com/%4",
            "not a uri",
            "",
        ] {
            assert_eq!(norm(bad), None, "{bad}");
        }
    }

    #[test]
    fn dot_segments_follow_rfc3986() {
        // RFC 3986 §5.2.4's examples.
        let mut out = String::new();
        remove_dot_segments("/a/b/c/./../../g", &mut out);
        assert_eq!(out, "/a/g");
        out.clear();
        remove_dot_segments("mid/content=5/../6", &mut out);
        assert_eq!(out, "mid/6");
        out.clear();
        remove_dot_segments("/../../x", &mut out);
        assert_eq!(out, "/x");
    }
}
