//! [`ClaimsBuilder`] (feature `test-util`): claims for handler unit tests.

use super::{Claims, NoCustomClaims};

/// Builds [`Claims`] for a unit test of a handler or extractor, without minting a token.
///
/// In production, claims only ever come from the [`Verifier`](super::Verifier); this builder
/// exists behind the `test-util` feature so that a test can put them in a request's
/// extensions as [`BearerAuthLayer`](crate::BearerAuthLayer) does, behind an `Arc` (the axum
/// extractors read an `Arc<Claims<T>>`). Defaults: issued at
/// 1 700 000 000 s (2023-11-14), valid 15 minutes, `jti` `test-token`, `sid` `test-session`,
/// the session's first pair (`seq` 0), no scope, no `iss` or `aud`.
///
/// ```
/// use tower_jwt_auth::Claims;
///
/// #[derive(Clone)]
/// struct Tenant { tenant: String }
///
/// let claims = Claims::builder("alice")
///     .with_scope("read admin")
///     .with_custom(Tenant { tenant: "acme".into() })
///     .build();
/// assert!(claims.has_scope("admin"));
/// assert_eq!(claims.custom.tenant, "acme");
///
/// let mut request = http::Request::new(());
/// request.extensions_mut().insert(std::sync::Arc::new(claims));
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ClaimsBuilder<T = NoCustomClaims> {
    claims: Claims<T>,
}

impl Claims {
    /// A builder of claims about `sub`, for tests (feature `test-util`); see
    /// [`ClaimsBuilder`].
    ///
    /// ```
    /// use tower_jwt_auth::Claims;
    ///
    /// let claims = Claims::builder("alice").build();
    /// assert!(claims.scopes().next().is_none());
    /// ```
    pub fn builder(sub: impl Into<String>) -> ClaimsBuilder {
        const IAT: u64 = 1_700_000_000;
        ClaimsBuilder {
            claims: Claims {
                iss: None,
                sub: sub.into(),
                aud: Vec::new(),
                exp: IAT + 900,
                nbf: None,
                iat: IAT,
                jti: "test-token".to_owned(),
                sid: "test-session".to_owned(),
                scope: String::new(),
                auth_time: Some(IAT),
                cnf: None,
                custom: NoCustomClaims {},
                auth_time_ms: Some(IAT * 1000),
                session_exp: None,
                csrf: None,
                seq: Some(0),
            },
        }
    }
}

impl<T> ClaimsBuilder<T> {
    /// The application's claims.
    ///
    /// ```
    /// use tower_jwt_auth::Claims;
    ///
    /// #[derive(Clone)]
    /// struct Tenant { tenant: String }
    /// let claims = Claims::builder("alice").with_custom(Tenant { tenant: "acme".into() }).build();
    /// assert_eq!(claims.custom.tenant, "acme");
    /// ```
    pub fn with_custom<U>(self, custom: U) -> ClaimsBuilder<U> {
        let c = self.claims;
        ClaimsBuilder {
            claims: Claims {
                iss: c.iss,
                sub: c.sub,
                aud: c.aud,
                exp: c.exp,
                nbf: c.nbf,
                iat: c.iat,
                jti: c.jti,
                sid: c.sid,
                scope: c.scope,
                auth_time: c.auth_time,
                cnf: c.cnf,
                custom,
                auth_time_ms: c.auth_time_ms,
                session_exp: c.session_exp,
                csrf: c.csrf,
                seq: c.seq,
            },
        }
    }

    /// The scopes, space-separated.
    ///
    /// ```
    /// use tower_jwt_auth::Claims;
    ///
    /// assert!(Claims::builder("alice").with_scope("read admin").build().has_scope("admin"));
    /// ```
    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.claims.scope = scope.into();
        self
    }

    /// The session id (`sid`).
    ///
    /// ```
    /// use tower_jwt_auth::Claims;
    ///
    /// assert_eq!(Claims::builder("alice").with_session_id("s-1").build().sid, "s-1");
    /// ```
    pub fn with_session_id(mut self, sid: impl Into<String>) -> Self {
        self.claims.sid = sid.into();
        self
    }

    /// The token id (`jti`).
    ///
    /// ```
    /// use tower_jwt_auth::Claims;
    ///
    /// assert_eq!(Claims::builder("alice").with_token_id("t-1").build().jti, "t-1");
    /// ```
    pub fn with_token_id(mut self, jti: impl Into<String>) -> Self {
        self.claims.jti = jti.into();
        self
    }

    /// `iss`.
    ///
    /// ```
    /// use tower_jwt_auth::Claims;
    ///
    /// assert_eq!(Claims::builder("alice").with_issuer("https://auth.example").build().iss.as_deref(), Some("https://auth.example"));
    /// ```
    pub fn with_issuer(mut self, iss: impl Into<String>) -> Self {
        self.claims.iss = Some(iss.into());
        self
    }

    /// One more audience in `aud`.
    ///
    /// ```
    /// use tower_jwt_auth::Claims;
    ///
    /// assert_eq!(Claims::builder("alice").with_audience("api").build().aud, ["api"]);
    /// ```
    pub fn with_audience(mut self, aud: impl Into<String>) -> Self {
        self.claims.aud.push(aud.into());
        self
    }

    /// Issued at `iat` (seconds since the epoch, also the session's start) and valid for
    /// `ttl_secs`.
    ///
    /// ```
    /// use tower_jwt_auth::Claims;
    ///
    /// let claims = Claims::builder("alice").issued_at(1_800_000_000, 60).build();
    /// assert_eq!(claims.exp, 1_800_000_060);
    /// ```
    pub fn issued_at(mut self, iat: u64, ttl_secs: u64) -> Self {
        let c = &mut self.claims;
        c.iat = iat;
        c.exp = iat.saturating_add(ttl_secs);
        c.auth_time = Some(iat);
        c.auth_time_ms = Some(iat.saturating_mul(1000));
        self
    }

    /// The claims.
    ///
    /// ```
    /// use tower_jwt_auth::Claims;
    ///
    /// let claims = Claims::builder("alice").build();
    /// assert_eq!(claims.sub, "alice");
    /// ```
    pub fn build(self) -> Claims<T> {
        self.claims
    }
}
