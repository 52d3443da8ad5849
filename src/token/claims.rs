//! The claims a token carries: the registered ones and the application's own.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de::DeserializeOwned};

use super::TokenError;
use crate::redact::Redacted;

/// The application's claims when it has none of its own.
///
/// ```
/// use tower_jwt_auth::{Claims, token::NoCustomClaims};
///
/// fn handler(claims: Claims<NoCustomClaims>) -> String {
///     claims.sub
/// }
/// # let _ = handler;
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoCustomClaims {}

/// The claims of a verified token: the registered claims plus the application's `T`,
/// flattened into the same JSON object.
///
/// Claims are only ever produced by the [`Verifier`](crate::Verifier) or the
/// [`Issuer`](crate::Issuer): holding a `Claims` means the token passed every check.
///
/// # Example
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use tower_jwt_auth::Claims;
///
/// #[derive(Clone, Serialize, Deserialize)]
/// struct Tenant {
///     tenant: String,
/// }
///
/// fn can_write(claims: &Claims<Tenant>) -> bool {
///     claims.has_scope("write") && claims.custom.tenant == "acme"
/// }
/// # let _ = can_write;
/// ```
#[derive(Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Claims<T = NoCustomClaims> {
    /// `iss`: who issued the token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// `sub`: whom the token is about (the user id).
    pub sub: String,
    /// `aud`: the audiences the token is meant for (empty when the token names none).
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "serialize_audience"
    )]
    pub aud: Vec<String>,
    /// `exp`: expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// `nbf`: not valid before, seconds since the Unix epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// `iat`: issued at, seconds since the Unix epoch.
    pub iat: u64,
    /// `jti`: the token's unique id.
    pub jti: String,
    /// `sid`: the session (the family of tokens started by one login).
    pub sid: String,
    /// `scope`: space-separated scopes (RFC 9068); empty when there are none.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scope: String,
    /// `auth_time`: when the session started (the login), seconds since the Unix epoch
    /// (RFC 9068 §2.2.1). Every token of a session carries the same value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<u64>,
    /// `cnf`: the key the token is bound to (RFC 7800), present on DPoP-bound tokens
    /// (RFC 9449 §6). A bound token is accepted only with a proof made by that key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
    /// The application's own claims.
    #[serde(flatten)]
    pub custom: T,
    /// `auth_time` with millisecond precision, which orders a session against a "log out
    /// everywhere" cut-off made in the same second.
    #[serde(rename = "auth_time_ms", skip_serializing_if = "Option::is_none")]
    pub(crate) auth_time_ms: Option<u64>,
    /// On refresh tokens: the session's absolute expiry.
    #[serde(rename = "sexp", skip_serializing_if = "Option::is_none")]
    pub(crate) session_exp: Option<u64>,
    /// The session's CSRF value (the cookie transport's double-submit value).
    #[serde(rename = "csrf", skip_serializing_if = "Option::is_none")]
    pub(crate) csrf: Option<String>,
    /// The pair's number in its session: 0 at login, one more at each refresh.
    #[serde(rename = "seq", skip_serializing_if = "Option::is_none")]
    pub(crate) seq: Option<u64>,
}

/// The confirmation claim `cnf` (RFC 7800 §3.1): the proof-of-possession key a token is
/// bound to.
///
/// Only the DPoP member `jkt` (RFC 9449 §6.1) is understood. A `cnf` naming anything else
/// (a certificate thumbprint of mutual TLS, say) is refused when the token is verified:
/// a binding that cannot be checked must not be ignored.
///
/// ```
/// use tower_jwt_auth::{Claims, token::NoCustomClaims};
///
/// fn bound_to(claims: &Claims<NoCustomClaims>) -> Option<&str> {
///     claims.cnf.as_ref().map(|cnf| cnf.jkt.as_str())
/// }
/// # let _ = bound_to;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Confirmation {
    /// `jkt`: the RFC 7638 SHA-256 thumbprint of the client's public key, base64url.
    pub jkt: String,
}

