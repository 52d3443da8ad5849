//! The Redis backend's index of sessions by subject, and the listing it serves.

use ::redis::AsyncCommands;

use super::{
    RedisBackend,
    backend::{failed, unexpected},
    keys::Kind,
};
use crate::store::{LiveSession, NewSession, error::OperationError};

/// What the listing reads of a session record: subject, start, last refresh, label,
/// forget-after.
type RecordFields = (
    Option<String>,
    Option<u64>,
    Option<u64>,
    Option<String>,
    Option<u64>,
);

impl RedisBackend {
    /// Adds a created session to its subject's index (a key in the subject's slot, apart
    /// from the session's keys), kept at least until the session's last forget-after time.
    pub(super) async fn index(&self, session: &NewSession<'_>) -> Result<(), OperationError> {
        let mut invocation = self.inner.scripts.index.prepare_invoke();
        invocation
            .key(self.inner.keys.key(Kind::SubjectSessions, session.sub))
            .arg(session.started_ms)
            .arg(session.sid)
            .arg(session.last_forget_after.max(session.forget_after));
        invocation
            .invoke_async::<i64>(&mut self.connection())
            .await
            .map(drop)
            .map_err(failed("create_session"))
    }

    /// The live sessions of `sub` at `now`: the index's members whose record is live, of
    /// `sub`, not revoked and started after the subject's live cut-off. Members whose
    /// record is gone are dropped from the index.
    pub(super) async fn list_now(
        &self,
        sub: &str,
        now: u64,
    ) -> Result<Vec<LiveSession>, OperationError> {
        const OP: &str = "list_sessions";
        let keys = &self.inner.keys;
        let index = keys.key(Kind::SubjectSessions, sub);
        let mut connection = self.connection();
        let sids: Vec<String> = connection.zrange(&index, 0, -1).await.map_err(failed(OP))?;
        if sids.is_empty() {
            return Ok(Vec::new());
        }
        let (cutoff_ms, cutoff_fa): (Option<u64>, Option<u64>) = ::redis::cmd("HMGET")
            .arg(keys.key(Kind::Subject, sub))
            .arg(&["c", "fa"])
            .query_async(&mut connection)
            .await
            .map_err(failed(OP))?;
        let cutoff_ms = cutoff_ms.filter(|_| cutoff_fa.is_some_and(|fa| fa >= now));
        // The sessions' keys live in their own slots: on a cluster, one command each.
        let mut records = Vec::with_capacity(sids.len());
        let mut revoked = Vec::with_capacity(sids.len());
        for sid in &sids {
            let mut record = ::redis::cmd("HMGET");
            record
                .arg(keys.key(Kind::Record, sid))
                .arg(&["sub", "st", "lr", "lb", "fa"]);
            records.push(record);
            let mut exists = ::redis::cmd("EXISTS");
            exists.arg(keys.key(Kind::RevokedSession, sid));
            revoked.push(exists);
        }
        let fields: Vec<RecordFields> = connection.query_each(records).await.map_err(failed(OP))?;
        let revoked: Vec<bool> = connection.query_each(revoked).await.map_err(failed(OP))?;
        if fields.len() != sids.len() || revoked.len() != sids.len() {
            return Err(unexpected(OP, "a reply of another length"));
        }
        let mut live = Vec::new();
        let mut gone = Vec::new();
        for ((sid, (owner, started, refreshed, label, fa)), revoked) in
            sids.into_iter().zip(fields).zip(revoked)
        {
            let (Some(owner), Some(started_ms), Some(fa)) = (owner, started, fa) else {
                gone.push(sid);
                continue;
            };
            let listed = owner == sub
                && fa >= now
                && !revoked
                && cutoff_ms.is_none_or(|cutoff| started_ms > cutoff);
            if listed {
                live.push(
                    LiveSession::new(sid, started_ms)
                        .with_last_refreshed_ms(refreshed)
                        .with_label(label.filter(|l| !l.is_empty())),
                );
            }
        }
        if !gone.is_empty() {
            // Only tidies the index: a failure leaves members the next listing drops.
            let _: Result<i64, _> = connection.zrem(&index, gone).await;
        }
        live.sort_by(|a, b| (a.started_ms, &a.sid).cmp(&(b.started_ms, &b.sid)));
        Ok(live)
    }
}
