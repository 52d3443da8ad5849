//! The SQL backends' schema and statements, for one table prefix, and the conversions
//! between the crate's values and SQL integers.

use std::sync::Arc;

use crate::store::record::refresh_token_id;

/// The table prefix of a backend built without one.
pub(crate) const DEFAULT_PREFIX: &str = "tower_jwt_auth_";
/// The longest table prefix: PostgreSQL cuts identifiers at 63 bytes, and the longest name
/// made from a prefix (an index name) adds 24.
const MAX_PREFIX_LEN: usize = 39;

/// The values of the `kind` column of the entries table, and of the session entries that
/// `load` makes from revoked session records.
pub(super) const TOKEN: &str = "token";
pub(super) const SUBJECT: &str = "subject";
pub(super) const SESSION: &str = "session";
/// Access watermarks: `id` the session, `cutoff_ms` the highest revoked number.
pub(super) const ACCESS: &str = "access";

/// quoted and never needs to be.
pub(crate) fn check_prefix(prefix: &str) -> Result<(), &'static str> {
    let mut bytes = prefix.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b == b'_');
    let rest_ok = bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if first_ok && rest_ok && prefix.len() <= MAX_PREFIX_LEN {
        Ok(())
    } else {
        Err("a table prefix is 1 to 39 of a-z, 0-9 and _, not starting with a digit")
    }
}