/// Every claim but the CSRF value, which `Debug` output (logs, panics) must not carry: with
/// it, a page on another site could pass the double-submit check.
impl<T: fmt::Debug> fmt::Debug for Claims<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            iss,
            sub,
            aud,
            exp,
            nbf,
            iat,
            jti,
            sid,
            scope,
            auth_time,
            cnf,
            custom,
            auth_time_ms,
            session_exp,
            csrf,
            seq,
        } = self;
        f.debug_struct("Claims")
            .field("iss", iss)
            .field("sub", sub)
            .field("aud", aud)
            .field("exp", exp)
            .field("nbf", nbf)
            .field("iat", iat)
            .field("jti", jti)
            .field("sid", sid)
            .field("scope", scope)
            .field("auth_time", auth_time)
            .field("cnf", cnf)
            .field("custom", custom)
            .field("auth_time_ms", auth_time_ms)
            .field("session_exp", session_exp)
            .field("csrf", &csrf.as_ref().map(|_| Redacted))
            .field("seq", seq)
            .finish()
    }
}

impl<T> Claims<T> {
    /// `true` if `scope` is one of the token's scopes (exact, case-sensitive match).
    ///
    /// ```
    /// # use tower_jwt_auth::{Claims, token::NoCustomClaims};
    /// fn is_admin(claims: &Claims<NoCustomClaims>) -> bool {
    ///     claims.has_scope("admin")
    /// }
    /// # let _ = is_admin;
    /// ```
    pub fn has_scope(&self, scope: &str) -> bool {
        !scope.is_empty() && self.scopes().any(|s| s == scope)
    }

