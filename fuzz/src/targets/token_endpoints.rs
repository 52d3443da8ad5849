//! The refresh (RFC 6749 §6) and revocation (RFC 7009) endpoints over the in-memory store,
//! fed a sequence of requests whose content type and body come from the input:
//!
//! ```text
//! <flags byte: 1 = a 10 s reuse grace>refresh 30 application/json
//! {"refresh_token":"$M"}
//! %%
//! revoke 0 application/x-www-form-urlencoded
//! token=$L
//! ```
//!
//! Each step is `refresh|revoke <seconds the clock moves first> <Content-Type>`, a line
//! break and the body; steps are separated by a `%%` line. In a body, `$A`/`$a` stand for Alice's refresh/access token, `$M`/`$m` for
//! Mallory's, and `$L` for the last refresh token an exchange handed out. Never a panic, never
//! a 5xx (the store cannot fail), a 200 exchange hands out a pair that verifies, and Alice's
//! session, which no request named, still refreshes at the end.
//!
//! Single use: every refresh token that got a 200 is remembered with the time of its first
//! exchange; it never gets a 200 again outside the grace window, and neither does any token
//! of a session whose reuse was detected. At the end every token of such a session is
//! refused, and every token exchanged longer ago than the grace window fails to refresh.

use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use crate::{AUD, ISS, Outcome, T0, block_on, expand};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use bytes::Bytes;
use http::{Request, header};
use http_body_util::{BodyExt, Full};
use tower::ServiceExt;
use tower_jwt_auth::{
    Issuer, KeySet, Sessions, SigningKey,
    clock::{Clock, MockClock},
    endpoints::{RefreshService, RevocationService},
    token::NoCustomClaims,
};

/// One request: endpoint, clock move, content type, body.
struct Step<'a> {
    revoke: bool,
    advance: u16,
    content_type: Option<&'a [u8]>,
    body: &'a [u8],
}

/// The steps of the text, at most 8.
fn steps(text: &[u8]) -> Vec<Step<'_>> {
    let mut steps = Vec::new();
    let mut rest = text;
    while !rest.is_empty() && steps.len() < 8 {
        let (chunk, after) = match rest.windows(4).position(|w| w == b"\n%%\n") {
            Some(at) => (&rest[..at], &rest[at + 4..]),
            None => (rest, &[][..]),
        };
        rest = after;
        let (head, body) = match chunk.iter().position(|b| *b == b'\n') {
            Some(at) => (&chunk[..at], &chunk[at + 1..]),
            None => (chunk, &[][..]),
        };
        let mut words = head.splitn(3, |b| *b == b' ');
        let revoke = words.next() == Some(b"revoke");
        let advance = words
            .next()
            .and_then(|w| std::str::from_utf8(w).ok()?.parse().ok())
            .unwrap_or(0);
        let content_type = words.next().filter(|w| !w.is_empty());
        steps.push(Step {
            revoke,
            advance,
            content_type,
            body,
        });
    }
    steps
}

/// The session id a token names (tokens handed out by the issuer only).
fn sid(token: &str) -> String {
    let payload = token.split('.').nth(1).expect("payload");
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("JSON");
    claims["sid"].as_str().expect("sid").to_owned()
}

/// Whether the request body names `token`: as it is, as a form value or as a JSON string
/// value (the endpoint reads one of those, whatever escaping was used).
fn names(body: &[u8], token: &str) -> bool {
    body.windows(token.len()).any(|w| w == token.as_bytes())
        || form_urlencoded::parse(body).any(|(_, value)| value == token)
        || serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.as_object().cloned())
            .is_some_and(|o| o.values().any(|v| v.as_str() == Some(token)))
}

/// The grace window of the inputs that have one, in milliseconds.
const GRACE_MS: u64 = 10_000;

