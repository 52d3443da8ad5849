//! The Lua scripts of the Redis backend: every write is one script that names all its keys
//! (so that it runs in one slot of a Redis Cluster) and publishes its change in the same
//! step.

use ::redis::Script;

/// Lua helpers shared by the scripts. Times are decimal strings of `u64` values, compared
/// without floating point (Lua numbers are doubles).
const PRELUDE: &str = r"
local function gt(a, b)
  if #a ~= #b then return #a > #b end
  return a > b
end
local function later(a, b)
  if a and not gt(b, a) then return a end
  return b
end
local function expire_after(key, fa)
  if #fa <= 12 then
    redis.call('EXPIREAT', key, tonumber(fa) + 1)
  else
    redis.call('PERSIST', key)
  end
end
";

/// `create_session`. KEYS: the record, the session's revocation (a revoked session without
/// a record is left as it is too). ARGV: the first refresh token, forget-after, the
/// subject, the start (ms), the label (empty: none).
const CREATE: &str = r"
if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then return 0 end
redis.call('HSET', KEYS[1], 'cur', ARGV[1], 'fa', ARGV[2])
redis.call('HSET', KEYS[1], 'sub', ARGV[3], 'st', ARGV[4], 'lb', ARGV[5])
expire_after(KEYS[1], ARGV[2])
return 1
";

/// `rotate`. KEYS: the record, the session's revocation. ARGV: the presented token, the next
/// token, now (ms), the oldest supersession time a retry may follow (ms; empty without a
/// grace window), the rotation's forget-after, the channel, the feed message up to its
/// `expires_at` value.
const ROTATE: &str = r"
local held = redis.call('HGET', KEYS[2], 'fa')
if held then return {'revoked', held} end
local r = redis.call('HMGET', KEYS[1], 'cur', 'prev', 'sup', 'fa')
local cur, prev, sup, fa = r[1], r[2], r[3], r[4]
if not cur then return {'unknown'} end
local is_current = ARGV[1] == cur
local is_retry = not is_current and ARGV[4] ~= '' and sup and ARGV[1] == prev
  and not gt(ARGV[4], sup)
if not is_current and not is_retry then
  redis.call('HSET', KEYS[2], 'fa', fa)
  expire_after(KEYS[2], fa)
  redis.call('PUBLISH', ARGV[6], ARGV[7] .. fa .. '}')
  return {'reused', fa}
end
if is_current then
  redis.call('HSET', KEYS[1], 'prev', cur, 'sup', ARGV[3])
end
fa = later(fa, ARGV[5])
redis.call('HSET', KEYS[1], 'cur', ARGV[2], 'fa', fa)
redis.call('HSET', KEYS[1], 'lr', ARGV[3])
expire_after(KEYS[1], fa)
return {'rotated'}
";

/// `revoke`, for every kind of entry. KEYS: the entry; for a session, its record too, whose
/// forget-after time the entry keeps at least. ARGV: the channel, the feed message, then
/// field/value pairs, each field keeping the later value.
const REVOKE: &str = r"
local floor = false
if KEYS[2] then floor = redis.call('HGET', KEYS[2], 'fa') end
for i = 3, #ARGV, 2 do
  local field, value = ARGV[i], ARGV[i + 1]
  if field == 'fa' then value = later(floor, value) end
  value = later(redis.call('HGET', KEYS[1], field), value)
  redis.call('HSET', KEYS[1], field, value)
  if field == 'fa' then expire_after(KEYS[1], value) end
end
redis.call('PUBLISH', ARGV[1], ARGV[2])
return 1
";

/// `purge`, for one key. KEYS: the key. ARGV: now (s). Deletes the key if it is not live.
const PURGE: &str = r"
local fa = redis.call('HGET', KEYS[1], 'fa')
if fa and gt(ARGV[1], fa) then return redis.call('DEL', KEYS[1]) end
return 0
";

/// `create_session`, second step: the session in its subject's index, in the subject's slot.
/// KEYS: the index. ARGV: the start (ms, the score), the session id, the session's last
/// forget-after time: the index is kept at least until then.
const INDEX: &str = r"
local fresh = redis.call('EXISTS', KEYS[1]) == 0
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
if fresh then
  expire_after(KEYS[1], ARGV[3])
  return 1
end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then return 1 end
local ends = tostring(tonumber(redis.call('TIME')[1]) + ttl)
if gt(ARGV[3], ends) then expire_after(KEYS[1], ARGV[3]) end
return 1
";

/// The scripts, each with the prelude, loaded by `EVALSHA` (and sent again when Redis does
/// not know them).
pub(super) struct Scripts {
    pub(super) create: Script,
    pub(super) rotate: Script,
    pub(super) revoke: Script,
    pub(super) purge: Script,
    pub(super) index: Script,
}

impl Scripts {
    pub(super) fn new() -> Self {
        let script = |body: &str| Script::new(&[PRELUDE, body].concat());
        Self {
            create: script(CREATE),
            rotate: script(ROTATE),
            revoke: script(REVOKE),
            purge: script(PURGE),
            index: script(INDEX),
        }
    }
}

/// The feed message of a session revoked for reuse, up to the value of `expires_at`, which
/// the rotation script appends with the closing brace.
pub(super) fn reuse_message_head(sid: &str) -> Result<String, serde_json::Error> {
    Ok(format!(
        r#"{{"kind":"session","sid":{},"expires_at":"#,
        serde_json::to_string(sid)?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RevocationEntry;

    #[test]
    fn the_reuse_message_is_a_session_entry() {
        let sid = "s\"1\\";
        let message = format!("{}{}}}", reuse_message_head(sid).unwrap(), u64::MAX);
        let entry: RevocationEntry = serde_json::from_str(&message).unwrap();
        assert_eq!(
            entry,
            RevocationEntry::Session {
                sid: sid.into(),
                expires_at: u64::MAX
            }
        );
    }
}