    /// `true` if the token has every scope of `required`.
    ///
    /// ```
    /// # use tower_jwt_auth::{Claims, token::NoCustomClaims};
    /// fn can_edit(claims: &Claims<NoCustomClaims>) -> bool {
    ///     claims.has_all_scopes(["read", "write"])
    /// }
    /// # let _ = can_edit;
    /// ```
    pub fn has_all_scopes<'a>(&self, required: impl IntoIterator<Item = &'a str>) -> bool {
        required.into_iter().all(|s| self.has_scope(s))
    }

    /// The token's scopes.
    ///
    /// ```
    /// # use tower_jwt_auth::{Claims, token::NoCustomClaims};
    /// fn scopes(claims: &Claims<NoCustomClaims>) -> Vec<&str> {
    ///     claims.scopes().collect()
    /// }
    /// # let _ = scopes;
    /// ```
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split(' ').filter(|s| !s.is_empty())
    }

    /// On a refresh token, the absolute expiry of its session (seconds since the epoch).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// use tower_jwt_auth::{Claims, Issuer, KeySet, SigningKey};
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let pair = tower_jwt_auth::Sessions::new(issuer.clone()).start("alice").await?;
    /// let refresh: Claims = issuer.verifier().verify_refresh(pair.refresh_token())?;
    /// assert!(refresh.session_expires_at().is_some());
    /// let access: Claims = issuer.verifier().verify_access(pair.access_token())?;
    /// assert_eq!(access.session_expires_at(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn session_expires_at(&self) -> Option<u64> {
        self.session_exp
    }

    /// The session's CSRF value (claim `csrf`): random per session, the same in every token
    /// of the session, and what a browser page sends back in the CSRF header under the
    /// [cookie transport](crate::transport::CookieTransport).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// use tower_jwt_auth::{Claims, Issuer, KeySet, SigningKey};
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let pair = tower_jwt_auth::Sessions::new(issuer.clone()).start("alice").await?;
    /// let claims: Claims = issuer.verifier().verify_access(pair.access_token())?;
    /// assert_eq!(claims.csrf_token(), Some(pair.csrf_token()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn csrf_token(&self) -> Option<&str> {
        self.csrf.as_deref()
    }

    /// The number of the token's pair in its session (private claim `seq`): 0 for the pair
    /// handed out at login, one more for each refresh (a retry inside the reuse grace window
    /// mints the same number again). Revoking an access token revokes the access tokens of
    /// its session numbered as it is or lower, and nothing else
    /// ([`Sessions::revoke_token`](crate::Sessions::revoke_token)). `None` for a token
    /// minted without it, by an earlier version: such an access token is refused wherever
    /// revocation is checked.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// use tower_jwt_auth::{Claims, Issuer, KeySet, Sessions, SigningKey};
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let sessions = Sessions::new(issuer.clone());
    /// let first = sessions.start("alice").await?;
    /// let second = sessions.refresh(first.refresh_token()).await?;
    /// let claims: Claims = issuer.verifier().verify_access(second.access_token())?;
    /// assert_eq!(claims.sequence(), Some(1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sequence(&self) -> Option<u64> {
        self.seq
    }

    /// The same claims with the application's part converted by `convert`.
    pub(crate) fn try_map_custom<U, E>(
        self,
        convert: impl FnOnce(T) -> Result<U, E>,
    ) -> Result<Claims<U>, E> {
        Ok(Claims {
            iss: self.iss,
            sub: self.sub,
            aud: self.aud,
            exp: self.exp,
            nbf: self.nbf,
            iat: self.iat,
            jti: self.jti,
            sid: self.sid,
            scope: self.scope,
            auth_time: self.auth_time,
            cnf: self.cnf,
            custom: convert(self.custom)?,
            auth_time_ms: self.auth_time_ms,
            session_exp: self.session_exp,
            csrf: self.csrf,
            seq: self.seq,
        })
    }

    /// When the token's session started, in milliseconds since the epoch. A token that
    /// carries only whole seconds is taken to start at the *start* of its second, and one
    /// without `auth_time` at the epoch, so that any "log out everywhere" cut-off covers
    /// what cannot be placed after it (fail closed).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// use tower_jwt_auth::{Claims, Issuer, KeySet, Sessions, SigningKey};
    ///
    /// let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).build()?;
    /// let pair = Sessions::new(issuer.clone()).start("alice").await?;
    /// let claims: Claims = issuer.verifier().verify_access(pair.access_token())?;
    /// assert_eq!(claims.session_started_millis() / 1000, claims.auth_time.unwrap());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn session_started_millis(&self) -> u64 {
        self.auth_time_ms
            .or_else(|| self.auth_time.map(|secs| secs.saturating_mul(1000)))
            .unwrap_or(0)
    }
}

fn serialize_audience<S: Serializer>(aud: &[String], s: S) -> Result<S::Ok, S::Error> {
    match aud {
        [one] => s.serialize_str(one),
        many => many.serialize(s),
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

fn deserialize_audience<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    Ok(Some(match OneOrMany::deserialize(d)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    }))
}

/// The wire form: every registered claim optional, so that a missing one is reported by
/// name. A member that is present must have its type: `null` is refused, never taken for
/// "absent".
#[derive(Deserialize)]
struct RawClaims<T> {
    #[serde(default, deserialize_with = "not_null")]
    iss: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    sub: Option<String>,
    #[serde(default, deserialize_with = "deserialize_audience")]
    aud: Option<Vec<String>>,
    #[serde(default, deserialize_with = "not_null")]
    exp: Option<u64>,
    #[serde(default, deserialize_with = "not_null")]
    nbf: Option<u64>,
    #[serde(default, deserialize_with = "not_null")]
    iat: Option<u64>,
    #[serde(default, deserialize_with = "not_null")]
    jti: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    sid: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    scope: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    auth_time: Option<u64>,
    #[serde(default, deserialize_with = "not_null")]
    auth_time_ms: Option<u64>,
    #[serde(default, deserialize_with = "not_null")]
    sexp: Option<u64>,
    #[serde(default, deserialize_with = "not_null")]
    csrf: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    seq: Option<u64>,
    #[serde(default, deserialize_with = "not_null")]
    cnf: Option<Confirmation>,
    #[serde(flatten)]
    custom: T,
}

