//! `PostgresBackend` against the backend contract: the conformance suite, two instances over
//! two pools, and the database going away mid-run. Each test uses tables of its own (a
//! unique prefix) and drops them at the end.
//!
//! The database is `TOWER_JWT_AUTH_POSTGRES_URL`, by default
//! `postgres://postgres@127.0.0.1:5432/test`.

#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::the_session_cap_ends_the_oldest;
#[path = "common/differential.rs"]
mod differential;
#[path = "common/stores.rs"]
mod stores;

use std::{
    io,
    net::SocketAddr,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::Full;
use sqlx::{
    AssertSqlSafe, ConnectOptions, Executor,
    postgres::{PgConnectOptions, PgPoolOptions},
};
use stores::*;
use tokio::{
    net::{TcpListener, TcpStream},
    task::JoinHandle,
};
use tower::ServiceExt;
use tower_jwt_auth::{
    endpoints::RefreshService,
    store::{BackendError, PostgresBackend, RevocationBackend, RevocationError, conformance},
    token::TokenError,
};

/// Tables of their own, dropped when the test ends, passed or not.
struct Tables {
    prefix: String,
}

impl Tables {
    async fn new() -> Self {
        let tables = Self {
            prefix: unique_name("t"),
        };
        // Building the backend creates the tables.
        tables.backend().await;
        tables
    }

    /// A backend on a pool of its own, through `connect` options; its tables are created if
    /// needed.
    async fn backend_with(&self, options: PgConnectOptions, timeout: Duration) -> PostgresBackend {
        let pool = PgPoolOptions::new()
            .max_connections(5)
            .acquire_timeout(timeout)
            .connect_with(options)
            .await
            .unwrap();
        PostgresBackend::builder_with_pool(pool)
            .with_prefix(self.prefix.as_str())
            .with_timeout(timeout)
            .build()
            .await
            .unwrap()
    }

    async fn backend(&self) -> PostgresBackend {
        self.backend_with(common::postgres_options(), Duration::from_secs(5))
            .await
    }

    async fn handle(&self) -> Arc<dyn RevocationBackend> {
        Arc::new(self.backend().await)
    }
}

/// How many tables are named with `prefix`.
async fn tables_named(prefix: &str) -> i64 {
    let mut conn = common::postgres_options().connect().await.unwrap();
    sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE starts_with(tablename, $1)")
        .bind(prefix)
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

impl Drop for Tables {
    fn drop(&mut self) {
        let drop = format!(
            "DROP TABLE IF EXISTS {p}sessions, {p}entries, {p}dpop_proofs",
            p = self.prefix
        );
        // Drop runs inside the test's runtime, which cannot block on a query: a thread of
        // its own does it.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let mut conn = common::postgres_options().connect().await?;
                conn.execute(AssertSqlSafe(drop)).await.map(|_| ())
            })
        })
        .join();
        if !std::thread::panicking() {
            dropped.unwrap().unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_cap_ends_the_oldest_on_postgres() {
    let tables = Tables::new().await;
    the_session_cap_ends_the_oldest(tables.handle().await, tables.handle().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_backend_passes_the_conformance_suite() {
    let tables = &Tables::new().await;
    conformance::run(|| async move { (tables.handle().await, tables.handle().await) }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_out_everywhere_on_one_instance_refuses_the_old_refresh_tokens_on_the_other() {
    let tables = Tables::new().await;
    log_out_everywhere_reaches_the_other_instance(tables.handle().await, tables.handle().await)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_of_64_concurrent_refreshes_on_two_stores_wins() {
    let tables = Tables::new().await;
    one_of_64_concurrent_refreshes_wins(tables.handle().await, tables.handle().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_building_at_once_take_turns_and_nothing_is_left_behind() {
    let tables = Tables {
        prefix: unique_name("t"),
    };
    // Each build creates the tables if they do not exist: at once, and once more.
    tokio::join!(tables.backend(), tables.backend());
    tables.backend().await;
    assert_eq!(tables_named(&tables.prefix).await, 3);
    let prefix = tables.prefix.clone();
    drop(tables);
    assert_eq!(tables_named(&prefix).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_output_never_shows_the_password() {
    let backend = Tables {
        prefix: unique_name("t"),
    }
    .backend_with(
        common::postgres_options().password("hunter2-secret"),
        Duration::from_secs(5),
    )
    .await;
    let debug = format!("{backend:?}");
    assert!(debug.starts_with("PostgresBackend {"), "{debug}");
    assert!(!debug.contains("hunter2"), "{debug}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_url_a_refused_prefix_or_an_unreachable_server_is_a_clear_error() {
    let err = PostgresBackend::builder("not a url")
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, BackendError::Url(_)), "{err:?}");
    let err = PostgresBackend::builder("postgres://postgres@127.0.0.1:5432/test")
        .with_prefix("a-b")
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, BackendError::Config(_)), "{err:?}");
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let err = PostgresBackend::builder(&format!("postgres://postgres@127.0.0.1:{port}/test"))
        .with_timeout(Duration::from_secs(1))
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(err, BackendError::Connect(_) | BackendError::Timeout { .. }),
        "{err:?}"
    );
    assert!(!err.to_string().contains("postgres://"), "{err}");
}

/// A TCP proxy in front of the database that can cut every connection and refuse new ones,
/// as a database that goes away does, and let them through again.
struct Proxy {
    addr: SocketAddr,
    open: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    async fn start(target: (String, u16)) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let open = Arc::new(AtomicBool::new(true));
        let links = Arc::new(Mutex::new(Vec::new()));
        let accept = tokio::spawn({
            let (open, links) = (open.clone(), links.clone());
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if !open.load(Ordering::SeqCst) {
                        continue; // dropped: the connection is refused
                    }
                    let target = target.clone();
                    let link = tokio::spawn(async move {
                        let Ok(mut server) = TcpStream::connect(target).await else {
                            return;
                        };
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    });
                    links
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(link);
                }
            }
        });
        Self {
            addr,
            open,
            links,
            accept,
        }
    }

    /// The database goes away: every connection is cut, new ones are refused.
    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for link in self
            .links
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            link.abort();
        }
    }

    /// The database is back.
    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

/// The `tracing` output of the whole test binary, to check the backend's events.
fn captured_log() -> Arc<Mutex<Vec<u8>>> {
    #[derive(Clone)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut log = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            log.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Sink(log.clone());
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || sink.clone())
        .init();
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_database_goes_away_writes_fail_closed_and_the_store_catches_up_after() {
    let log = captured_log();
    let tables = Tables::new().await;
    let direct = common::postgres_options();
    let proxy = Proxy::start((direct.get_host().to_owned(), direct.get_port())).await;
    let proxied = common::postgres_options()
        .host("127.0.0.1")
        .port(proxy.addr.port());
    let cut_off = tables.backend_with(proxied, Duration::from_secs(1)).await;
    // `a` reaches the database through the proxy; `b`, another instance, directly.
    let (a, b) = two_instances(Arc::new(cut_off), tables.handle().await).await;
    let tasks = [
        tokio::spawn(a.issuer.revocation().clone().run()),
        tokio::spawn(b.issuer.revocation().clone().run()),
    ];
    let (pair, early, missed, later) = (
        a.login("alice").await,
        a.login("bob").await,
        a.login("carol").await,
        a.login("dave").await,
    );
    // Once `a` follows the feed, a logout on `b` reaches it.
    b.sessions.logout(early.session_id()).await.unwrap();
    let a_store = a.issuer.revocation();
    let within = Duration::from_secs(30);
    eventually("the feed reaches a", within, || {
        a_store.is_session_revoked(early.session_id())
    })
    .await;

    proxy.cut();
    // Every write fails closed with the backend's error ...
    assert!(matches!(
        a.sessions.logout(pair.session_id()).await,
        Err(RevocationError::Backend(_))
    ));
    // ... a refresh is 503 (the token is not used up) ...
    let refresh = Request::post("/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(format!(
            "grant_type=refresh_token&refresh_token={}",
            pair.refresh_token()
        ))))
        .unwrap();
    let response = RefreshService::new(a.sessions.clone())
        .oneshot(refresh)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    // ... and verification serves the local state until it may be staler than its bound
    // (then 503): nothing revoked becomes valid.
    assert!(matches!(
        access(&a, &pair),
        Ok(()) | Err(TokenError::RevocationUnavailable)
    ));
    assert!(matches!(
        access(&a, &early),
        Err(TokenError::Revoked | TokenError::RevocationUnavailable)
    ));
    // Meanwhile another instance logs out a session: `a` misses the notification.
    b.sessions.logout(missed.session_id()).await.unwrap();

    proxy.restore();
    eventually(
        "a reloads the state when the database is back",
        within,
        || a_store.is_session_revoked(missed.session_id()),
    )
    .await;
    b.sessions.logout(later.session_id()).await.unwrap();
    eventually("a follows the feed again", within, || {
        a_store.is_session_revoked(later.session_id())
    })
    .await;
    a.sessions.logout(pair.session_id()).await.unwrap();
    assert_eq!(access(&a, &pair), Err(TokenError::Revoked));
    assert_eq!(access(&a, &early), Err(TokenError::Revoked));
    for task in tasks {
        task.abort();
    }

    let log = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
    assert!(log.contains("revocation backend error"), "{log}");
    assert!(log.contains("revocation backend recovered"), "{log}");
    assert!(
        !log.contains(pair.refresh_token()),
        "no token in the events"
    );
}

