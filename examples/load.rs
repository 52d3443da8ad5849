//! Load harness: one axum server with the same handler unprotected and behind
//! `BearerAuthLayer` (HS256 and EdDSA, with and without the verified-token cache), driven by
//! `wrk` on loopback, one route after the other, for a bounded time each. Prints requests/s,
//! p50, p99 and the ratio to the unprotected route, as a Markdown table.
//!
//! ```sh
//! apt-get install wrk        # Debian's package
//! cargo run --release --example load
//! ```
//!
//! `LOAD_SECONDS` (default 5) is the time per route, `LOAD_CONNECTIONS` (default 64) the
//! number of connections and `LOAD_THREADS` (default 1) wrk's threads. The server runs on
//! `LOAD_SERVER_THREADS` (default 1) worker threads, so that server and load generator each
//! have a core of a two-core machine. Exits non-zero if wrk is missing or any response was
//! not 200.

use std::{
    error::Error,
    net::SocketAddr,
    process::{Command, ExitCode},
};

use axum::{Router, routing::get};
use tower_jwt_auth::{BearerAuthLayer, Issuer, KeySet, Sessions, SigningKey, keys::Algorithm};

/// One measured route: its path and the token wrk sends (none for the open route).
struct Route {
    path: &'static str,
    label: &'static str,
    token: Option<String>,
}

/// What wrk reported.
struct Measured {
    requests_per_sec: f64,
    p50_us: f64,
    p99_us: f64,
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn hello() -> &'static str {
    "hello"
}

fn issuer(key: SigningKey) -> Result<Issuer, Box<dyn Error>> {
    Ok(Issuer::builder(KeySet::new(key))
        .with_issuer("https://auth.example")
        .with_audience("api")
        .build()?)
}

/// A wrk latency such as `812.00us`, `1.20ms` or `1.01s`, in microseconds.
fn micros(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    Some(match unit {
        "us" => number,
        "ms" => number * 1_000.0,
        "s" => number * 1_000_000.0,
        _ => return None,
    })
}

fn run_wrk(addr: SocketAddr, route: &Route) -> Result<Measured, Box<dyn Error>> {
    let seconds = env_or("LOAD_SECONDS", 5);
    let mut command = Command::new("wrk");
    command
        .arg(format!("-t{}", env_or("LOAD_THREADS", 1)))
        .arg(format!("-c{}", env_or("LOAD_CONNECTIONS", 64)))
        .arg(format!("-d{seconds}s"))
        .arg(format!("--timeout={}s", seconds + 5))
        .arg("--latency");
    if let Some(token) = &route.token {
        command
            .arg("-H")
            .arg(format!("Authorization: Bearer {token}"));
    }
    let output = command
        .arg(format!("http://{addr}{}", route.path))
        .output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!("wrk failed on {}: {}", route.path, output.status).into());
    }
    if text.contains("Non-2xx or 3xx responses") || text.contains("Socket errors") {
        return Err(format!("{}: errors in wrk's report:\n{text}", route.path).into());
    }
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|line| line.strip_prefix(prefix))
            .map(str::trim)
            .ok_or_else(|| format!("no {prefix:?} in wrk's report:\n{text}"))
    };
    Ok(Measured {
        requests_per_sec: field("Requests/sec:")?.parse()?,
        p50_us: micros(field("50%")?).ok_or("unreadable p50")?,
        p99_us: micros(field("99%")?).ok_or("unreadable p99")?,
    })
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    if Command::new("wrk").arg("--version").output().is_err() {
        return Err(
            "wrk is not installed: `apt-get install wrk` (Debian's package), then run again".into(),
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(usize::try_from(env_or("LOAD_SERVER_THREADS", 1))?)
        .enable_all()
        .build()?;

    let hs256 = issuer(SigningKey::from_secret(Algorithm::HS256, &[0x5a; 32])?)?;
    let eddsa = issuer(SigningKey::generate_ed25519()?)?;
    let token = |issuer: &Issuer| -> Result<String, Box<dyn Error>> {
        let pair = runtime
            .block_on(Sessions::new(issuer.clone()).start_with_scope("alice", "read write"))?;
        Ok(pair.access_token().to_owned())
    };
    let (hs256_token, eddsa_token) = (token(&hs256)?, token(&eddsa)?);

    let app = Router::new()
        .route("/open", get(hello))
        .route(
            "/hs256",
            get(hello).route_layer(BearerAuthLayer::new(&hs256)),
        )
        .route(
            "/eddsa",
            get(hello).route_layer(BearerAuthLayer::new(&eddsa)),
        )
        .route(
            "/hs256-uncached",
            get(hello).route_layer(BearerAuthLayer::new(&hs256).without_cache()),
        )
        .route(
            "/eddsa-uncached",
            get(hello).route_layer(BearerAuthLayer::new(&eddsa).without_cache()),
        );
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    runtime.spawn(async move { axum::serve(listener, app).await });

    let routes = [
        Route {
            path: "/open",
            label: "unprotected",
            token: None,
        },
        Route {
            path: "/hs256",
            label: "HS256, cache (default)",
            token: Some(hs256_token.clone()),
        },
        Route {
            path: "/eddsa",
            label: "EdDSA, cache (default)",
            token: Some(eddsa_token.clone()),
        },
        Route {
            path: "/hs256-uncached",
            label: "HS256, `without_cache()`",
            token: Some(hs256_token),
        },
        Route {
            path: "/eddsa-uncached",
            label: "EdDSA, `without_cache()`",
            token: Some(eddsa_token),
        },
    ];

    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "server: {} worker thread(s); wrk: {} thread(s), {} connections, {} s per route; \
         load average before: {}",
        env_or("LOAD_SERVER_THREADS", 1),
        env_or("LOAD_THREADS", 1),
        env_or("LOAD_CONNECTIONS", 64),
        env_or("LOAD_SECONDS", 5),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    );
    println!();
    // The unprotected route first and last: the base is their mean, so that a drift of the
    // machine's load during the run shows and weighs on both sides.
    let mut measured = Vec::new();
    for route in routes.iter().chain(routes.first()) {
        measured.push((route.label, run_wrk(addr, route)?));
    }
    let base =
        (measured[0].1.requests_per_sec + measured[measured.len() - 1].1.requests_per_sec) / 2.0;
    println!("| route | requests/s | p50 | p99 | ratio to unprotected |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (label, m) in &measured {
        println!(
            "| {label} | {:.0} | {:.0} µs | {:.0} µs | {:.2} |",
            m.requests_per_sec,
            m.p50_us,
            m.p99_us,
            m.requests_per_sec / base
        );
    }
    Ok(())
}