/// Runs one input: `Accepted` when at least one refresh was answered 200 with a pair that
/// verifies.
pub fn run(data: &[u8]) -> Outcome {
    let Some((&flags, text)) = data.split_first() else {
        return Outcome::Rejected;
    };
    let clock = MockClock::at_secs(T0);
    let key = SigningKey::generate_ed25519().expect("key");
    let issuer = Issuer::builder(KeySet::new(key))
        .with_issuer(ISS)
        .with_audience(AUD)
        .with_clock(clock.clone())
        .build()
        .expect("issuer");
    let grace_ms = if flags & 1 != 0 { GRACE_MS } else { 0 };
    let grace = Duration::from_millis(grace_ms);
    let sessions = Sessions::builder(issuer.clone())
        .with_reuse_grace(grace)
        .build()
        .expect("sessions");
    let verifier = issuer.verifier();
    let (alice, mallory) = block_on(async {
        Ok::<_, tower_jwt_auth::session::StartError>((
            sessions.start("alice").await?,
            sessions.start("mallory").await?,
        ))
    })
    .expect("issue");
    let alice_refresh_until = T0 + alice.refresh_expires_in();
    let alice_access_until = T0 + alice.expires_in();
    let mut names_alice = false;
    let mut last = mallory.refresh_token().to_owned();
    // Every pair handed out (refresh, access), when each refresh token first got a 200, and
    // the sessions whose reuse was detected.
    let mut handed_out: Vec<(String, String)> = [&alice, &mallory]
        .map(|p| (p.refresh_token().to_owned(), p.access_token().to_owned()))
        .to_vec();
    let mut exchanged: HashMap<String, u64> = HashMap::new();
    let mut reused: HashSet<String> = HashSet::new();
    let spent = |exchanged: &HashMap<String, u64>, token: &str, now: u64| {
        exchanged
            .get(token)
            .is_some_and(|&at| grace_ms == 0 || now - at > grace_ms)
    };
    let refresh = RefreshService::new(sessions.clone());
    let revoke = RevocationService::new(sessions.clone());
    let mut outcome = Outcome::Rejected;

    for step in steps(text) {
        clock.advance(Duration::from_secs(step.advance.into()));
        names_alice |= step.body.windows(2).any(|w| w == b"$A" || w == b"$a");
        let tokens: [(&[u8], &str); 5] = [
            (b"$A", alice.refresh_token()),
            (b"$a", alice.access_token()),
            (b"$M", mallory.refresh_token()),
            (b"$m", mallory.access_token()),
            (b"$L", &last),
        ];
        let body = expand(step.body, &tokens);
        // The refresh tokens this request may have presented.
        let named: Vec<String> = handed_out
            .iter()
            .map(|(refresh, _)| refresh)
            .filter(|t| names(&body, t))
            .cloned()
            .collect();
        let mut request = Request::new(Full::new(Bytes::from(body)));
        *request.method_mut() = http::Method::POST;
        if let Some(value) = step
            .content_type
            .and_then(|v| http::HeaderValue::from_bytes(v).ok())
        {
            request.headers_mut().insert(header::CONTENT_TYPE, value);
        }
        let response = if step.revoke {
            block_on(revoke.clone().oneshot(request))
        } else {
            block_on(refresh.clone().oneshot(request))
        }
        .expect("infallible");
        let status = response.status();
        assert!(!status.is_server_error(), "{status}");
        if step.revoke {
            continue;
        }
        let now = clock.now_millis();
        let body = block_on(response.into_body().collect())
            .expect("body")
            .to_bytes();
        if status.is_success() {
            // Single use: one of the tokens it named had not been used up.
            assert!(!named.is_empty(), "a 200 for no token handed out");
            assert!(
                named
                    .iter()
                    .any(|t| !spent(&exchanged, t, now) && !reused.contains(&sid(t))),
                "a used-up refresh token, or one of a reused session, got a 200"
            );
            if let [token] = named.as_slice() {
                exchanged.entry(token.clone()).or_insert(now);
            }
            let pair: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
            let access = pair["access_token"].as_str().expect("access_token");
            verifier
                .verify_access::<NoCustomClaims>(access)
                .expect("a new access token verifies");
            last = pair["refresh_token"]
                .as_str()
                .expect("refresh_token")
                .to_owned();
            handed_out.push((last.clone(), access.to_owned()));
            outcome = Outcome::Accepted;
        } else if body.windows(12).any(|w| w == b"already used") {
            // Reuse detected: the session of the token presented is over.
            if let [token] = named.as_slice() {
                reused.insert(sid(token));
            }
        }
    }

    // No request named Alice's tokens: her session is untouched.
    if !names_alice {
        let now = clock.now_secs();
        if now < alice_access_until {
            verifier
                .verify_access::<NoCustomClaims>(alice.access_token())
                .expect("Alice's access token still verifies");
        }
        if now < alice_refresh_until {
            block_on(sessions.refresh(alice.refresh_token())).expect("Alice still refreshes");
        }
    }

    // Every token of a reused session is refused; every token used up fails to refresh.
    let now = clock.now_millis();
    for (refresh, access) in &handed_out {
        if reused.contains(&sid(refresh)) {
            assert!(
                verifier.verify_access::<NoCustomClaims>(access).is_err(),
                "an access token of a reused session verifies"
            );
        }
    }
    for (refresh, _) in &handed_out {
        if reused.contains(&sid(refresh)) || spent(&exchanged, refresh, now) {
            assert!(
                block_on(sessions.refresh(refresh)).is_err(),
                "a used-up refresh token refreshes"
            );
        }
    }
    outcome
}
