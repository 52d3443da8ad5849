//! Bounded staleness, on tokio's paused clock: an instance whose change feed stops bringing
//! anything refuses every token once its deny-list may be staler than the bound, and
//! recovers within about a second of the feed coming back; an in-process store is never
//! stale; a store that serves stale keeps serving.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use common::{Env, env_with};
use futures::{StreamExt, future};
use tokio::{sync::watch, time::Instant};
use tower_jwt_auth::{
    TokenPair,
    store::{
        BoxError, BoxFuture, ChangeStream, Heartbeat, MemoryBackend, NewSession, RevocationBackend,
        RevocationEntry, RevocationStore, RotateOutcome, Rotation,
    },
    token::{NoCustomClaims, TokenError},
};

/// The default bound.
const BOUND: Duration = Duration::from_secs(3);
/// The step at which the tests look.
const STEP: Duration = Duration::from_millis(10);

/// One instance's way to the shared state, which the test can cut. While cut, the feeds
/// opened through it deliver nothing (what is published meanwhile is lost to them, as on a
/// connection that goes silent) and, unless only the feed is cut, every call waits for the
/// link to return (a request whose packets are retransmitted once the link is back), or for
/// the store's time limit.
#[derive(Debug)]
struct Link {
    shared: MemoryBackend,
    feed_cut: Arc<AtomicBool>,
    calls_cut: watch::Sender<bool>,
}

impl Link {
    fn new(shared: &MemoryBackend) -> Arc<Self> {
        Arc::new(Self {
            shared: shared.clone(),
            feed_cut: Arc::default(),
            calls_cut: watch::channel(false).0,
        })
    }

    /// Cuts the feed, and the calls too when `calls` is set.
    fn cut(&self, calls: bool) {
        self.feed_cut.store(true, Ordering::SeqCst);
        self.calls_cut.send_replace(calls);
    }

    fn restore(&self) {
        self.feed_cut.store(false, Ordering::SeqCst);
        self.calls_cut.send_replace(false);
    }

    fn through<'a, T: Send + 'a>(
        &self,
        call: BoxFuture<'a, Result<T, BoxError>>,
    ) -> BoxFuture<'a, Result<T, BoxError>> {
        let mut cut = self.calls_cut.subscribe();
        Box::pin(async move {
            let _ = cut.wait_for(|cut| !cut).await;
            call.await
        })
    }
}

impl RevocationBackend for Link {
    fn create_session<'a>(&'a self, s: &'a NewSession<'a>) -> BoxFuture<'a, Result<(), BoxError>> {
        self.through(self.shared.create_session(s))
    }
    fn rotate<'a>(&'a self, r: &'a Rotation<'a>) -> BoxFuture<'a, Result<RotateOutcome, BoxError>> {
        self.through(self.shared.rotate(r))
    }
    fn revoke<'a>(&'a self, e: &'a RevocationEntry) -> BoxFuture<'a, Result<(), BoxError>> {
        self.through(self.shared.revoke(e))
    }
    fn load(&self, now: u64) -> BoxFuture<'_, Result<Vec<RevocationEntry>, BoxError>> {
        self.through(self.shared.load(now))
    }
    fn subscribe(&self) -> BoxFuture<'_, Result<ChangeStream, BoxError>> {
        let cut = self.feed_cut.clone();
        self.through(Box::pin(async move {
            let feed = self.shared.subscribe().await?;
            Ok(feed
                .filter(move |_| future::ready(!cut.load(Ordering::SeqCst)))
                .boxed())
        }))
    }
    fn purge(&self, now: u64) -> BoxFuture<'_, Result<u64, BoxError>> {
        self.through(self.shared.purge(now))
    }
    fn heartbeat<'a>(&'a self, beat: &'a Heartbeat) -> BoxFuture<'a, Result<(), BoxError>> {
        self.through(self.shared.heartbeat(beat))
    }
}

/// `a` over the shared state directly, `b` through `link`, each with its `run` task.
fn two_instances(
    shared: &MemoryBackend,
    link: Arc<Link>,
    b_store: impl FnOnce(Arc<Link>) -> RevocationStore,
) -> (Env, Env) {
    let a = env_with(|builder| builder.with_revocation_backend(Arc::new(shared.clone())));
    let clock = a.clock.clone();
    let store = b_store(link);
    let b = env_with(|builder| builder.with_clock(clock).with_revocation_store(store));
    for instance in [&a, &b] {
        tokio::spawn(instance.issuer.revocation().clone().run());
    }
    (a, b)
}

fn default_store(link: Arc<Link>) -> RevocationStore {
    RevocationStore::builder()
        .with_backend(link)
        .build()
        .unwrap()
}

