//! The token sources of `BearerAuthLayer` (the `Authorization` header, a cookie named `token`,
//! the `access_token` query parameter), driven with a request built from the input:
//!
//! ```text
//! <flags byte: 1 = optional layer, 2 = require scope "write" (and not optional),
//!  4 = the cookie transport's access cookie and CSRF check instead of the `token` cookie,
//!  8 and 16 = the method: GET, POST, DELETE, PATCH>/uri?access_token=$A
//! Authorization: Bearer $A
//! Cookie: token=$A
//! ```
//!
//! In the URI and the header values `$A` stands for a valid access token, and `$R`, `$V`,
//! `$U`, `$X`, `$C` for a refresh token, a revoked one, one under its session's watermark, an
//! expired and a cut-off one; `$K` for the CSRF
//! value of `$A`'s session and `$W` for another one. The layer must never panic, and a request
//! it lets through must carry the one valid token. With the cookie transport
//! (`__Host-access_token`, `X-CSRF-Token`), a request that changes state and is let through
//! on the access cookie alone (no `Authorization` header, no query parameter) must carry
//! exactly one CSRF header, with `$A`'s value.

use std::{
    convert::Infallible,
    sync::{Arc, OnceLock},
};

use crate::{
    CUT_SUB, Env, Key, Outcome, REVOKED_JTI, T0, WATERMARK_SEQ, WATERMARK_SID, block_on,
    valid_parts,
};
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, Response, Uri};
use http_body_util::Empty;
use tower::{ServiceExt, service_fn};
use tower_jwt_auth::{
    BearerAuthLayer, Claims,
    token::{NoCustomClaims, TokenKind},
    transport::CookieTransport,
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
                b"$U",
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
            (b"$K", csrf().to_owned()),
            (b"$W", "0".repeat(csrf().len())),
        ]
    })
}

/// The CSRF value of `$A`'s session.
fn csrf() -> &'static str {
    static CSRF: OnceLock<String> = OnceLock::new();
    CSRF.get_or_init(|| {
        let (_, claims) = valid_parts(TokenKind::Access);
        claims["csrf"].as_str().expect("csrf claim").to_owned()
    })
}

/// The cookie transport of the mode that has one.
fn transport() -> &'static CookieTransport {
    static TRANSPORT: OnceLock<CookieTransport> = OnceLock::new();
    TRANSPORT.get_or_init(|| {
        CookieTransport::mounted_at("/auth")
            .build()
            .expect("transport")
    })
}

/// The input's bytes with the placeholders replaced.
fn expand(bytes: &[u8]) -> Vec<u8> {
    crate::expand(bytes, tokens())
}

/// Runs one input: `Accepted` when the request reached the inner service with the valid
/// token's claims.
pub fn run(data: &[u8]) -> Outcome {
    let Some((&flags, text)) = data.split_first() else {
        return Outcome::Rejected;
    };
    // `require_scope` makes the layer required again.
    let optional = flags & 1 != 0 && flags & 2 == 0;
    let cookies = flags & 4 != 0;
    let method = [Method::GET, Method::POST, Method::DELETE, Method::PATCH]
        [usize::from(flags >> 3 & 3)]
    .clone();
    let env = Env::shared();
    let mut layer = BearerAuthLayer::new(env.issuer.verifier()).with_query_parameter();
    layer = if cookies {
        layer.with_cookie_transport(transport())
    } else {
        layer.with_cookie("token")
    };
    if optional {
        layer = layer.optional();
    }
    if flags & 2 != 0 {
        layer = layer.require_scope(["write"]);
    }
    let mut lines = text.split(|b| *b == b'\n');
    let mut request = Request::new(());
    *request.method_mut() = method.clone();
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
    // What the CSRF rule looks at, before the request moves into the service.
    let on_cookie_alone = !request.headers().contains_key(http::header::AUTHORIZATION)
        && !request
            .uri()
            .query()
            .is_some_and(|q| q.contains("access_token"));
    let csrf_headers: Vec<Vec<u8>> = request
        .headers()
        .get_all(transport().csrf_header())
        .iter()
        .map(|v| v.as_bytes().to_vec())
        .collect();
    let service = tower::Layer::layer(&layer, inner);
    let response = block_on(service.oneshot(request)).expect("infallible");
    let seen = response.extensions().get::<Seen>();
    if response.status().is_success() {
        // The inner service ran, with the claims of the one valid token, or (optional layer
        // only) with no token at all.
        match seen {
            Some(Seen(Some(jti))) => {
                assert_eq!(jti, "jti-1", "only $A may pass");
                let safe = matches!(method, Method::GET);
                if cookies && on_cookie_alone && !safe {
                    assert_eq!(
                        csrf_headers,
                        [csrf().as_bytes()],
                        "a state-changing request on the access cookie without its CSRF value"
                    );
                }
                Outcome::Accepted
            }
            Some(Seen(None)) => {
                assert!(optional, "no claims without the optional layer");
                Outcome::Rejected
            }
            None => panic!("a 2xx the inner service did not answer"),
        }
    } else {
        assert!(
            seen.is_none(),
            "the inner service answered {}",
            response.status()
        );
        Outcome::Rejected
    }
}

#[derive(Clone)]
struct Seen(Option<String>);
