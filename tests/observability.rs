//! What operators see: the events (and, with the `metrics` feature, the counters) of refused
//! requests, refresh outcomes, reuse detection and backend failures — with the reason, and
//! never a token.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use axum::{Router, body::Body, routing::get};
use http::{Request, StatusCode, header};
use tower::ServiceExt;
use tower_jwt_auth::{BearerAuthLayer, TokenPair, bearer::AuthError, session::RefreshError};

use common::{Down, Logs, Profile, env, env_with, profile};

fn app(env: &common::Env) -> Router {
    Router::new()
        .route("/me", get(|| async { "hello" }))
        .route_layer(
            BearerAuthLayer::new(&env.issuer)
                .with_claims::<Profile>()
                .with_realm("api"),
        )
}

fn get_with(token: Option<&str>) -> Request<Body> {
    let mut request = Request::get("/me");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    request.body(Body::empty()).unwrap()
}

/// A session of alice's, with the `read` scope.
async fn login_alice(env: &common::Env) -> TokenPair {
    env.sessions
        .start_with_claims("alice", "read", &profile())
        .await
        .unwrap()
}

/// Neither the token nor any of its three parts appears in `text`.
fn assert_no_token(text: &str, token: &str) {
    assert!(!text.contains(token), "the token was logged:\n{text}");
    for part in token.split('.') {
        assert!(
            !text.contains(part),
            "a part of the token was logged:\n{text}"
        );
    }
}

#[tokio::test]
async fn a_refused_request_says_why_in_the_log_and_the_response_extensions() {
    let env = env();
    let pair = login_alice(&env).await;
    // A different signature: the last character also holds padding bits (changed, they make
    // the token non-canonical, "malformed"), so change the one before it.
    let mut tampered = pair.access_token().to_owned();
    let i = tampered.len() - 2;
    let swap = if tampered.as_bytes()[i] == b'A' {
        "B"
    } else {
        "A"
    };
    tampered.replace_range(i..=i, swap);

    let logs = Logs::default();
    let _guard = logs.capture();

    // Accepted first: the claims reach the handler and nothing is logged as refused.
    let response = app(&env)
        .oneshot(get_with(Some(pair.access_token())))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.extensions().get::<AuthError>().is_none());
    assert!(!logs.text().contains("request refused"), "{}", logs.text());

    let cases: [(Option<&str>, StatusCode, &str); 3] = [
        (None, StatusCode::UNAUTHORIZED, "missing_token"),
        (
            Some(&tampered),
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
        ),
        (Some("not-a.jwt"), StatusCode::UNAUTHORIZED, "malformed"),
    ];
    for (token, status, reason) in cases {
        let response = app(&env).oneshot(get_with(token)).await.unwrap();
        assert_eq!(response.status(), status, "{reason}");
        let refused = response
            .extensions()
            .get::<AuthError>()
            .expect("the rejection is in the response's extensions");
        assert_eq!(refused.reason(), reason);
        let line = logs.last_line("request refused");
        assert!(line.contains("DEBUG"), "{line}");
        assert!(line.contains(&format!("reason=\"{reason}\"")), "{line}");
        assert!(
            line.contains(&format!("status={}", status.as_u16())),
            "{line}"
        );
    }

    // Expired: the clock moves past `exp`.
    env.advance(901);
    let response = app(&env)
        .oneshot(get_with(Some(pair.access_token())))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response
            .extensions()
            .get::<AuthError>()
            .map(AuthError::reason),
        Some("expired")
    );
    let text = logs.text();
    assert!(text.contains("reason=\"expired\""), "{text}");
    assert_no_token(&text, pair.access_token());
    assert_no_token(&text, &tampered);
    assert_no_token(&text, pair.refresh_token());
}

#[tokio::test]
async fn reuse_detection_warns_with_the_subject_and_session() {
    let env = env();
    let pair = login_alice(&env).await;
    let logs = Logs::default();
    let _guard = logs.capture();

    let next = env.sessions.refresh(pair.refresh_token()).await.unwrap();
    assert!(!logs.text().contains("WARN"), "{}", logs.text());
    let rotated = logs.line("refresh token rotated");
    assert!(rotated.contains("sub=\"alice\""), "{rotated}");

    // The first token again: a replay, which revokes the session.
    let err = env
        .sessions
        .refresh(pair.refresh_token())
        .await
        .unwrap_err();
    assert!(matches!(err, RefreshError::Reused));
    let text = logs.text();
    let warning = logs.line("reuse detected");
    assert!(warning.contains("WARN"), "{warning}");
    assert!(warning.contains("sub=\"alice\""), "{warning}");
    assert!(
        warning.contains(&format!("sid=\"{}\"", pair.session_id())),
        "{warning}"
    );
    for token in [
        pair.access_token(),
        pair.refresh_token(),
        next.access_token(),
        next.refresh_token(),
    ] {
        assert_no_token(&text, token);
    }

    // A logout is an operator-visible event too, at `info`.
    env.sessions.logout(next.session_id()).await.unwrap();
    let logout = logs.last_line("revoked");
    assert!(logout.contains("INFO"), "{logout}");
    assert!(logout.contains("what=\"session\""), "{logout}");
}

