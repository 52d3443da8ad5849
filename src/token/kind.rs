//! [`TokenKind`]: access or refresh token, told apart by `typ`.

use std::fmt;

/// The two kinds of token, told apart by their `typ` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// An access token: `typ: at+jwt` (RFC 9068).
    Access,
    /// A refresh token: `typ: refresh+jwt`.
    Refresh,
}

impl TokenKind {
    /// The `typ` header value this crate writes for the kind.
    ///
    /// ```
    /// use tower_jwt_auth::token::TokenKind;
    ///
    /// assert_eq!(TokenKind::Access.typ(), "at+jwt");
    /// ```
    pub const fn typ(self) -> &'static str {
        match self {
            Self::Access => "at+jwt",
            Self::Refresh => "refresh+jwt",
        }
    }

    /// Whether a received `typ` names this kind. Media types are case-insensitive and may
    /// carry the `application/` prefix (RFC 7515 §4.1.9, RFC 9068 §4).
    pub(super) fn matches(self, typ: &str) -> bool {
        let want = self.typ();
        let bare = match typ.get(..12) {
            Some(prefix) if prefix.eq_ignore_ascii_case("application/") => typ.get(12..),
            _ => Some(typ),
        };
        bare.is_some_and(|t| t.eq_ignore_ascii_case(want))
    }
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Access => "access token",
            Self::Refresh => "refresh token",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typ_matching_follows_media_type_rules() {
        assert!(TokenKind::Access.matches("at+jwt"));
        assert!(TokenKind::Access.matches("application/at+jwt"));
        assert!(TokenKind::Access.matches("AT+JWT"));
        assert!(!TokenKind::Access.matches("JWT"));
        assert!(!TokenKind::Access.matches("refresh+jwt"));
        assert!(!TokenKind::Access.matches("application/"));
        assert!(!TokenKind::Access.matches("at+jwt "));
        assert!(TokenKind::Refresh.matches("refresh+jwt"));
        assert!(!TokenKind::Refresh.matches("at+jwt"));
    }
}
