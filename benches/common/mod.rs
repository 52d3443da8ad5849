//! What the benchmarks share (each uses part of it).

#![allow(dead_code)]

use std::{
    future::Future,
    pin::pin,
    task::{Context, Poll, Waker},
};

use tower_jwt_auth::store::{
    BoxError, BoxFuture, ChangeStream, Heartbeat, MemoryBackend, NewSession, RevocationBackend,
    RevocationEntry, RotateOutcome, Rotation,
};

/// The in-memory backend, except that revocations are only kept by the store's own map, so
/// that 1M entries cost what the deny-list costs.
#[derive(Debug, Default)]
pub(crate) struct LocalOnly(MemoryBackend);

impl RevocationBackend for LocalOnly {
    fn create_session<'a>(&'a self, s: &'a NewSession<'a>) -> BoxFuture<'a, Result<(), BoxError>> {
        self.0.create_session(s)
    }
    fn rotate<'a>(&'a self, r: &'a Rotation<'a>) -> BoxFuture<'a, Result<RotateOutcome, BoxError>> {
        self.0.rotate(r)
    }
    fn revoke<'a>(&'a self, _: &'a RevocationEntry) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async { Ok(()) })
    }
    fn load(&self, now: u64) -> BoxFuture<'_, Result<Vec<RevocationEntry>, BoxError>> {
        self.0.load(now)
    }
    fn subscribe(&self) -> BoxFuture<'_, Result<ChangeStream, BoxError>> {
        self.0.subscribe()
    }
    fn purge(&self, now: u64) -> BoxFuture<'_, Result<u64, BoxError>> {
        self.0.purge(now)
    }
    fn heartbeat<'a>(&'a self, beat: &'a Heartbeat) -> BoxFuture<'a, Result<(), BoxError>> {
        self.0.heartbeat(beat)
    }
}

/// Polls a future that completes without waiting: every service and backend benchmarked here
/// is synchronous (the in-memory backend never waits).
pub(crate) fn now<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("the benchmarked services and backends never wait"),
    }
}