fn access(env: &Env, pair: &TokenPair) -> Result<(), TokenError> {
    env.issuer
        .verifier()
        .verify_access::<NoCustomClaims>(pair.access_token())
        .map(drop)
}

/// Steps the paused clock until `check` holds; returns how long that took. Fails after
/// `within`.
async fn until(what: &str, within: Duration, check: impl Fn() -> bool) -> Duration {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() <= within, "{what} within {within:?}");
        tokio::time::sleep(STEP).await;
    }
    started.elapsed()
}

/// Steps the paused clock for `period`, checking `invariant` at every step.
async fn throughout(what: &str, period: Duration, invariant: impl Fn() -> bool) {
    let started = Instant::now();
    while started.elapsed() < period {
        assert!(invariant(), "{what}, at {:?}", started.elapsed());
        tokio::time::sleep(STEP).await;
    }
}

async fn an_instance_whose_feed_goes_silent(calls_cut: bool) {
    let shared = MemoryBackend::new();
    let link = Link::new(&shared);
    let (a, b) = two_instances(&shared, link.clone(), default_store);
    let b_store = b.issuer.revocation().clone();
    until("b loads", BOUND, || b_store.is_ready()).await;
    let (pair, later) = (a.login("alice").await, a.login("bob").await);
    // While the feed works, the heartbeats keep b ready.
    throughout("b stays ready on a working feed", 3 * BOUND, || {
        access(&b, &pair) == Ok(())
    })
    .await;

    link.cut(calls_cut);
    tokio::time::sleep(Duration::from_millis(500)).await;
    a.sessions.logout(pair.session_id()).await.unwrap();
    let logged_out = Instant::now();
    // b never accepts the logged-out token past the bound; it may up to it.
    let mut accepted_until = Duration::ZERO;
    let mut unavailable = false;
    while logged_out.elapsed() < 4 * BOUND {
        match access(&b, &pair) {
            Ok(()) => accepted_until = logged_out.elapsed(),
            Err(TokenError::RevocationUnavailable) => unavailable = true,
            Err(err) => assert_eq!(err, TokenError::Revoked),
        }
        tokio::time::sleep(STEP).await;
    }
    assert!(
        accepted_until <= BOUND,
        "b accepted the logged-out token {accepted_until:?} after the logout"
    );
    if calls_cut {
        assert!(unavailable, "cut off, b refuses with 503");
        assert_eq!(access(&b, &pair), Err(TokenError::RevocationUnavailable));
        assert_eq!(access(&b, &later), Err(TokenError::RevocationUnavailable));
    } else {
        // Only the feed is silent: b subscribes and loads again at the bound, and learns
        // of the logout from the load.
        assert_eq!(access(&b, &pair), Err(TokenError::Revoked));
    }

    eprintln!("b accepted the logged-out token until {accepted_until:?} after the logout");
    link.restore();
    let back = until("b is ready again", 2 * BOUND, || b_store.is_ready()).await;
    eprintln!("b ready {back:?} after the link returned");
    assert!(back <= Duration::from_secs(1), "b back after {back:?}");
    assert_eq!(access(&b, &pair), Err(TokenError::Revoked));
    assert_eq!(access(&b, &later), Ok(()));
    // And b follows the feed again.
    a.sessions.logout(later.session_id()).await.unwrap();
    tokio::time::sleep(STEP).await;
    assert_eq!(access(&b, &later), Err(TokenError::Revoked));
}

#[tokio::test(start_paused = true)]
async fn an_instance_cut_off_refuses_tokens_within_the_bound_and_recovers_within_a_second() {
    an_instance_whose_feed_goes_silent(true).await;
}

#[tokio::test(start_paused = true)]
async fn a_feed_that_goes_silent_is_dropped_at_the_bound_and_the_state_reloaded() {
    an_instance_whose_feed_goes_silent(false).await;
}

