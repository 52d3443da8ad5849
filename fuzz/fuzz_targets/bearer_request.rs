//! The token sources of `BearerAuthLayer` (the `Authorization` header, a cookie named `token`,
//! the `access_token` query parameter), driven with a request built from the input:
//!
//! ```text
//! <flags byte: 1 = optional layer, 2 = require scope "write" (and not optional)>/uri?access_token=$A
//! Authorization: Bearer $A
//! Cookie: token=$A
//! ```
//!
//! In the URI and the header values `$A` stands for a valid access token, and `$R`, `$V`,
//! `$W`, `$X`, `$C` for a refresh token, a revoked one, one under its session's watermark,
//! an expired and a cut-off one. The layer must never
//! panic, and a request it lets through must carry the one valid token.

#![no_main]

use std::{
    convert::Infallible,
    sync::{Arc, OnceLock},
};

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Response, Uri};
use http_body_util::Empty;
use libfuzzer_sys::fuzz_target;
use tower::{ServiceExt, service_fn};
use tower_jwt_auth::{
    BearerAuthLayer, Claims,
    token::{NoCustomClaims, TokenKind},
};
use tower_jwt_auth_fuzz::{
    CUT_SUB, Env, Key, REVOKED_JTI, T0, WATERMARK_SEQ, WATERMARK_SID, block_on, valid_parts,
};

/// The tokens the placeholders stand for: `$A` is the only one that may pass.
fn tokens() -> &'static [(&'static [u8], String)] {
    static TOKENS: OnceLock<Vec<(&'static [u8], String)>> = OnceLock::new();
    TOKENS.get_or_init(|| {
        let signer = &Env::shared().signer;
        let sign = |kind, change: &dyn Fn(&mut serde_json::Value)| {
            let (header, mut claims) = valid_parts(kind);
            change(&mut claims);
            let header = serde_json::to_vec(&header).expect("header");
            let claims = serde_json::to_vec(&claims).expect("claims");
            signer.token(Key::Ed, &header, &claims)
        };
        vec![
            (b"$A", sign(TokenKind::Access, &|_| {})),
            (b"$R", sign(TokenKind::Refresh, &|_| {})),
            (
                b"$V",
                sign(TokenKind::Access, &|c| c["jti"] = REVOKED_JTI.into()),
            ),
            (
                b"$W",
                sign(TokenKind::Access, &|c| {
                    c["sid"] = WATERMARK_SID.into();
                    c["seq"] = WATERMARK_SEQ.into();
                }),
            ),
            (b"$X", sign(TokenKind::Access, &|c| c["exp"] = T0.into())),
            (
                b"$C",
                sign(TokenKind::Access, &|c| c["sub"] = CUT_SUB.into()),
            ),
        ]
    })
}

/// The input's bytes with the placeholders replaced.
fn expand(bytes: &[u8]) -> Vec<u8> {
    tower_jwt_auth_fuzz::expand(bytes, tokens())
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, text)) = data.split_first() else {
        return;
    };
    // `require_scope` makes the layer required again.
    let optional = flags & 1 != 0 && flags & 2 == 0;
    let env = Env::shared();
    let mut layer = BearerAuthLayer::new(env.issuer.verifier())
        .with_cookie("token")
        .with_query_parameter();
    if optional {
        layer = layer.optional();
    }
    if flags & 2 != 0 {
        layer = layer.require_scope(["write"]);
    }
    let mut lines = text.split(|b| *b == b'\n');
    let mut request = Request::new(());
    if let Ok(uri) = Uri::try_from(expand(lines.next().unwrap_or_default())) {
        *request.uri_mut() = uri;
    }
    for line in lines.take(16) {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let value = value.strip_prefix(b" ").unwrap_or(value);
        let Ok(name) = HeaderName::from_bytes(name) else {
            continue;
        };
        if let Ok(value) = HeaderValue::from_bytes(&expand(value)) {
            request.headers_mut().append(name, value);
        }
    }
    let inner = service_fn(|request: Request<()>| async move {
        let jti = request
            .extensions()
            .get::<Arc<Claims<NoCustomClaims>>>()
            .map(|claims| claims.jti.clone());
        let mut response = Response::new(Empty::<Bytes>::new());
        response.extensions_mut().insert(Seen(jti));
        Ok::<_, Infallible>(response)
    });
    let service = tower::Layer::layer(&layer, inner);
    let response = block_on(service.oneshot(request)).expect("infallible");
    let seen = response.extensions().get::<Seen>();
    if response.status().is_success() {
        // The inner service ran, with the claims of the one valid token, or (optional layer
        // only) with no token at all.
        match seen {
            Some(Seen(Some(jti))) => assert_eq!(jti, "jti-1", "only $A may pass"),
            Some(Seen(None)) => assert!(optional, "no claims without the optional layer"),
            None => panic!("a 2xx the inner service did not answer"),
        }
    } else {
        assert!(
            seen.is_none(),
            "the inner service answered {}",
            response.status()
        );
    }
});

#[derive(Clone)]
struct Seen(Option<String>);
