//! Keys, algorithms and the key set: signing key, verification keys by `kid`, JWK import and
//! export.
//!
//! Every key is pinned to exactly one [`Algorithm`] when it is loaded. A token is only ever
//! verified with the algorithm its key is pinned to, whatever its header says, so `alg: none`,
//! HMAC-with-a-public-key confusion and algorithm substitution cannot happen. Keys are parsed
//! once, when they are loaded; verifying a token does no key parsing and no allocation.
//!
//! With the feature `remote-jwks`, `RemoteJwks` feeds a resource server's verify-only
//! [`KeySet`] from another issuer's JWKS, fetched over HTTPS and kept fresh.
//!
//! # Rotating keys without a restart
//!
//! The issuer, the bearer layer and the JWKS endpoint share one [`KeySet`]; a change is seen
//! by all of them at once, and sessions and revocations are untouched:
//!
//! ```
//! use tower_jwt_auth::{KeySet, SigningKey, endpoints::JwksService};
//!
//! async fn rotate(keys: &KeySet, jwks: &JwksService, old_kid: &str) -> Result<(), tower_jwt_auth::keys::KeyError> {
//!     // Published in the JWKS now, signing once every verifier can have fetched it (the
//!     // served max-age, 300 s by default, plus 5 s):
//!     jwks.rotate_to(SigningKey::generate_ed25519()?).await?;
//!     // ... once the longest-lived token signed with the old key has expired:
//!     keys.retire(old_kid)
//! }
//! ```
//!
//! [`KeySet::sign_with`] switches at once, for an issuer whose only verifiers share its
//! `KeySet`; a resource server that fetches the JWKS would refuse the first tokens of the new
//! key until its next fetch.
//!
//! A resource server that only verifies another service's tokens builds its set from that
//! service's JWKS document: [`KeySet::from_jwks`] (no signing key), then
//! [`Verifier::builder`](crate::Verifier::builder) and
//! [`BearerAuthLayer::new`](crate::BearerAuthLayer::new); to fetch the document and follow the
//! issuer's rotations, `RemoteJwks` (feature `remote-jwks`).
//!
//! # Resource servers
//!
//! **Discovery.** `RemoteJwks::discover("https://auth.example")` needs only the issuer's URL:
//! it reads the OpenID Connect discovery document (else the RFC 8414 metadata), refuses one
//! whose `issuer` is not exactly that URL, and fetches the keys from its `jwks_uri`;
//! `jwks.issuer()` is what `with_issuer` takes. An issuer of this crate serves its own
//! metadata with [`MetadataService::new(&issuer, "/auth")`](crate::endpoints::MetadataService::new).
//!
//! **Several issuers.** [`Verifier::for_issuers([staff, customers])`](crate::Verifier::for_issuers)
//! puts the verifiers of several issuers (each with its own keys, `with_issuer`, audience and
//! store) behind one layer: a token is checked by the verifier of the issuer it claims, and by
//! no other.
//!
//! **Revocations are not in the key set.** A resource server that only fetches keys accepts
//! a logged-out token until it expires. To refuse it at once, give its `Verifier` a
//! `RevocationStore` over the issuer's own backend
//! ([`with_revocation`](crate::token::VerifierBuilder::with_revocation)): it follows the
//! issuer's revocations on the change feed, with the same staleness bound. Build that store
//! [`read_only`](crate::store::RevocationStoreBuilder::read_only), over credentials that can
//! only read the issuer's state (the grants are listed there): it writes nothing. A service that
//! cannot reach that store asks the issuer instead: mount
//! [`IntrospectionService`](crate::endpoints::IntrospectionService) (RFC 7662, clients with
//! HTTP Basic credentials) there, and give the layer an `Introspector` (feature `remote-jwks`) with
//! [`BearerAuthLayer::with_introspection`](crate::BearerAuthLayer): answers are kept a few
//! seconds, so a logout is refused within that TTL.

mod algorithm;
mod crypto;
#[cfg(feature = "remote-jwks")]
mod discovery;
mod error;
mod jwk;
mod public;
#[cfg(feature = "remote-jwks")]
mod remote;
mod set;
mod signing;
#[cfg(feature = "remote-jwks")]
mod unknown_kid;
mod verifying;

pub use algorithm::Algorithm;
pub use error::KeyError;
pub use jwk::{Jwk, JwkSet};
#[cfg(feature = "remote-jwks")]
pub use remote::{RemoteJwks, RemoteJwksBuilder, RemoteJwksError};
#[cfg(feature = "remote-jwks")]
pub(crate) use remote::{check_url, shown};
pub use set::KeySet;
pub(crate) use set::Keys;
pub use signing::SigningKey;
pub use verifying::VerifyingKey;

/// `true` for a host (without its port; an IPv6 address in brackets or not) that names this
/// machine: `localhost` or a loopback address. The one rule behind every "https, or http to
/// a loopback host" check: the URLs keys are fetched from, and the issuer URLs metadata
/// publishes.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::is_loopback_host;

    #[test]
    fn loopback_hosts_are_localhost_and_loopback_addresses_only() {
        for host in [
            "localhost",
            "LocalHost",
            "127.0.0.1",
            "127.8.9.10",
            "[::1]",
            "::1",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "",
            "example.com",
            "localhost.example.com",
            "10.0.0.1",
            "0.0.0.0",
            "[::2]",
            "127.0.0.1.example.com",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }
}
