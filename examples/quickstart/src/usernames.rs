//! Usernames: normalised and checked as RFC 8265 says (the PRECIS `UsernameCaseMapped`
//! profile), in one of two widths.
//!
//! - By default, the ASCII part of the profile: printable ASCII without spaces (`!` to `~`),
//!   upper case mapped to lower case. For ASCII input this is exactly what the full profile
//!   does; any other character is refused. Look-alikes from other scripts (a Cyrillic `а` in
//!   `аlice`) cannot be signed up at all, and the build needs no Unicode tables.
//! - With the feature `unicode-usernames`, the whole profile through `precis-profiles`:
//!   letters and digits of every script, full-width letters mapped to their usual width,
//!   accents composed (NFC), so that `ａlice` and `alice`, or an `é` sent composed or
//!   decomposed, are one account. Its build script generates Unicode tables: it roughly
//!   doubles the first build.
//!
//! Either way, spaces, control characters and invisible or direction-changing characters are
//! refused, and a name is at most [`MAX_USERNAME_CHARS`] characters once normalised.

use crate::{MAX_USERNAME_BYTES, MAX_USERNAME_CHARS};

const EMPTY: &str = "username must not be empty";
const TOO_LONG: &str = "username must be at most 64 characters";

/// The account name of `username`, or why it cannot be one.
pub(crate) fn normalise_username(username: &str) -> Result<String, &'static str> {
    if username.is_empty() {
        return Err(EMPTY);
    }
    if username.len() > MAX_USERNAME_BYTES {
        return Err(TOO_LONG);
    }
    let normalised = enforce(username)?;
    if normalised.chars().count() > MAX_USERNAME_CHARS {
        return Err(TOO_LONG);
    }
    Ok(normalised)
}

#[cfg(not(feature = "unicode-usernames"))]
fn enforce(username: &str) -> Result<String, &'static str> {
    if username.bytes().all(|byte| byte.is_ascii_graphic()) {
        Ok(username.to_ascii_lowercase())
    } else {
        Err(
            "username must be printable ASCII (letters, digits, punctuation), without spaces, \
             control or other characters",
        )
    }
}

#[cfg(feature = "unicode-usernames")]
fn enforce(username: &str) -> Result<String, &'static str> {
    use precis_profiles::{UsernameCaseMapped, precis_core::profile::PrecisFastInvocation};

    UsernameCaseMapped::enforce(username)
        .map(|normalised| normalised.into_owned())
        .map_err(|_| {
            "username must be letters, digits and printable ASCII, without spaces, control or \
             invisible characters (RFC 8265)"
        })
}

#[cfg(test)]
mod tests {
    use super::normalise_username;

    #[test]
    fn ascii_names_are_case_mapped() {
        assert_eq!(normalise_username("Alice").as_deref(), Ok("alice"));
        assert_eq!(
            normalise_username("Dave.O'Brien+test@Example.com").as_deref(),
            Ok("dave.o'brien+test@example.com")
        );
    }

    #[test]
    fn spaces_controls_and_invisibles_are_refused() {
        for name in ["", "alice ", "car\u{7}ol", "alice\u{200b}", "\u{202e}alice"] {
            assert!(normalise_username(name).is_err(), "{name:?}");
        }
        assert!(normalise_username(&"n".repeat(65)).is_err());
        assert!(normalise_username(&"n".repeat(64)).is_ok());
    }

    #[cfg(not(feature = "unicode-usernames"))]
    #[test]
    fn other_scripts_are_refused_by_default() {
        for name in ["ünïcödé", "\u{ff41}lice", "\u{430}lice", "rene\u{301}"] {
            assert!(normalise_username(name).is_err(), "{name:?}");
        }
    }

    #[cfg(feature = "unicode-usernames")]
    #[test]
    fn every_script_with_the_whole_profile() {
        assert_eq!(normalise_username("\u{ff41}lice").as_deref(), Ok("alice"));
        assert_eq!(normalise_username("REN\u{c9}").as_deref(), Ok("ren\u{e9}"));
        assert_eq!(
            normalise_username("rene\u{301}").as_deref(),
            Ok("ren\u{e9}")
        );
        assert!(normalise_username("أحمد").is_ok());
    }
}