/// A time as SQL stores it. `BIGINT` is signed: a time past `i64::MAX` (hundreds of
/// billions of years away) is stored as `i64::MAX`, still later than any real time.
pub(super) fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A time as the crate has it; the backend never writes a negative one.
pub(super) fn uint(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// A refresh token's `jti` as the session record keeps it: the 64 bits of its SHA-256
/// digest that every backend keeps ([`refresh_token_id`]), as a `BIGINT`.
pub(super) fn token(jti: &str) -> i64 {
    i64::from_le_bytes(refresh_token_id(jti).to_le_bytes())
}

/// The SQL of every operation, for one table prefix and dialect.
#[derive(Debug)]
pub(super) struct Statements {
    pub(super) migration: Vec<Arc<str>>,
    pub(super) create: Arc<str>,
    pub(super) rotate: Arc<str>,
    pub(super) reuse: Arc<str>,
    pub(super) revoked: Arc<str>,
    pub(super) revoke_session: Arc<str>,
    pub(super) revoke_entry: Arc<str>,
    pub(super) load: Arc<str>,
    pub(super) purge: [Arc<str>; 2],
    /// The sessions table, and the columns of the session listing that a table made before
    /// them lacks (name, type): the migration adds those it does not find.
    pub(super) sessions_table: Arc<str>,
    pub(super) listing_columns: [(&'static str, &'static str); 2],
    /// Run after the listing columns exist.
    pub(super) listing_index: Arc<str>,
    pub(super) list_sessions: Arc<str>,
    /// $1 key, $2 expires_at (ms), $3 now (ms): one row changed if and only if the proof
    /// is seen for the first time (or its earlier record has expired).
    pub(super) first_use: Arc<str>,
    /// $1 now (ms).
    pub(super) purge_proofs: Arc<str>,
}

impl Statements {
    /// The statements for the tables named by `p`, with the dialect's two-value maximum
    /// (`greatest`) and byte-string type (`bytes`).
    pub(super) fn new(p: &str, greatest: &str, bytes: &str) -> Self {
        let sql = |text: String| Arc::<str>::from(text);
        Self {
            migration: vec![
                // One record per session. A revoked session keeps its record (or gets a
                // record of its own, a tombstone without tokens) with `revoked` set and a
                // forget-after time that covers the revocation: the row's lock then decides
                // between a rotation and a revocation.
                sql(format!(
                    "CREATE TABLE IF NOT EXISTS {p}sessions (\
                        sid TEXT PRIMARY KEY, \
                        sub TEXT, \
                        started_ms BIGINT, \
                        current_token BIGINT, \
                        previous_token BIGINT, \
                        superseded_ms BIGINT, \
                        revoked BOOLEAN NOT NULL DEFAULT FALSE, \
                        forget_after BIGINT NOT NULL)"
                )),
                sql(format!(
                    "CREATE INDEX IF NOT EXISTS {p}sessions_forget_after \
                     ON {p}sessions (forget_after)"
                )),
                sql(format!(
                    "CREATE INDEX IF NOT EXISTS {p}sessions_revoked \
                     ON {p}sessions (forget_after) WHERE revoked"
                )),
                // Revoked tokens (`kind` 'token', `id` the jti, `cutoff_ms` 0), "log out
                // everywhere" cut-offs (`kind` 'subject', `id` the subject) and access
                // watermarks (`kind` 'access', `id` the session, `cutoff_ms` the number).
                sql(format!(
                    "CREATE TABLE IF NOT EXISTS {p}entries (\
                        kind TEXT NOT NULL, \
                        id TEXT NOT NULL, \
                        cutoff_ms BIGINT NOT NULL, \
                        forget_after BIGINT NOT NULL, \
                        PRIMARY KEY (kind, id))"
                )),
                sql(format!(
                    "CREATE INDEX IF NOT EXISTS {p}entries_forget_after \
                     ON {p}entries (forget_after)"
                )),
                // DPoP proofs seen (RFC 9449 §11.1): the 32-byte replay key and the time
                // (ms) after which the proof can no longer be presented.
                sql(format!(
                    "CREATE TABLE IF NOT EXISTS {p}dpop_proofs (\
                        key {bytes} PRIMARY KEY, \
                        expires_at BIGINT NOT NULL)"
                )),
                sql(format!(
                    "CREATE INDEX IF NOT EXISTS {p}dpop_proofs_expires_at \
                     ON {p}dpop_proofs (expires_at)"
                )),
            ],
            create: sql(format!(
                "INSERT INTO {p}sessions (sid, sub, started_ms, current_token, forget_after, \
                    label) \
                 VALUES ($1, $2, $3, $4, $5, NULLIF($6, '')) ON CONFLICT (sid) DO NOTHING"
            )),
            // $1 sid, $2 presented, $3 next, $4 now_ms, $5 grace_ms, $6 forget_after. The
            // presented token is the current one, or the previous one retried inside the
            // window (then the successor replaces the current token and the window stays).
            // Under READ COMMITTED a concurrent update makes PostgreSQL wait for the row
            // and check the condition again on the row as committed: one winner.
            rotate: sql(format!(
                "UPDATE {p}sessions SET \
                    previous_token = CASE WHEN current_token = $2 \
                        THEN current_token ELSE previous_token END, \
                    superseded_ms = CASE WHEN current_token = $2 \
                        THEN $4 ELSE superseded_ms END, \
                    current_token = $3, \
                    last_refreshed_ms = $4, \
                    forget_after = {greatest}(forget_after, $6) \
                 WHERE sid = $1 AND NOT revoked AND (current_token = $2 OR (\
                    $5 > 0 AND superseded_ms IS NOT NULL AND previous_token = $2 \
                    AND $4 - superseded_ms <= $5))"
            )),
            reuse: sql(format!(
                "UPDATE {p}sessions SET revoked = TRUE WHERE sid = $1 AND NOT revoked \
                 RETURNING forget_after"
            )),
            revoked: sql(format!(
                "SELECT forget_after FROM {p}sessions WHERE sid = $1 AND revoked"
            )),
            revoke_session: sql(format!(
                "INSERT INTO {p}sessions (sid, revoked, forget_after) VALUES ($1, TRUE, $2) \
                 ON CONFLICT (sid) DO UPDATE SET revoked = TRUE, \
                    forget_after = {greatest}({p}sessions.forget_after, excluded.forget_after)"
            )),
            revoke_entry: sql(format!(
                "INSERT INTO {p}entries (kind, id, cutoff_ms, forget_after) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (kind, id) DO UPDATE SET \
                    cutoff_ms = {greatest}({p}entries.cutoff_ms, excluded.cutoff_ms), \
                    forget_after = {greatest}({p}entries.forget_after, excluded.forget_after)"
            )),
            load: sql(format!(
                "SELECT kind, id, cutoff_ms, forget_after FROM {p}entries \
                 WHERE forget_after >= $1 \
                 UNION ALL \
                 SELECT '{SESSION}', sid, 0, forget_after FROM {p}sessions \
                 WHERE revoked AND forget_after >= $1"
            )),
            purge: [
                sql(format!("DELETE FROM {p}sessions WHERE forget_after < $1")),
                sql(format!("DELETE FROM {p}entries WHERE forget_after < $1")),
            ],
            // An expired record of the same key is taken over: it no longer counts.
            first_use: sql(format!(
                "INSERT INTO {p}dpop_proofs (key, expires_at) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at \
                 WHERE {p}dpop_proofs.expires_at <= $3"
            )),
            purge_proofs: sql(format!("DELETE FROM {p}dpop_proofs WHERE expires_at <= $1")),
            sessions_table: sql(format!("{p}sessions")),
            listing_columns: [("last_refreshed_ms", "BIGINT"), ("label", "TEXT")],
            listing_index: sql(format!(
                "CREATE INDEX IF NOT EXISTS {p}sessions_sub ON {p}sessions (sub, started_ms)"
            )),
            // $1 sub, $2 now. Live, unrevoked records of the subject started after its live
            // cut-off, if any (tombstones have no subject).
            list_sessions: sql(format!(
                "SELECT sid, started_ms, last_refreshed_ms, label FROM {p}sessions \
                 WHERE sub = $1 AND NOT revoked AND forget_after >= $2 \
                    AND started_ms > COALESCE((SELECT cutoff_ms FROM {p}entries \
                        WHERE kind = '{SUBJECT}' AND id = $1 AND forget_after >= $2), -1)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_plain_lower_case_identifiers() {
        for good in ["a", "_", "app_1_", DEFAULT_PREFIX, &"x".repeat(39)] {
            assert!(check_prefix(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "1a",
            "A",
            "a-b",
            "a b",
            "a;drop",
            "é",
            "a\"",
            &"x".repeat(40),
        ] {
            assert!(check_prefix(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn times_past_the_sql_range_stay_later_than_any_real_time() {
        assert_eq!(int(u64::MAX), i64::MAX);
        assert_eq!(int(4_000_000_000), 4_000_000_000);
        assert_eq!(uint(-1), 0);
        assert_eq!(uint(i64::MAX), i64::MAX as u64);
    }

    #[test]
    fn tokens_are_kept_as_every_backend_keeps_them() {
        assert_eq!(
            token("a").to_le_bytes(),
            refresh_token_id("a").to_le_bytes()
        );
        assert_ne!(token("a"), token("b"));
    }
}