#[tokio::test]
async fn a_failing_backend_is_reported_and_refused_requests_say_unavailable() {
    let env = env_with(|b| b.with_revocation_backend(Arc::new(Down)));
    let logs = Logs::default();
    let _guard = logs.capture();

    assert!(env.issuer.revocation().load().await.is_err());
    let line = logs.line("revocation backend error");
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains("operation=\"load\""), "{line}");
    assert!(line.contains("connection refused"), "{line}");

    // Never loaded: every token is refused with 503, and that is a warning.
    let token = env.forge("at+jwt", &env.claims());
    let response = app(&env).oneshot(get_with(Some(&token))).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let line = logs.line("request refused");
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains("reason=\"unavailable\""), "{line}");
    assert_no_token(&logs.text(), &token);
}

#[cfg(feature = "metrics")]
mod counters {
    use metrics_util::{
        CompositeKey, MetricKind,
        debugging::{DebugValue, DebuggingRecorder},
    };

    use super::*;

    type Snapshot = Vec<(CompositeKey, DebugValue)>;

    /// The counter `name` with the labels `labels`, or 0.
    fn counter(snapshot: &Snapshot, name: &str, labels: &[(&str, &str)]) -> u64 {
        snapshot
            .iter()
            .find_map(|(key, value)| {
                let key_matches = key.kind() == MetricKind::Counter
                    && key.key().name() == name
                    && key.key().labels().count() == labels.len()
                    && labels.iter().all(|(k, v)| {
                        key.key()
                            .labels()
                            .any(|label| label.key() == *k && label.value() == *v)
                    });
                match value {
                    DebugValue::Counter(n) if key_matches => Some(*n),
                    _ => None,
                }
            })
            .unwrap_or(0)
    }

    #[test]
    fn decisions_are_counted_by_reason_and_outcome() {
        let recorder = DebuggingRecorder::new();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        // Events are recorded too, so that this thread never registers a callsite as
        // uninteresting while another test installs its subscriber.
        let logs = Logs::default();
        let _guard = logs.capture();
        metrics::with_local_recorder(&recorder, || {
            runtime.block_on(async {
                let env = env();
                let pair = login_alice(&env).await;
                let ok = app(&env)
                    .oneshot(get_with(Some(pair.access_token())))
                    .await
                    .unwrap();
                assert_eq!(ok.status(), StatusCode::OK);
                // The same token again, from the layer's cache.
                let router = app(&env);
                for _ in 0..2 {
                    let ok = router
                        .clone()
                        .oneshot(get_with(Some(pair.access_token())))
                        .await
                        .unwrap();
                    assert_eq!(ok.status(), StatusCode::OK);
                }
                let missing = app(&env).oneshot(get_with(None)).await.unwrap();
                assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
                env.sessions.refresh(pair.refresh_token()).await.unwrap();
                env.sessions
                    .refresh(pair.refresh_token())
                    .await
                    .unwrap_err();
                env.sessions.refresh("garbage").await.unwrap_err();
            });
        });
        // One snapshot: taking it drains the recorder.
        let snapshot: Snapshot = recorder
            .snapshotter()
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, _, _, value)| (key, value))
            .collect();
        let count = |name, labels: &[(&str, &str)]| counter(&snapshot, name, labels);
        assert_eq!(
            count("tower_jwt_auth_accepted_total", &[("anonymous", "false")]),
            3
        );
        assert_eq!(
            count(
                "tower_jwt_auth_rejected_total",
                &[("reason", "missing_token")]
            ),
            1
        );
        assert_eq!(
            count("tower_jwt_auth_refresh_total", &[("outcome", "rotated")]),
            1
        );
        assert_eq!(
            count("tower_jwt_auth_refresh_total", &[("outcome", "reused")]),
            1
        );
        assert_eq!(
            count("tower_jwt_auth_refresh_total", &[("outcome", "malformed")]),
            1
        );
        assert_eq!(count("tower_jwt_auth_reuse_detected_total", &[]), 1);
        // Each `app` is a new layer with its own cache: one miss each, then one hit.
        assert_eq!(count("tower_jwt_auth_cache_misses_total", &[]), 2);
        assert_eq!(count("tower_jwt_auth_cache_hits_total", &[]), 1);
    }
}
