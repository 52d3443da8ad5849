//! The Redis backend's key naming: the prefix, the kinds of keys, the change feed's channel.

/// The default key prefix.
pub(super) const DEFAULT_PREFIX: &str = "tower-jwt-auth";
/// The longest key prefix accepted.
const MAX_PREFIX_LEN: usize = 64;

/// Checks a key prefix: 1 to 64 characters among `A-Z a-z 0-9 _ - . :` (no braces: the hash
/// tags are the backend's; no glob characters: the prefix is scanned).
pub(super) fn check_prefix(prefix: &str) -> Result<(), &'static str> {
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':');
    if prefix.is_empty() || prefix.len() > MAX_PREFIX_LEN || !prefix.chars().all(valid) {
        Err("the key prefix is 1 to 64 characters among A-Z a-z 0-9 _ - . :")
    } else {
        Ok(())
    }
}

/// The kinds of keys, by the letter after the prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Record,
    RevokedSession,
    Token,
    Subject,
    /// A subject's sessions: a sorted set, not a hash (walks of hashes pass it by).
    SubjectSessions,
    /// A session's access watermark.
    Access,
    /// An accepted DPoP proof (a string with a time to live: walks of hashes pass it by).
    DpopProof,
}

impl Kind {
    fn letter(self) -> char {
        match self {
            Self::Record => 's',
            Self::RevokedSession => 'r',
            Self::Token => 't',
            Self::Subject => 'u',
            Self::SubjectSessions => 'i',
            Self::Access => 'a',
            Self::DpopProof => 'p',
        }
    }

    fn from_letter(letter: u8) -> Option<Self> {
        match letter {
            b's' => Some(Self::Record),
            b'r' => Some(Self::RevokedSession),
            b't' => Some(Self::Token),
            b'u' => Some(Self::Subject),
            b'i' => Some(Self::SubjectSessions),
            b'a' => Some(Self::Access),
            b'p' => Some(Self::DpopProof),
            _ => None,
        }
    }
}

/// The key layout under one prefix.
#[derive(Debug)]
pub(super) struct Keys {
    pub(super) prefix: String,
    /// The change feed's channel.
    pub(super) channel: String,
    /// The `SCAN` pattern of every key under the prefix.
    pub(super) pattern: String,
}

impl Keys {
    pub(super) fn new(prefix: String) -> Self {
        Self {
            channel: format!("{prefix}:feed"),
            pattern: format!("{prefix}:*"),
            prefix,
        }
    }

    /// The key of `kind` for `id`: `{prefix}:{letter}:{{id}}`, the id a hash tag.
    pub(super) fn key(&self, kind: Kind, id: &str) -> String {
        format!("{}:{}:{{{id}}}", self.prefix, kind.letter())
    }

    /// The kind and id of one of this backend's keys; `None` for any other key.
    pub(super) fn parse<'k>(&self, key: &'k [u8]) -> Option<(Kind, &'k str)> {
        let key = std::str::from_utf8(key).ok()?;
        let rest = key.strip_prefix(self.prefix.as_str())?.strip_prefix(':')?;
        let kind = Kind::from_letter(*rest.as_bytes().first()?)?;
        let id = rest.get(1..)?.strip_prefix(":{")?.strip_suffix('}')?;
        Some((kind, id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_one_session_share_a_hash_tag_and_parse_back() {
        let keys = Keys::new("app".into());
        assert_eq!(keys.key(Kind::Record, "s1"), "app:s:{s1}");
        assert_eq!(keys.key(Kind::RevokedSession, "s1"), "app:r:{s1}");
        for kind in [
            Kind::Record,
            Kind::RevokedSession,
            Kind::Token,
            Kind::Subject,
            Kind::SubjectSessions,
            Kind::Access,
        ] {
            let key = keys.key(kind, "a}b{c");
            assert_eq!(keys.parse(key.as_bytes()), Some((kind, "a}b{c")));
        }
        assert_eq!(keys.parse(b"app:x:{s1}"), None);
        assert_eq!(keys.parse(b"apps:t:{s1}"), None);
        assert_eq!(keys.parse(b"other:t:{s1}"), None);
    }

    #[test]
    fn prefixes_are_plain_and_bounded() {
        for good in ["a", DEFAULT_PREFIX, "my-app.v2:auth", &"x".repeat(64)] {
            assert!(check_prefix(good).is_ok(), "{good}");
        }
        for bad in ["", "a{b", "a*", "with space", "a?", &"x".repeat(65)] {
            assert!(check_prefix(bad).is_err(), "{bad}");
        }
    }
}
