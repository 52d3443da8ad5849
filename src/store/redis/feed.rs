//! The Redis backend's reads of the whole state: the pub/sub change feed, and the `SCAN`
//! walks of a warm start ([`load`](crate::store::RevocationBackend::load)) and of a purge.

use std::{
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use ::redis::{
    Client, ConnectionInfo, Value,
    aio::{PubSub, PubSubSink, PubSubStream},
};
use futures::StreamExt;

use super::{
    RedisBackend,
    backend::{Target, failed, unexpected},
    connection::{Node, SlotMap, primaries_of},
    keys::Kind,
};
use crate::store::{
    BoxError, Change, Heartbeat, RevocationEntry, backend::decode_change, error::OperationError,
};

/// Heartbeats of which only some copies arrived, kept at most (the oldest go first).
const MAX_PENDING: usize = 64;

/// Keys asked for per `SCAN` step: each step stays short, so a warm start never blocks Redis.
const SCAN_COUNT: usize = 1000;

/// A walk over the keys under the prefix with `SCAN`: short steps, so that it never blocks
/// Redis. A key may be found twice. On a cluster it walks each primary in turn, and fails
/// when a resharding is under way at its start or its end, or the slots moved in between:
/// a key moved during the walk could have been missed (the caller tries again, and a warm
/// start fails closed until the resharding is over).
struct Scan<'b> {
    backend: &'b RedisBackend,
    operation: &'static str,
    /// The node walked now: `None` on one Redis.
    node: Option<Node>,
    /// The primaries still to walk, the next last.
    nodes: Vec<Node>,
    cursor: Option<u64>,
    /// The cluster's slot map at the start, checked again at the end.
    slots: Option<SlotMap>,
}

impl<'b> Scan<'b> {
    async fn start(
        backend: &'b RedisBackend,
        operation: &'static str,
    ) -> Result<Self, OperationError> {
        let slots = backend
            .connection()
            .slot_map()
            .await
            .map_err(failed(operation))?;
        let mut nodes = slots.as_ref().map(primaries_of).unwrap_or_default();
        check_no_resharding(backend, operation, &nodes).await?;
        nodes.reverse();
        Ok(Self {
            backend,
            operation,
            node: nodes.pop(),
            nodes,
            cursor: Some(0),
            slots,
        })
    }

    /// The next step's keys of this backend (kind, id, key), or `None` at the end.
    async fn next_batch(&mut self) -> Result<Option<Vec<(Kind, String, Vec<u8>)>>, OperationError> {
        let Some(cursor) = self.cursor else {
            if let Some(node) = self.nodes.pop() {
                self.node = Some(node);
                self.cursor = Some(0);
                return Ok(Some(Vec::new()));
            }
            if let Some(before) = self.slots.take() {
                let after = self
                    .backend
                    .connection()
                    .slot_map()
                    .await
                    .map_err(failed(self.operation))?;
                if after.as_ref() != Some(&before) {
                    return Err(unexpected(
                        self.operation,
                        "the cluster's slots moved during the walk",
                    ));
                }
                check_no_resharding(self.backend, self.operation, &primaries_of(&before)).await?;
            }
            return Ok(None);
        };
        let keys = &self.backend.inner.keys;
        let mut scan = ::redis::cmd("SCAN");
        scan.arg(cursor)
            .arg("MATCH")
            .arg(&keys.pattern)
            .arg("COUNT")
            .arg(SCAN_COUNT)
            .arg("TYPE")
            .arg("hash");
        let (next, found): (u64, Vec<Vec<u8>>) = self
            .backend
            .connection()
            .on_node(self.node.as_ref(), scan)
            .await
            .map_err(failed(self.operation))?;
        self.cursor = (next != 0).then_some(next);
        Ok(Some(
            found
                .into_iter()
                .filter_map(|key| {
                    let (kind, id) = keys.parse(&key)?;
                    let id = id.to_owned();
                    Some((kind, id, key))
                })
                .collect(),
        ))
    }
}

/// Fails when one of the cluster's `primaries` is moving slots.
async fn check_no_resharding(
    backend: &RedisBackend,
    operation: &'static str,
    primaries: &[Node],
) -> Result<(), OperationError> {
    let connection = backend.connection();
    for node in primaries {
        if connection
            .is_resharding(node)
            .await
            .map_err(failed(operation))?
        {
            return Err(unexpected(
                operation,
                "a resharding of the cluster is under way",
            ));
        }
    }
    Ok(())
}