/// A member that is present: its value, which `null` is not.
fn not_null<'de, D, V>(d: D) -> Result<Option<V>, D::Error>
where
    D: Deserializer<'de>,
    V: Deserialize<'de>,
{
    V::deserialize(d).map(Some)
}

impl<T: DeserializeOwned> Claims<T> {
    /// Parses a token payload and checks that every required claim is present.
    pub(crate) fn from_json(payload: &[u8]) -> Result<Self, TokenError> {
        let raw: RawClaims<T> = serde_json::from_slice(payload).map_err(|_| {
            TokenError::Malformed("claims are not a JSON object of the expected claim types")
        })?;
        Ok(Self {
            exp: raw.exp.ok_or(TokenError::MissingClaim("exp"))?,
            iat: raw.iat.ok_or(TokenError::MissingClaim("iat"))?,
            jti: raw
                .jti
                .filter(|s| !s.is_empty())
                .ok_or(TokenError::MissingClaim("jti"))?,
            sub: raw
                .sub
                .filter(|s| !s.is_empty())
                .ok_or(TokenError::MissingClaim("sub"))?,
            sid: raw
                .sid
                .filter(|s| !s.is_empty())
                .ok_or(TokenError::MissingClaim("sid"))?,
            iss: raw.iss,
            aud: raw.aud.unwrap_or_default(),
            nbf: raw.nbf,
            scope: raw.scope.unwrap_or_default(),
            auth_time: raw.auth_time,
            cnf: match raw.cnf {
                Some(cnf) if cnf.jkt.is_empty() => {
                    return Err(TokenError::Malformed("cnf.jkt is empty"));
                }
                cnf => cnf,
            },
            custom: raw.custom,
            auth_time_ms: raw.auth_time_ms,
            session_exp: raw.sexp,
            csrf: raw.csrf,
            seq: raw.seq,
        })
    }
}

/// The registered claims the issuer writes, borrowed so that minting copies nothing.
#[derive(Serialize)]
pub(crate) struct OutClaims<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) iss: Option<&'a str>,
    pub(crate) sub: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) aud: Option<&'a str>,
    pub(crate) exp: u64,
    pub(crate) iat: u64,
    pub(crate) auth_time: u64,
    pub(crate) auth_time_ms: u64,
    pub(crate) jti: &'a str,
    pub(crate) sid: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub(crate) scope: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sexp: Option<u64>,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub(crate) csrf: &'a str,
    pub(crate) seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cnf: Option<OutConfirmation<'a>>,
    #[serde(flatten)]
    pub(crate) custom: &'a serde_json::Map<String, serde_json::Value>,
}

/// `cnf` as the issuer writes it.
#[derive(Serialize)]
pub(crate) struct OutConfirmation<'a> {
    pub(crate) jkt: &'a str,
}

