//! Discovery of an issuer's JWKS from its metadata: OpenID Connect Discovery 1.0
//! (`{issuer}/.well-known/openid-configuration`) and RFC 8414 authorization server metadata
//! (`/.well-known/oauth-authorization-server{issuer path}`).
//!
//! The document found must name the configured issuer exactly (OpenID Connect Discovery §4.3,
//! RFC 8414 §3.3): a metadata document that names another issuer is refused, so a server
//! cannot hand out the keys of an issuer it is not.

use reqwest::Url;
use serde::Deserialize;

use super::remote::RemoteJwksError;

/// The metadata locations of `issuer`, in the order they are tried: OpenID Connect first
/// (the path appended to the issuer), then RFC 8414 (the well-known segment inserted between
/// the host and the issuer's path). For an issuer without a path the two differ only by name.
pub(super) fn metadata_urls(issuer: &Url) -> Result<[Url; 2], RemoteJwksError> {
    if issuer.query().is_some() || issuer.fragment().is_some() {
        return Err(RemoteJwksError::InvalidUrl(
            "an issuer has no query and no fragment",
        ));
    }
    let path = issuer.path().trim_end_matches('/');
    let mut oidc = issuer.clone();
    oidc.set_path(&format!("{path}/.well-known/openid-configuration"));
    let mut oauth = issuer.clone();
    oauth.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
    Ok([oidc, oauth])
}

/// The members of a metadata document that discovery reads.
#[derive(Deserialize)]
struct Metadata {
    issuer: String,
    jwks_uri: String,
}

/// The `jwks_uri` of a metadata document, once its `issuer` is checked to be `issuer`,
/// character for character.
pub(super) fn jwks_uri(body: &[u8], issuer: &str) -> Result<Url, RemoteJwksError> {
    let metadata: Metadata = serde_json::from_slice(body).map_err(|_| {
        RemoteJwksError::InvalidMetadata("not a JSON object with `issuer` and `jwks_uri` strings")
    })?;
    if metadata.issuer != issuer {
        return Err(RemoteJwksError::IssuerMismatch);
    }
    Url::parse(&metadata.jwks_uri)
        .map_err(|_| RemoteJwksError::InvalidMetadata("`jwks_uri` is not an absolute URL"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn urls(issuer: &str) -> [String; 2] {
        metadata_urls(&Url::parse(issuer).unwrap())
            .unwrap()
            .map(String::from)
    }

    #[test]
    fn both_locations_of_an_issuer_with_and_without_a_path() {
        assert_eq!(
            urls("https://auth.example"),
            [
                "https://auth.example/.well-known/openid-configuration",
                "https://auth.example/.well-known/oauth-authorization-server",
            ]
        );
        assert_eq!(
            urls("https://auth.example/tenant/1/"),
            [
                "https://auth.example/tenant/1/.well-known/openid-configuration",
                "https://auth.example/.well-known/oauth-authorization-server/tenant/1",
            ]
        );
        let query = Url::parse("https://auth.example/?tenant=1").unwrap();
        assert!(matches!(
            metadata_urls(&query),
            Err(RemoteJwksError::InvalidUrl(_))
        ));
    }

    #[test]
    fn the_document_must_name_the_issuer_exactly() {
        let body = br#"{"issuer":"https://auth.example","jwks_uri":"https://keys.example/k"}"#;
        let uri = jwks_uri(body, "https://auth.example").unwrap();
        assert_eq!(uri.as_str(), "https://keys.example/k");
        for other in [
            "https://auth.example/",
            "https://AUTH.example",
            "https://evil.example",
        ] {
            assert!(matches!(
                jwks_uri(body, other),
                Err(RemoteJwksError::IssuerMismatch)
            ));
        }
    }

    #[test]
    fn a_document_without_its_members_is_refused() {
        for body in [
            &b"[]"[..],
            br#"{"issuer":"https://auth.example"}"#,
            br#"{"issuer":"https://auth.example","jwks_uri":7}"#,
            br#"{"issuer":"https://auth.example","jwks_uri":"/relative"}"#,
            b"not json",
        ] {
            assert!(matches!(
                jwks_uri(body, "https://auth.example"),
                Err(RemoteJwksError::InvalidMetadata(_))
            ));
        }
    }
}
