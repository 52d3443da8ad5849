//! The shared store's backend, counting what comes in on its change feed.

use std::sync::Arc;

use tokio::sync::watch;
use tower_jwt_auth::store::{
    BoxError, BoxFuture, Change, ChangeStream, Heartbeat, LiveSession, NewSession,
    RevocationBackend, RevocationEntry, RotateOutcome, Rotation,
};

/// The shared store's backend, counting the revocations that come in on its change feed: an
/// entry counts once the revocation store has applied it, that is when the store asks the
/// feed for the next one (it applies each entry before it polls the feed again).
#[derive(Debug)]
pub(crate) struct FeedCounted {
    pub(crate) inner: Arc<dyn RevocationBackend>,
    pub(crate) applied: watch::Sender<u64>,
}

impl RevocationBackend for FeedCounted {
    fn create_session<'a>(
        &'a self,
        session: &'a NewSession<'a>,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        self.inner.create_session(session)
    }

    fn rotate<'a>(
        &'a self,
        rotation: &'a Rotation<'a>,
    ) -> BoxFuture<'a, Result<RotateOutcome, BoxError>> {
        self.inner.rotate(rotation)
    }

    fn revoke<'a>(&'a self, entry: &'a RevocationEntry) -> BoxFuture<'a, Result<(), BoxError>> {
        self.inner.revoke(entry)
    }

    fn load(&self, now: u64) -> BoxFuture<'_, Result<Vec<RevocationEntry>, BoxError>> {
        self.inner.load(now)
    }

    fn subscribe(&self) -> BoxFuture<'_, Result<ChangeStream, BoxError>> {
        Box::pin(async move {
            let feed = self.inner.subscribe().await?;
            let applied = self.applied.clone();
            let counted = futures::stream::unfold((feed, false), move |(mut feed, delivered)| {
                let applied = applied.clone();
                async move {
                    if delivered {
                        applied.send_modify(|n| *n += 1);
                    }
                    let change = futures::StreamExt::next(&mut feed).await?;
                    let delivered = matches!(change, Ok(Change::Entry(_)));
                    Some((change, (feed, delivered)))
                }
            });
            Ok(Box::pin(counted) as ChangeStream)
        })
    }

    fn purge(&self, now: u64) -> BoxFuture<'_, Result<u64, BoxError>> {
        self.inner.purge(now)
    }

    fn heartbeat<'a>(&'a self, beat: &'a Heartbeat) -> BoxFuture<'a, Result<(), BoxError>> {
        self.inner.heartbeat(beat)
    }

    fn list_sessions<'a>(
        &'a self,
        sub: &'a str,
        now: u64,
    ) -> BoxFuture<'a, Result<Vec<LiveSession>, BoxError>> {
        self.inner.list_sessions(sub, now)
    }
}
