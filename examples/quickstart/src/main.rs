//! The quickstart server: `cargo run -p quickstart`. See the library's documentation for its
//! configuration and routes.

use std::{future::Future, io, process::ExitCode};

use quickstart::{Config, app_with, open_stores, serve};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("quickstart: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    init_logging()?;
    let mut config = Config::from_env()?;
    let listener = TcpListener::bind(&config.addr)
        .await
        .map_err(|err| format!("cannot listen on ADDR={}: {err}", config.addr))?;
    let addr = listener
        .local_addr()
        .map_err(|err| format!("cannot read the bound address: {err}"))?;
    // Without PUBLIC_URL the server is named by the address bound (its port, if ADDR's is 0).
    config.addr = addr.to_string();
    let app = app_with(&config, open_stores(&config).await?)?;
    if app.key_generated {
        eprintln!(
            "no SIGNING_KEY_FILE: generated an Ed25519 signing key (kid {}); tokens will not \
             survive a restart",
            app.issuer.keys().signing_kid().unwrap_or_default()
        );
    }
    let shutdown = shutdown_signal()?;
    println!("listening on http://{addr}");
    serve(listener, app, shutdown)
        .await
        .map_err(|err| format!("server failed: {err}"))
}

/// Logs to standard error (standard output carries only the "listening" line) at the level
/// of `RUST_LOG`, by default `info`.
fn init_logging() -> Result<(), String> {
    use tracing_subscriber::{filter::Targets, layer::SubscriberExt, util::SubscriberInitExt};
    // `target=level` directives separated by commas, or a bare level (no span or field
    // filters: that parser needs regular expressions, which would double the first build).
    let filter: Targets = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.is_empty() => directives
            .parse()
            .map_err(|err| format!("RUST_LOG={directives:?} is invalid: {err}"))?,
        _ => Targets::new().with_default(tracing::Level::INFO),
    };
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(io::stderr)
                .with_ansi(false),
        )
        .with(filter)
        .try_init()
        .map_err(|err| format!("cannot install the logger: {err}"))
}

/// Completes on Ctrl-C (or, on Unix, SIGTERM). The handlers are in place when this returns,
/// so a signal sent as soon as the "listening" line is out is not missed.
fn shutdown_signal() -> Result<impl Future<Output = ()>, String> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let listen = |kind| signal(kind).map_err(|err| format!("cannot handle signals: {err}"));
        let mut interrupt = listen(SignalKind::interrupt())?;
        let mut terminate = listen(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            // If the handler cannot be installed, serve on rather than stop at once.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}
