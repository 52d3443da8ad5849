//! A revocation backend that cannot be reached: every call fails.

use tower_jwt_auth::store::{
    BoxError, BoxFuture, ChangeStream, Heartbeat, NewSession, RevocationBackend, RevocationEntry,
    RotateOutcome, Rotation,
};

/// A backend whose every call fails with "connection refused".
#[derive(Debug)]
pub struct Down;

fn down<'a, T: Send + 'a>() -> BoxFuture<'a, Result<T, BoxError>> {
    Box::pin(async { Err("connection refused".into()) })
}

impl RevocationBackend for Down {
    fn create_session<'a>(&'a self, _: &'a NewSession<'a>) -> BoxFuture<'a, Result<(), BoxError>> {
        down()
    }
    fn rotate<'a>(&'a self, _: &'a Rotation<'a>) -> BoxFuture<'a, Result<RotateOutcome, BoxError>> {
        down()
    }
    fn revoke<'a>(&'a self, _: &'a RevocationEntry) -> BoxFuture<'a, Result<(), BoxError>> {
        down()
    }
    fn load(&self, _: u64) -> BoxFuture<'_, Result<Vec<RevocationEntry>, BoxError>> {
        down()
    }
    fn subscribe(&self) -> BoxFuture<'_, Result<ChangeStream, BoxError>> {
        down()
    }
    fn purge(&self, _: u64) -> BoxFuture<'_, Result<u64, BoxError>> {
        down()
    }
    fn heartbeat<'a>(&'a self, _: &'a Heartbeat) -> BoxFuture<'a, Result<(), BoxError>> {
        down()
    }
}
