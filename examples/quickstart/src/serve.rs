//! Serving: HTTP/1.1 connections with a header-read timeout, an idle timeout and a cap on how
//! many are open, and a graceful shutdown with a bounded drain.

use std::{
    convert::Infallible,
    future::Future,
    io,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{Router, extract::Request, response::Response};
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{Notify, OwnedSemaphorePermit, Semaphore, watch},
    time::Instant,
};
use tower_service::Service;

use crate::App;

/// The bounds of serving, from [`Config`](crate::Config).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `HEADER_READ_TIMEOUT_SECS`: a connection that has not sent a request's headers by then
    /// is closed.
    pub header_read_timeout: Duration,
    /// `IDLE_TIMEOUT_SECS`: a connection with no request in progress for that long is closed,
    /// whether it never sent one or is a kept-alive connection between requests.
    pub idle_timeout: Duration,
    /// `MAX_CONNECTIONS`: connections served at once; one more is closed as soon as accepted,
    /// so that accepting never stalls and a client beyond the cap learns it at once.
    pub max_connections: usize,
    /// `SHUTDOWN_DRAIN_SECS`: how long a shutdown waits for requests in progress.
    pub shutdown_drain: Duration,
}

/// How long the accept loop waits after an error (out of file descriptors, say) before it
/// accepts again: meanwhile timeouts close connections and give descriptors back.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `app` on `listener` until `shutdown` completes: every connection under
/// [`Limits`], then a graceful shutdown that stops accepting, closes idle connections, lets
/// requests in progress finish for up to the drain time, and returns. Also runs the
/// revocation store's background task, which purges what can no longer matter every minute.
pub async fn serve(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let purge = tokio::spawn(app.issuer.revocation().clone().run());
    let limits = app.limits;
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopping) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    tracing::warn!(target: "quickstart", %err, "cannot accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::debug!(target: "quickstart", "connection refused: MAX_CONNECTIONS open");
            drop(stream);
            continue;
        };
        let router = app.router.clone();
        tokio::spawn(connection(stream, router, limits, stopping.clone(), permit));
    }
    drop(listener);
    let _ = stop.send(true);
    // Every connection holds a permit until it is closed: all back means all closed.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let drained = tokio::time::timeout(limits.shutdown_drain, permits.acquire_many(all)).await;
    if drained.is_err() {
        tracing::warn!(
            target: "quickstart",
            "shutdown: requests still in progress after SHUTDOWN_DRAIN_SECS are dropped"
        );
    }
    purge.abort();
    Ok(())
}

/// Whether a connection has a request in progress, and since when it has had none.
struct Activity {
    in_progress: AtomicUsize,
    /// Woken when a request ends: the idle clock starts again.
    ended: Notify,
}

/// Serves one connection until the client closes it, it stays idle past the idle timeout,
/// it is too slow with its headers, or the server shuts down (then after its request in
/// progress, if any).
async fn connection(
    stream: TcpStream,
    router: Router,
    limits: Limits,
    mut stopping: watch::Receiver<bool>,
    permit: OwnedSemaphorePermit,
) {
    let activity = Arc::new(Activity {
        in_progress: AtomicUsize::new(0),
        ended: Notify::new(),
    });
    let service = {
        let activity = activity.clone();
        service_fn(move |request: Request<Incoming>| {
            activity.in_progress.fetch_add(1, Ordering::AcqRel);
            let activity = activity.clone();
            // A router is always ready: `call` needs no `poll_ready` first.
            let response = router.clone().call(request);
            async move {
                let response: Result<Response, Infallible> = response.await;
                activity.in_progress.fetch_sub(1, Ordering::AcqRel);
                activity.ended.notify_one();
                response
            }
        })
    };
    let served = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(served);
    let mut idle_deadline = Instant::now() + limits.idle_timeout;
    let mut closing = *stopping.borrow();
    if closing {
        served.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            result = served.as_mut() => {
                if let Err(err) = result {
                    tracing::debug!(target: "quickstart", %err, "connection closed");
                }
                break;
            }
            () = activity.ended.notified() => {
                idle_deadline = Instant::now() + limits.idle_timeout;
            }
            () = tokio::time::sleep_until(idle_deadline), if !closing => {
                if activity.in_progress.load(Ordering::Acquire) == 0 {
                    // Closes the connection now, or after a request that just started.
                    served.as_mut().graceful_shutdown();
                    closing = true;
                } else {
                    idle_deadline = Instant::now() + limits.idle_timeout;
                }
            }
            changed = stopping.changed(), if !closing => {
                if changed.is_err() || *stopping.borrow() {
                    served.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
        }
    }
    drop(permit);
}