impl RedisBackend {
    /// The forget-after time and cut-off (or watermark) of each key, as far as it still exists.
    async fn entry_values(
        &self,
        keys: &[(Kind, String, Vec<u8>)],
    ) -> Result<Vec<(Option<u64>, Option<u64>)>, OperationError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let reads = keys
            .iter()
            .map(|(.., key)| {
                let mut read = ::redis::cmd("HMGET");
                read.arg(key).arg("fa").arg("c");
                read
            })
            .collect();
        self.connection()
            .query_each(reads)
            .await
            .map_err(failed("load"))
    }

    pub(super) async fn load_now(&self, now: u64) -> Result<Vec<RevocationEntry>, OperationError> {
        const OP: &str = "load";
        let mut entries = Vec::new();
        let mut scan = Scan::start(self, OP).await?;
        let mut batch = scan.next_batch().await?;
        while let Some(keys) = batch {
            let keys: Vec<_> = keys
                .into_iter()
                .filter(|(kind, ..)| *kind != Kind::Record)
                .collect();
            // The next step of the walk runs while this batch's values are read.
            let (next, values) = tokio::join!(scan.next_batch(), self.entry_values(&keys));
            batch = next?;
            for ((kind, id, _), (fa, cutoff)) in keys.into_iter().zip(values?) {
                // A key that expired since the scan found it has no fields.
                let Some(expires_at) = fa.filter(|fa| *fa >= now) else {
                    continue;
                };
                entries.push(match kind {
                    Kind::Token => RevocationEntry::Token {
                        jti: id,
                        expires_at,
                    },
                    Kind::RevokedSession => RevocationEntry::Session {
                        sid: id,
                        expires_at,
                    },
                    Kind::Subject => RevocationEntry::Subject {
                        sub: id,
                        cutoff_ms: cutoff
                            .ok_or_else(|| unexpected(OP, "a subject entry without its cut-off"))?,
                        expires_at,
                    },
                    Kind::Access => RevocationEntry::Access {
                        sid: id,
                        seq: cutoff.ok_or_else(|| {
                            unexpected(OP, "an access watermark without its number")
                        })?,
                        expires_at,
                    },
                    Kind::Record | Kind::SubjectSessions | Kind::DpopProof => continue,
                });
            }
        }
        Ok(entries)
    }

    pub(super) async fn purge_now(&self, now: u64) -> Result<u64, OperationError> {
        const OP: &str = "purge";
        let (secs, micros): (u64, u64) = ::redis::cmd("TIME")
            .query_async(&mut self.connection())
            .await
            .map_err(failed(OP))?;
        let server_ms = secs.saturating_mul(1000).saturating_add(micros / 1000);
        if now.saturating_mul(1000) < server_ms {
            // A key not live at `now` has a forget-after second before `now`, and Redis has
            // expired it at the end of that second.
            return Ok(0);
        }
        let mut purged = 0;
        let mut scan = Scan::start(self, OP).await?;
        while let Some(keys) = scan.next_batch().await? {
            if keys.is_empty() {
                continue;
            }
            let reads = keys
                .iter()
                .map(|(.., key)| {
                    let mut read = ::redis::cmd("HGET");
                    read.arg(key).arg("fa");
                    read
                })
                .collect();
            let times: Vec<Option<u64>> = self
                .connection()
                .query_each(reads)
                .await
                .map_err(failed(OP))?;
            for ((.., key), fa) in keys.iter().zip(times) {
                if fa.is_some_and(|fa| fa < now) {
                    // The script checks again: a rotation may have moved the time since.
                    let mut invocation = self.inner.scripts.purge.prepare_invoke();
                    invocation.key(key).arg(now);
                    let deleted: u64 = invocation
                        .invoke_async(&mut self.connection())
                        .await
                        .map_err(failed(OP))?;
                    purged += deleted;
                }
            }
        }
        Ok(purged)
    }

    pub(super) async fn open_feed(&self) -> Result<Feed, OperationError> {
        const OP: &str = "subscribe";
        let (mut pubsub, copies) = match &self.inner.target {
            Target::Single(client) => (client.get_async_pubsub().await.map_err(failed(OP))?, 1),
            Target::Cluster { seeds, next_feed } => self.cluster_pubsub(seeds, next_feed).await?,
        };
        pubsub
            .subscribe(&self.inner.keys.channel)
            .await
            .map_err(failed(OP))?;
        let (sink, messages) = pubsub.split();
        let every = self.inner.heartbeat;
        Ok(Feed {
            sink,
            messages,
            heartbeat: tokio::time::interval_at(tokio::time::Instant::now() + every, every),
            every,
            open: true,
            copies,
            pending: Vec::new(),
        })
    }
}

