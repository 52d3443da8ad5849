//! JWK SHA-256 thumbprints (RFC 7638): the `jkt` a DPoP-bound token names.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::{crypto::digest, keys::Jwk};

/// The RFC 7638 SHA-256 thumbprint of a public key, base64url without padding: the
/// `cnf.jkt` of a DPoP-bound token (RFC 9449 §6.1).
///
/// The hash covers the key type's required members only, in lexicographic order, without
/// whitespace: `crv`, `kty`, `x` for an Ed25519 `OKP` key; `crv`, `kty`, `x`, `y` for a P-256
/// `EC` key; `e`, `kty`, `n` for an `RSA` key. `None` for any other key type or curve, a
/// missing member, or a member that is not base64url text (the members are hashed as they
/// are written, not decoded; [`ProofVerifier`](super::ProofVerifier) checks the key first).
///
/// ```
/// use tower_jwt_auth::{dpop::jwk_thumbprint, keys::Jwk};
///
/// // RFC 8037 appendix A.3.
/// let jwk: Jwk = serde_json::from_str(
///     r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
/// )?;
/// assert_eq!(
///     jwk_thumbprint(&jwk).as_deref(),
///     Some("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn jwk_thumbprint(jwk: &Jwk) -> Option<String> {
    fn member(value: &Option<String>) -> Option<&str> {
        value.as_deref().filter(|v| {
            v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
    }
    let mut ctx = digest::Context::new(&digest::SHA256);
    match (jwk.kty.as_str(), jwk.crv.as_deref()) {
        ("OKP", Some("Ed25519")) => {
            for part in [
                r#"{"crv":"Ed25519","kty":"OKP","x":""#,
                member(&jwk.x)?,
                r#""}"#,
            ] {
                ctx.update(part.as_bytes());
            }
        }
        ("EC", Some("P-256")) => {
            let (x, y) = (member(&jwk.x)?, member(&jwk.y)?);
            for part in [
                r#"{"crv":"P-256","kty":"EC","x":""#,
                x,
                r#"","y":""#,
                y,
                r#""}"#,
            ] {
                ctx.update(part.as_bytes());
            }
        }
        ("RSA", _) => {
            let (e, n) = (member(&jwk.e)?, member(&jwk.n)?);
            for part in [r#"{"e":""#, e, r#"","kty":"RSA","n":""#, n, r#""}"#] {
                ctx.update(part.as_bytes());
            }
        }
        _ => return None,
    }
    Some(URL_SAFE_NO_PAD.encode(ctx.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwk(json: &str) -> Jwk {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn rfc7638_rsa_example() {
        // RFC 7638 §3.1.
        let key = jwk(r#"{
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        }"#);
        assert_eq!(
            jwk_thumbprint(&key).as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
    }

    #[test]
    fn optional_members_do_not_change_the_thumbprint() {
        let bare = jwk(r#"{"kty":"EC","crv":"P-256","x":"AQ","y":"Ag"}"#);
        let decorated = jwk(
            r#"{"kty":"EC","crv":"P-256","x":"AQ","y":"Ag","kid":"k","alg":"ES256","use":"sig"}"#,
        );
        assert!(jwk_thumbprint(&bare).is_some());
        assert_eq!(jwk_thumbprint(&bare), jwk_thumbprint(&decorated));
    }

    #[test]
    fn unsupported_or_incomplete_keys_have_none() {
        for json in [
            r#"{"kty":"oct","k":"AAAA"}"#,
            r#"{"kty":"EC","crv":"P-384","x":"AQ","y":"Ag"}"#,
            r#"{"kty":"EC","crv":"P-256","x":"AQ"}"#,
            r#"{"kty":"OKP","crv":"X25519","x":"AQ"}"#,
            r#"{"kty":"RSA","n":"AQ"}"#,
            // A member that would change the JSON it is hashed in.
            r#"{"kty":"OKP","crv":"Ed25519","x":"A\",\"y\":\"B"}"#,
        ] {
            assert_eq!(jwk_thumbprint(&jwk(json)), None, "{json}");
        }
    }
}