#[tokio::test(start_paused = true)]
async fn the_store_goes_stale_within_the_bound_of_its_last_proof() {
    let shared = MemoryBackend::new();
    let link = Link::new(&shared);
    let store = RevocationStore::builder()
        .with_backend(link.clone())
        .build()
        .unwrap();
    tokio::spawn(store.clone().run());
    until("loaded", BOUND, || store.is_ready()).await;
    tokio::time::sleep(Duration::from_millis(2_345)).await;
    link.cut(true);
    let cut = Instant::now();
    let before = store.staleness().unwrap();
    // A heartbeat every third of the bound keeps the staleness under a third of it.
    assert!(before <= BOUND / 3, "{before:?}");
    let stale = until("stale", 2 * BOUND, || !store.is_ready()).await;
    assert!(
        before + stale > BOUND && before + stale <= BOUND + STEP,
        "stale {stale:?} after the cut, {before:?} after the last proof"
    );
    assert!(store.staleness().unwrap() > BOUND);
    link.restore();
    let back = until("caught up", 2 * BOUND, || store.is_ready()).await;
    assert!(back <= Duration::from_secs(1), "back after {back:?}");
    assert!(store.staleness().unwrap() <= BOUND / 3);
    eprintln!(
        "stale {:?} after its last proof, ready {back:?} after the link returned ({:?} after the cut)",
        before + stale,
        cut.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn a_store_without_a_shared_backend_is_never_stale() {
    for store in [
        RevocationStore::new(),
        RevocationStore::builder()
            .with_max_staleness(Duration::from_millis(300))
            .build()
            .unwrap(),
    ] {
        let task = tokio::spawn(store.clone().run());
        throughout("always ready", Duration::from_secs(30), || store.is_ready()).await;
        assert_eq!(store.staleness(), None);
        task.abort();
    }
}

#[tokio::test(start_paused = true)]
async fn a_store_that_serves_stale_keeps_serving_and_catches_up() {
    let shared = MemoryBackend::new();
    let link = Link::new(&shared);
    let (a, b) = two_instances(&shared, link.clone(), |link| {
        RevocationStore::builder()
            .with_backend(link)
            .serve_stale()
            .build()
            .unwrap()
    });
    let b_store = b.issuer.revocation().clone();
    until("b loads", BOUND, || b_store.is_ready()).await;
    let pair = a.login("alice").await;
    link.cut(true);
    a.sessions.logout(pair.session_id()).await.unwrap();
    // The risk taken: the logged-out token is accepted for as long as b is cut off.
    throughout("b serves its stale state", 4 * BOUND, || {
        access(&b, &pair) == Ok(())
    })
    .await;
    assert!(b_store.staleness().unwrap() > 3 * BOUND);
    link.restore();
    until("b catches up", 2 * BOUND, || {
        access(&b, &pair) == Err(TokenError::Revoked)
    })
    .await;
}

#[test]
fn the_bound_has_a_floor() {
    for bound in [Duration::ZERO, Duration::from_millis(299)] {
        assert!(
            RevocationStore::builder()
                .with_max_staleness(bound)
                .build()
                .is_err()
        );
    }
    assert!(
        RevocationStore::builder()
            .with_max_staleness(Duration::from_millis(300))
            .build()
            .is_ok()
    );
}

/// Crossing the bound is a `warn` (and a counter), catching up an `info`, and the staleness
/// a gauge.
#[test]
fn crossing_the_bound_and_catching_up_are_reported() {
    let logs = common::Logs::default();
    let _guard = logs.capture();
    #[cfg(feature = "metrics")]
    let recorder = metrics_util::debugging::DebuggingRecorder::new();
    let scenario = || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async {
            let link = Link::new(&MemoryBackend::new());
            let store = default_store(link.clone());
            tokio::spawn(store.clone().run());
            until("loaded", BOUND, || store.is_ready()).await;
            link.cut(true);
            until("stale", 2 * BOUND, || !store.is_ready()).await;
            tokio::time::sleep(BOUND).await;
            link.restore();
            until("caught up", 2 * BOUND, || store.is_ready()).await;
        });
    };
    #[cfg(feature = "metrics")]
    metrics::with_local_recorder(&recorder, scenario);
    #[cfg(not(feature = "metrics"))]
    scenario();

    let line = logs.line("revocation state stale");
    assert!(
        line.contains("WARN") && line.contains("bound_ms=3000"),
        "{line}"
    );
    let line = logs.line("revocation change feed silent past the staleness bound");
    assert!(line.contains("WARN"), "{line}");
    let line = logs.line("revocation state caught up");
    assert!(line.contains("INFO"), "{line}");
    assert_eq!(logs.text().matches("revocation state stale").count(), 1);

    #[cfg(feature = "metrics")]
    {
        use metrics_util::{MetricKind, debugging::DebugValue};
        let snapshot = recorder.snapshotter().snapshot().into_vec();
        let find = |name: &str, kind| {
            snapshot
                .iter()
                .find(|(key, ..)| key.kind() == kind && key.key().name() == name)
                .map(|(.., value)| value)
        };
        assert_eq!(
            find("tower_jwt_auth_revocation_stale_total", MetricKind::Counter),
            Some(&DebugValue::Counter(1))
        );
        let Some(&DebugValue::Gauge(staleness)) = find(
            "tower_jwt_auth_revocation_staleness_seconds",
            MetricKind::Gauge,
        ) else {
            panic!("no staleness gauge: {snapshot:?}");
        };
        assert!(staleness.into_inner() <= 1.0, "{staleness:?}");
    }
}
