//! The Redis backend's reads of the whole state: the pub/sub change feed, and the `SCAN`
//! walks of a warm start ([`load`](crate::store::RevocationBackend::load)) and of a purge.

use std::time::Duration;

use ::redis::{
    Value,
    aio::{PubSubSink, PubSubStream},
};
use futures::StreamExt;

use super::{
    RedisBackend,
    backend::{failed, unexpected},
    keys::Kind,
};
use crate::store::{
    BoxError, Change, RevocationEntry, backend::decode_change, error::OperationError,
};

/// Keys asked for per `SCAN` step: each step stays short, so a warm start never blocks Redis.
const SCAN_COUNT: usize = 1000;

/// A walk over the keys under the prefix with `SCAN`: short steps, so that it never blocks
/// Redis. A key may be found twice.
struct Scan<'b> {
    backend: &'b RedisBackend,
    operation: &'static str,
    cursor: Option<u64>,
}

impl<'b> Scan<'b> {
    fn new(backend: &'b RedisBackend, operation: &'static str) -> Self {
        Self {
            backend,
            operation,
            cursor: Some(0),
        }
    }

    /// The next step's keys of this backend (kind, id, key), or `None` at the end.
    async fn next_batch(&mut self) -> Result<Option<Vec<(Kind, String, Vec<u8>)>>, OperationError> {
        let Some(cursor) = self.cursor else {
            return Ok(None);
        };
        let keys = &self.backend.inner.keys;
        let (next, found): (u64, Vec<Vec<u8>>) = ::redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&keys.pattern)
            .arg("COUNT")
            .arg(SCAN_COUNT)
            .arg("TYPE")
            .arg("hash")
            .query_async(&mut self.backend.connection())
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

impl RedisBackend {
    /// The forget-after time and cut-off (or watermark) of each key, as far as it still exists.
    async fn entry_values(
        &self,
        keys: &[(Kind, String, Vec<u8>)],
    ) -> Result<Vec<(Option<u64>, Option<u64>)>, OperationError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = ::redis::pipe();
        for (.., key) in keys {
            pipe.cmd("HMGET").arg(key).arg("fa").arg("c");
        }
        pipe.query_async(&mut self.connection())
            .await
            .map_err(failed("load"))
    }

    pub(super) async fn load_now(&self, now: u64) -> Result<Vec<RevocationEntry>, OperationError> {
        const OP: &str = "load";
        let mut entries = Vec::new();
        let mut scan = Scan::new(self, OP);
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
                    Kind::Record | Kind::SubjectSessions => continue,
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
        let mut scan = Scan::new(self, OP);
        while let Some(keys) = scan.next_batch().await? {
            if keys.is_empty() {
                continue;
            }
            let mut pipe = ::redis::pipe();
            for (.., key) in &keys {
                pipe.cmd("HGET").arg(key).arg("fa");
            }
            let times: Vec<Option<u64>> = pipe
                .query_async(&mut self.connection())
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
        let mut pubsub = self
            .inner
            .client
            .get_async_pubsub()
            .await
            .map_err(failed(OP))?;
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
        })
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
                    return Some(
                        match decode_change(message.get_payload_bytes()) {
                            Ok(change) => Ok(change),
                            Err(_) => self.lost("a message could not be decoded"),
                        },
                    );
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

    /// Ends the feed with a gap (the store reports it and reloads).
    fn lost(&mut self, why: &'static str) -> Result<Change, BoxError> {
        self.open = false;
        Err(Box::new(unexpected("change feed", why)))
    }
}
