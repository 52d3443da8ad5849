//! Serving: the listener, the connections and the shutdown.

use std::{future::Future, io};

use tokio::net::TcpListener;

use crate::App;

/// Serves `app` on `listener` until `shutdown` completes, then lets open requests finish.
/// Also runs the revocation store's background task, which purges what can no longer matter
/// every minute.
pub async fn serve(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let purge = tokio::spawn(app.issuer.revocation().clone().run());
    let served = axum::serve(listener, app.router)
        .with_graceful_shutdown(shutdown)
        .await;
    purge.abort();
    served
}