/// Claim names the application's claims may not use.
pub(crate) const REGISTERED: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "sid",
    "scope",
    "auth_time",
    "auth_time_ms",
    "sexp",
    "csrf",
    "seq",
    "cnf",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Custom {
        tenant: String,
    }

    fn full() -> serde_json::Value {
        serde_json::json!({
            "iss": "i", "sub": "alice", "aud": "api", "exp": 20, "iat": 10, "jti": "j",
            "sid": "s", "scope": "read  write", "tenant": "acme"
        })
    }

    #[test]
    fn parses_registered_and_custom_claims() {
        let c = Claims::<Custom>::from_json(full().to_string().as_bytes()).unwrap();
        assert_eq!(c.sub, "alice");
        assert_eq!(c.aud, vec!["api".to_owned()]);
        assert_eq!(c.custom.tenant, "acme");
        assert!(c.has_scope("write"));
        assert!(!c.has_scope(""));
        assert!(!c.has_scope("wri"));
        assert_eq!(c.scopes().collect::<Vec<_>>(), ["read", "write"]);
        assert!(c.has_all_scopes(["read", "write"]));
        assert!(!c.has_all_scopes(["read", "admin"]));
    }

    #[test]
    fn debug_output_shows_the_claims_but_never_the_csrf_value() {
        let mut v = full();
        v["csrf"] = "Q2hvb3NlIGEgc2VjcmV0".into();
        let c = Claims::<Custom>::from_json(v.to_string().as_bytes()).unwrap();
        assert_eq!(c.csrf.as_deref(), Some("Q2hvb3NlIGEgc2VjcmV0"));
        let debug = format!("{c:?}");
        assert!(debug.contains(r#"sub: "alice""#), "{debug}");
        assert!(debug.contains("acme"), "{debug}");
        assert!(debug.contains("csrf: Some([redacted])"), "{debug}");
        assert!(!debug.contains("Q2hvb3NlIGEgc2VjcmV0"), "{debug}");
    }

    #[test]
    fn each_required_claim_is_named_when_missing() {
        for name in ["exp", "iat", "jti", "sub", "sid"] {
            let mut v = full();
            v.as_object_mut().unwrap().remove(name);
            let err = Claims::<Custom>::from_json(v.to_string().as_bytes()).unwrap_err();
            assert_eq!(err, TokenError::MissingClaim(name));
        }
    }

    #[test]
    fn wrong_types_and_duplicates_are_malformed() {
        for bad in [
            r#"{"sub":"a","exp":"soon","iat":1,"jti":"j","sid":"s"}"#,
            r#"{"sub":"a","exp":-1,"iat":1,"jti":"j","sid":"s"}"#,
            r#"{"sub":"a","sub":"b","exp":1,"iat":1,"jti":"j","sid":"s"}"#,
            r#"[1,2]"#,
        ] {
            assert!(
                matches!(
                    Claims::<NoCustomClaims>::from_json(bad.as_bytes()),
                    Err(TokenError::Malformed(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_session_starts_at_the_millisecond_else_at_the_start_of_its_second_else_at_the_epoch() {
        let mut v = full();
        v["auth_time"] = 10.into();
        v["auth_time_ms"] = 10_250.into();
        let started = |v: &serde_json::Value| {
            Claims::<Custom>::from_json(v.to_string().as_bytes())
                .unwrap()
                .session_started_millis()
        };
        assert_eq!(started(&v), 10_250);
        v.as_object_mut().unwrap().remove("auth_time_ms");
        assert_eq!(started(&v), 10_000);
        v.as_object_mut().unwrap().remove("auth_time");
        assert_eq!(started(&v), 0);
    }

    #[test]
    fn a_dpop_binding_is_read_and_anything_else_in_cnf_is_refused() {
        let mut v = full();
        v["cnf"] = serde_json::json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"});
        let c = Claims::<Custom>::from_json(v.to_string().as_bytes()).unwrap();
        assert_eq!(
            c.cnf.as_ref().map(|cnf| cnf.jkt.as_str()),
            Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I")
        );
        for bad in [
            serde_json::json!({"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}),
            serde_json::json!({"jkt": "a", "x5t#S256": "b"}),
            serde_json::json!({"jkt": ""}),
            serde_json::json!("jkt"),
            serde_json::Value::Null,
        ] {
            v["cnf"] = bad.clone();
            assert!(
                matches!(
                    Claims::<Custom>::from_json(v.to_string().as_bytes()),
                    Err(TokenError::Malformed(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn audience_array_round_trips() {
        let mut v = full();
        v["aud"] = serde_json::json!(["a", "b"]);
        let c = Claims::<Custom>::from_json(v.to_string().as_bytes()).unwrap();
        assert_eq!(c.aud, ["a", "b"]);
        let out = serde_json::to_value(&c).unwrap();
        assert_eq!(out["aud"], serde_json::json!(["a", "b"]));
    }
}