impl RedisBackend {
    /// A pub/sub connection to one node of the cluster (the primaries it reports, then the
    /// seeds, each tried in turn from a place that moves on at every call, so that a feed
    /// lost with its node subscribes again on another), and the number of primaries: the
    /// copies of each heartbeat.
    async fn cluster_pubsub(
        &self,
        seeds: &[ConnectionInfo],
        next_feed: &AtomicUsize,
    ) -> Result<(PubSub, usize), OperationError> {
        const OP: &str = "subscribe";
        let Some(first_seed) = seeds.first() else {
            return Err(unexpected(OP, "a cluster without nodes"));
        };
        let primaries = self
            .connection()
            .primaries()
            .await
            .map_err(failed(OP))?
            .unwrap_or_default();
        if primaries.is_empty() {
            return Err(unexpected(OP, "a cluster without primaries"));
        }
        let mut candidates: Vec<ConnectionInfo> = primaries
            .iter()
            .map(|node| node.connection_info(first_seed))
            .collect();
        for seed in seeds {
            if !candidates.iter().any(|known| known.addr() == seed.addr()) {
                candidates.push(seed.clone());
            }
        }
        let start = next_feed.fetch_add(1, Ordering::Relaxed) % candidates.len();
        candidates.rotate_left(start);
        let mut last = None;
        for info in candidates {
            let connect = async { Client::open(info)?.get_async_pubsub().await };
            match tokio::time::timeout(self.inner.heartbeat, connect).await {
                Ok(Ok(pubsub)) => return Ok((pubsub, primaries.len())),
                Ok(Err(err)) => last = Some(failed(OP)(err)),
                Err(_) => last = Some(unexpected(OP, "no node answered in time")),
            }
        }
        Err(last.unwrap_or_else(|| unexpected(OP, "a cluster without nodes")))
    }
}

/// One subscription to the change feed: its connection, and a heartbeat that finds a
/// connection that no longer answers.
pub(super) struct Feed {
    sink: PubSubSink,
    messages: PubSubStream,
    heartbeat: tokio::time::Interval,
    /// The heartbeat's period, also the time a ping has to answer.
    every: Duration,
    open: bool,
    /// The copies of each heartbeat to wait for: one per primary of a cluster.
    copies: usize,
    /// The heartbeats of which some copies arrived, with their count.
    pending: Vec<(Heartbeat, usize)>,
}

impl Feed {
    /// The next change; after an error, the end. Every message proves the connection alive:
    /// only a feed idle for a whole period pings.
    pub(super) async fn next_change(&mut self) -> Option<Result<Change, BoxError>> {
        if !self.open {
            return None;
        }
        loop {
            tokio::select! {
                message = self.messages.next() => {
                    let Some(message) = message else {
                        return Some(self.lost("its connection was closed"));
                    };
                    self.heartbeat.reset();
                    return Some(match decode_change(message.get_payload_bytes()) {
                        Ok(Change::Heartbeat(beat)) if !self.all_copies(beat) => continue,
                        Ok(change) => Ok(change),
                        Err(_) => self.lost("a message could not be decoded"),
                    });
                }
                _ = self.heartbeat.tick() => {
                    let ping = tokio::time::timeout(self.every, self.sink.ping::<Value>()).await;
                    if !matches!(ping, Ok(Ok(_))) {
                        return Some(self.lost("its connection stopped answering"));
                    }
                }
            }
        }
    }

    /// Counts a copy of `beat`: `true` once every primary's copy arrived.
    fn all_copies(&mut self, beat: Heartbeat) -> bool {
        if self.copies <= 1 {
            return true;
        }
        let Some(at) = self.pending.iter().position(|(seen, _)| *seen == beat) else {
            if self.pending.len() == MAX_PENDING {
                self.pending.remove(0);
            }
            self.pending.push((beat, 1));
            return false;
        };
        self.pending[at].1 += 1;
        if self.pending[at].1 < self.copies {
            return false;
        }
        self.pending.remove(at);
        true
    }

    /// Ends the feed with a gap (the store reports it and reloads).
    fn lost(&mut self, why: &'static str) -> Result<Change, BoxError> {
        self.open = false;
        Err(Box::new(unexpected("change feed", why)))
    }
}
