//! A DPoP proof JWT (RFC 9449 §4.2): its header and claims as read, and [`DpopProof`], what
//! an accepted proof tells.

use std::borrow::Cow;

use serde::Deserialize;

use crate::{
    keys::Jwk,
    token::jws::{optional_str, present},
};

/// What an accepted DPoP proof tells: the thumbprint of its key, its `jti` and its `iat`.
///
/// ```
/// # use tower_jwt_auth::dpop::DpopProof;
/// fn bind(proof: &DpopProof, token_jkt: &str) -> bool {
///     // A DPoP-bound token names the key of the proof that goes with it.
///     proof.jkt() == token_jkt
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpopProof {
    pub(super) jkt: String,
    pub(super) jti: String,
    pub(super) iat: u64,
    pub(super) renew_nonce: bool,
}

impl DpopProof {
    /// The RFC 7638 SHA-256 thumbprint of the proof's key, base64url: the `cnf.jkt` to bind
    /// a token to, or to compare with a bound token's.
    ///
    /// ```
    /// # use tower_jwt_auth::dpop::DpopProof;
    /// fn thumbprint(proof: &DpopProof) -> &str {
    ///     proof.jkt()
    /// }
    /// ```
    pub fn jkt(&self) -> &str {
        &self.jkt
    }

    /// The proof's `jti`.
    ///
    /// ```
    /// # use tower_jwt_auth::dpop::DpopProof;
    /// fn id(proof: &DpopProof) -> &str {
    ///     proof.jti()
    /// }
    /// ```
    pub fn jti(&self) -> &str {
        &self.jti
    }

    /// The proof's `iat`, in seconds since the Unix epoch.
    ///
    /// ```
    /// # use tower_jwt_auth::dpop::DpopProof;
    /// fn age(proof: &DpopProof, now: u64) -> u64 {
    ///     now.saturating_sub(proof.iat())
    /// }
    /// ```
    pub fn iat(&self) -> u64 {
        self.iat
    }

    /// `true` when the verifier requires nonces and the proof's nonce is from the previous
    /// step: send a fresh one (`DPoP-Nonce`) with the answer.
    ///
    /// ```
    /// # use tower_jwt_auth::dpop::DpopProof;
    /// fn send_nonce(proof: &DpopProof) -> bool {
    ///     proof.renew_nonce()
    /// }
    /// ```
    pub fn renew_nonce(&self) -> bool {
        self.renew_nonce
    }
}

/// The protected header of a proof.
#[derive(Deserialize)]
pub(super) struct ProofHeader<'a> {
    #[serde(default, borrow, deserialize_with = "optional_str")]
    pub(super) alg: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "optional_str")]
    pub(super) typ: Option<Cow<'a, str>>,
    #[serde(default)]
    pub(super) jwk: Option<ProofJwk>,
    #[serde(default, deserialize_with = "present")]
    pub(super) crit: bool,
}

/// The `jwk` header member: the public members a key is made of, and whether any private
/// member is present (whatever its value).
#[derive(Deserialize)]
pub(super) struct ProofJwk {
    kty: String,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default, rename = "use")]
    key_use: Option<String>,
    #[serde(default)]
    key_ops: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    d: bool,
    #[serde(default, deserialize_with = "present")]
    p: bool,
    #[serde(default, deserialize_with = "present")]
    q: bool,
    #[serde(default, deserialize_with = "present")]
    dp: bool,
    #[serde(default, deserialize_with = "present")]
    dq: bool,
    #[serde(default, deserialize_with = "present")]
    qi: bool,
    #[serde(default, deserialize_with = "present")]
    oth: bool,
    #[serde(default, deserialize_with = "present")]
    k: bool,
}

impl ProofJwk {
    /// `true` when any private member is present.
    pub(super) fn has_private_member(&self) -> bool {
        let Self {
            d,
            p,
            q,
            dp,
            dq,
            qi,
            oth,
            k,
            ..
        } = *self;
        d || p || q || dp || dq || qi || oth || k
    }

    /// The public key as a [`Jwk`] (no `kid`: the thumbprint names it).
    pub(super) fn into_jwk(self) -> Jwk {
        Jwk {
            kty: self.kty,
            crv: self.crv,
            x: self.x,
            y: self.y,
            n: self.n,
            e: self.e,
            alg: self.alg,
            key_use: self.key_use,
            key_ops: self.key_ops,
            ..Jwk::default()
        }
    }
}

/// The claims of a proof.
#[derive(Deserialize)]
pub(super) struct ProofClaims<'a> {
    #[serde(default, borrow, deserialize_with = "optional_str")]
    pub(super) jti: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "optional_str")]
    pub(super) htm: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "optional_str")]
    pub(super) htu: Option<Cow<'a, str>>,
    #[serde(default)]
    pub(super) iat: Option<u64>,
    #[serde(default, borrow, deserialize_with = "optional_str")]
    pub(super) ath: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "optional_str")]
    pub(super) nonce: Option<Cow<'a, str>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_members_are_seen_whatever_their_value() {
        for member in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            for value in ["\"AQ\"", "null", "[]"] {
                let json = format!(r#"{{"kty":"EC","x":"AQ","{member}":{value}}}"#);
                let jwk: ProofJwk = serde_json::from_str(&json).unwrap();
                assert!(jwk.has_private_member(), "{json}");
            }
        }
        let public: ProofJwk = serde_json::from_str(r#"{"kty":"EC","x":"AQ"}"#).unwrap();
        assert!(!public.has_private_member());
    }

    #[test]
    fn duplicate_or_mistyped_claims_do_not_parse() {
        for bad in [
            &br#"{"jti":"a","jti":"b"}"#[..],
            br#"{"iat":1.5}"#,
            br#"{"iat":-1}"#,
            br#"{"iat":"1"}"#,
            br#"{"htm":1}"#,
        ] {
            assert!(serde_json::from_slice::<ProofClaims<'_>>(bad).is_err());
        }
    }
}
