//! [`UnknownKid`]: the signal from a key set's verifiers to the task that feeds it (a remote
//! JWKS) that a token named a `kid` the set lacks.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// The verifiers' signal to the refresh task: a token named a `kid` the set lacks. Set by
/// any number of requests, cleared by the task when it fetches.
#[derive(Debug, Default)]
pub(crate) struct UnknownKid {
    pub(super) pending: AtomicBool,
    pub(super) notify: Notify,
}

impl UnknownKid {
    /// Never blocks nor allocates: a storm of unknown `kid`s is one relaxed load per token
    /// once the first has raised the flag.
    pub(crate) fn poke(&self) {
        if !self.pending.load(Ordering::Relaxed) && !self.pending.swap(true, Ordering::AcqRel) {
            self.notify.notify_one();
        }
    }
}