/// `a` reaches the database through a proxy that is cut; `b` logs a session out meanwhile.
/// `a` may accept the logged-out token only up to its staleness bound (3 s), refuses it (503,
/// or 401 once it knows) from then on, and knows it revoked once the database is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_while_an_instance_is_cut_off_is_refused_there_within_the_bound() {
    const BOUND: Duration = Duration::from_secs(3);
    let tables = Tables::new().await;
    let direct = common::postgres_options();
    let proxy = Proxy::start((direct.get_host().to_owned(), direct.get_port())).await;
    let proxied = common::postgres_options()
        .host("127.0.0.1")
        .port(proxy.addr.port());
    let cut_off = tables.backend_with(proxied, Duration::from_secs(1)).await;
    let (a, b) = two_instances(Arc::new(cut_off), tables.handle().await).await;
    let tasks = [
        tokio::spawn(a.issuer.revocation().clone().run()),
        tokio::spawn(b.issuer.revocation().clone().run()),
    ];
    let pair = b.login("alice").await;
    let within = Duration::from_secs(30);
    eventually("a accepts the token", within, || {
        access(&a, &pair) == Ok(())
    })
    .await;

    proxy.cut();
    b.sessions.logout(pair.session_id()).await.unwrap();
    let logged_out = std::time::Instant::now();
    let mut accepted_until = None;
    while logged_out.elapsed() < 3 * BOUND {
        match access(&a, &pair) {
            Ok(()) => accepted_until = Some(logged_out.elapsed()),
            Err(err) => assert!(
                matches!(err, TokenError::Revoked | TokenError::RevocationUnavailable),
                "{err:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A generous margin over the bound: the point is that `a` stops, not when to the ms.
    if let Some(until) = accepted_until {
        assert!(
            until < BOUND + Duration::from_secs(2),
            "a accepted the logged-out token {until:?} after the logout"
        );
    }
    assert_eq!(access(&a, &pair), Err(TokenError::RevocationUnavailable));

    proxy.restore();
    let restored = std::time::Instant::now();
    eventually(
        "a knows the logout once the database is back",
        within,
        || access(&a, &pair) == Err(TokenError::Revoked),
    )
    .await;
    assert!(a.issuer.revocation().is_ready());
    eprintln!(
        "a accepted the logged-out token until {accepted_until:?}; ready {:?} after the \
         database came back",
        restored.elapsed()
    );
    for task in tasks {
        task.abort();
    }
}

proptest::proptest! {
    #![proptest_config(differential::config(64))]

    /// Random sequences of every operation answer the same on PostgreSQL as on the reference
    /// backend (each on a fresh state): rotation, grace, reuse, revocations, purges and loads.
    #[test]
    fn postgres_answers_as_the_memory_backend_does(steps in differential::steps()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let tables = Tables::new().await;
            let postgres = tables.backend().await;
            let counts = differential::Counts::RevokedSessionsOnce;
            differential::same_answers(&steps, &postgres, "PostgreSQL", counts).await
        })?;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sessions_table_from_before_the_listing_is_upgraded() {
    let tables = Tables::new().await;
    let p = tables.prefix.clone();
    let downgrade = async move {
        let mut conn = common::postgres_options().connect().await.unwrap();
        conn.execute(AssertSqlSafe(format!(
            "DROP INDEX {p}sessions_sub; \
             ALTER TABLE {p}sessions DROP COLUMN last_refreshed_ms, DROP COLUMN label"
        )))
        .await
        .unwrap();
    };
    let upgrade =
        an_old_sessions_table_is_upgraded(tables.handle().await, downgrade, tables.handle());
    Box::pin(upgrade).await;
}
