//! The Lua scripts behind every multi-step rule. Each runs on one slot: every key it touches shares
//! the hash tag of one room (`{r:<id>}`), one user (`{u:<id>}`) or one file (`{f:<id>}`), so a script
//! is atomic on a Cluster as on a single server. Scripts answer with plain arrays; a leading `-1`
//! means "the room/message is not there" rather than a Redis error, so a missing entity is never
//! confused with a failing backend.

/// Lua `iso(ms)`: milliseconds since the epoch → `YYYY-MM-DDTHH:MM:SS.mmmZ`, exactly as `UnixMillis::to_wire`
/// writes it (civil-from-days, H. Hinnant). Lua 5.1 numbers are doubles: exact for these integers.
pub const ISO: &str = r#"
local function iso(ms)
  local secs = math.floor(ms / 1000)
  local milli = ms - secs * 1000
  local days = math.floor(secs / 86400)
  local rem = secs - days * 86400
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  if m <= 2 then y = y + 1 end
  return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', y, m, d,
    math.floor(rem / 3600), math.floor((rem % 3600) / 60), rem % 60, milli)
end
"#;

/// Appends an event to a room's log and returns `{seq, envelope}`. The envelope is what subscribers
/// receive: `seq \n except \n frame`. The log is capped; the sequence lives in the room hash and never
/// goes back.
///
/// Used by itself for events that store nothing, and at the end of [`APPEND_MESSAGE`].
const LOG_EVENT: &str = r#"
local function log_event(room, log, except, frame, cap)
  local seq = redis.call('HINCRBY', room, 'seq', 1)
  local env = seq .. '\n' .. except .. '\n' .. frame
  redis.call('ZADD', log, seq, env)
  redis.call('ZREMRANGEBYRANK', log, 0, -(cap + 1))
  return {seq, env}
end
"#;

/// `KEYS`: room hash, room log. `ARGV`: except, frame, log cap. → `{seq, envelope}` or `{-1}`.
pub fn event() -> String {
    format!(
        "{LOG_EVENT}
if redis.call('EXISTS', KEYS[1]) == 0 then return {{-1}} end
return log_event(KEYS[1], KEYS[2], ARGV[1], ARGV[2], tonumber(ARGV[3]))"
    )
}

/// Stores a message with the next timestamp of its room (never equal to or before the previous one)
/// and, when a frame template is given, logs its `message` event in the same step — so the room's
/// event order is its history order.
///
/// With a fifth key (the sender's idempotency key) the script first looks it up: when it is set, the
/// message was stored already (an earlier try whose answer was lost), so nothing is written and the
/// first message's id is returned. Otherwise the key is set with the TTL in the same step.
///
/// `KEYS`: room hash, room messages (zset by timestamp), message hash, room log, optionally the
/// idempotency key. `ARGV`: id, now, kind, content, sender, file, ai_type, mentions (JSON), key TTL
/// (ms), then optionally except, frame prefix, frame suffix, log cap (the frame is prefix ..
/// timestamp .. suffix).
/// → `{timestamp, seq, envelope}` (`seq` 0 without a frame), `{-1}` or `{-2, first id}`.
pub fn append_message() -> String {
    format!(
        "{ISO}{LOG_EVENT}
if redis.call('EXISTS', KEYS[1]) == 0 then return {{-1}} end
if KEYS[5] then
  local first = redis.call('GET', KEYS[5])
  if first then return {{-2, first}} end
  redis.call('SET', KEYS[5], ARGV[1], 'PX', ARGV[9])
end
local last = tonumber(redis.call('HGET', KEYS[1], 'last_ts') or '0')
local ts = tonumber(ARGV[2])
if ts <= last then ts = last + 1 end
redis.call('HSET', KEYS[1], 'last_ts', ts)
redis.call('HSET', KEYS[3], 'kind', ARGV[3], 'content', ARGV[4], 'sender', ARGV[5],
  'file', ARGV[6], 'ai', ARGV[7], 'mentions', ARGV[8], 'ts', ts)
redis.call('ZADD', KEYS[2], ts, ARGV[1])
if ARGV[11] then
  local ev = log_event(KEYS[1], KEYS[4], ARGV[10], ARGV[11] .. iso(ts) .. ARGV[12], tonumber(ARGV[13]))
  return {{ts, ev[1], ev[2]}}
end
return {{ts, 0, ''}}"
    )
}

/// Publishes a logged event and advances the room's `committed` mark (the highest published seq).
/// Runs after `WAIT`, so everything up to `committed` is on a replica: catching up to it never reads
/// an event a failover could take back.
///
/// Why the mark only grows: publishers of one room finish their `WAIT`s in any order, so a lower seq
/// may publish after a higher one; by then the higher one's `WAIT` has covered it (replication is in
/// order). Why one script: a subscriber that reads `committed` and then the log must not see a mark
/// ahead of what was published, nor a publish the mark does not cover yet.
///
/// `KEYS`: room hash. `ARGV`: seq, publish command, channel, envelope.
pub const PUBLISH: &str = r#"
local c = tonumber(redis.call('HGET', KEYS[1], 'committed') or '0')
if tonumber(ARGV[1]) > c then redis.call('HSET', KEYS[1], 'committed', ARGV[1]) end
return redis.call(ARGV[2], ARGV[3], ARGV[4])
"#;

/// Logged events with `from <= seq <= to` (`to` = 0: up to `committed`), oldest first.
///
/// `KEYS`: room hash, room log. `ARGV`: from, to. → `{committed, env, env, …}`.
pub const FETCH_EVENTS: &str = r#"
local committed = tonumber(redis.call('HGET', KEYS[1], 'committed') or '0')
local to = tonumber(ARGV[2])
if to == 0 then to = committed end
local out = {committed}
if to < tonumber(ARGV[1]) then return out end
local envs = redis.call('ZRANGE', KEYS[2], ARGV[1], to, 'BYSCORE')
for _, e in ipairs(envs) do out[#out + 1] = e end
return out
"#;

/// The room's last seq (where a new subscriber starts). Read after the subscription is confirmed, so
/// an event with a later seq reaches the subscriber live and an earlier one is already history.
///
/// `KEYS`: room hash. → seq.
pub const SEQ: &str = r#"
return tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
"#;

/// Creates a room whose only participant is its creator. The counters start here (`seq` and
/// `committed` for the event log, `joins` for join order, `last_ts` for strictly increasing message
/// timestamps), so every later script can rely on them being present.
///
/// `KEYS`: room hash, members. `ARGV`: name, creator, password hash ('' = none), created_at.
pub const CREATE_ROOM: &str = r#"
redis.call('HSET', KEYS[1], 'name', ARGV[1], 'creator', ARGV[2], 'at', ARGV[4],
  'seq', 0, 'committed', 0, 'joins', 1, 'last_ts', 0)
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'pw', ARGV[3]) end
redis.call('ZADD', KEYS[2], 1, ARGV[2])
return 1
"#;

/// Adds (`ARGV[2]` = '1') or removes a participant; returns the room.
///
/// Why one script: the room is checked, changed and read back in one step, so a join never revives
/// a deleted room and the answer is the membership this change produced, not a later one. The score
/// is a per-room join counter rather than a clock, so join order is exact even within a millisecond,
/// and a second join keeps the first score.
///
/// `KEYS`: room hash, members. `ARGV`: user, add. → `{-1}` or `{hash…, '', member…}`.
pub const MEMBERSHIP: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
if ARGV[2] == '1' then
  if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then
    redis.call('ZADD', KEYS[2], redis.call('HINCRBY', KEYS[1], 'joins', 1), ARGV[1])
  end
else
  redis.call('ZREM', KEYS[2], ARGV[1])
end
local out = redis.call('HGETALL', KEYS[1])
out[#out + 1] = ''
for _, m in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do out[#out + 1] = m end
return out
"#;

/// A room with its participants in join order.
///
/// `KEYS`: room hash, members. → `{}` or `{hash…, '', member…}`.
pub const ROOM: &str = r#"
local out = redis.call('HGETALL', KEYS[1])
if #out == 0 then return out end
out[#out + 1] = ''
for _, m in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do out[#out + 1] = m end
return out
"#;

/// Whether a user is a participant: `-1` no room, `0` no, `1` yes.
///
/// `KEYS`: room hash, members. `ARGV`: user.
pub const IS_PARTICIPANT: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 1 end
return 0
"#;

/// Reading one message: `{hash…}, {readers…}, {reactions…}` (flat field/value lists).
const READ_MESSAGE: &str = r#"
local function read_message(key)
  local h = redis.call('HGETALL', key)
  if #h == 0 then return nil end
  return {h, redis.call('HGETALL', key .. ':readers'), redis.call('HGETALL', key .. ':reactions')}
end
"#;

/// One page of history: the newest `limit` messages strictly before `before`, newest first, plus
/// whether more exist.
///
/// `KEYS`: room messages. `ARGV`: before ('+inf' for none), limit, message key prefix.
/// → `{has_more, {id, hash, readers, reactions}, …}`.
pub fn history() -> String {
    format!(
        "{READ_MESSAGE}
local before = ARGV[1]
if before ~= '+inf' then before = '(' .. before end
local limit = tonumber(ARGV[2])
local ids = redis.call('ZRANGE', KEYS[1], before, '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, limit + 1)
local out = {{#ids > limit and 1 or 0}}
for i = 1, math.min(#ids, limit) do
  local m = read_message(ARGV[3] .. ids[i])
  if m then out[#out + 1] = {{ids[i], m[1], m[2], m[3]}} end
end
return out"
    )
}

/// One message. `KEYS`: message hash. → `{}` or `{hash, readers, reactions}`.
pub fn message() -> String {
    format!("{READ_MESSAGE}\nreturn read_message(KEYS[1]) or {{}}")
}

/// Marks messages of one room as read by one user, once each, in reading order.
///
/// Why one script: check-and-set per message (`HEXISTS` then `HSET`) must not interleave with the same
/// user's other tab marking the same ids, or the reader would be counted twice; the reader's position
/// (`HLEN` before the write) keeps readers in the order they read. Message keys share the room's
/// hash tag, so the whole batch is on one slot.
///
/// `KEYS`: room hash. `ARGV`: message key prefix, user, at, id… → the ids of the room's messages
/// among them, each once (whether newly marked or read before).
pub const MARK_READ: &str = r#"
local found = {}
local seen = {}
for i = 4, #ARGV do
  local key = ARGV[1] .. ARGV[i]
  if not seen[ARGV[i]] and redis.call('EXISTS', key) == 1 then
    seen[ARGV[i]] = true
    found[#found + 1] = ARGV[i]
    local readers = key .. ':readers'
    if redis.call('HEXISTS', readers, ARGV[2]) == 0 then
      redis.call('HSET', readers, ARGV[2], redis.call('HLEN', readers) .. ':' .. ARGV[3])
    end
  end
end
return found
"#;

/// Adds (`ARGV[3]` = 'add') or removes one user's reaction; returns all reactions afterwards.
/// Users per emoji are kept space-separated in reaction order (user ids have no spaces). A new add
/// is refused when the message has `ARGV[4]` distinct reactions already (and this is another) or
/// the user has `ARGV[5]` of their own on it: checked in the same step as the write, so concurrent
/// adds cannot pass the caps.
///
/// `KEYS`: message hash, reactions hash. `ARGV`: emoji, user, op, per-message cap, per-user cap.
/// → `{-1}` (no message), `{-2}` (per-message cap), `{-3}` (per-user cap) or `{field, value, …}`.
pub const REACT: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
local cur = redis.call('HGET', KEYS[2], ARGV[1]) or ''
local users = {}
local present = false
for u in string.gmatch(cur, '%S+') do
  if u == ARGV[2] then present = true end
  if not (u == ARGV[2] and ARGV[3] ~= 'add') then users[#users + 1] = u end
end
if ARGV[3] == 'add' and not present then
  if cur == '' and redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[4]) then return {-2} end
  local mine = 0
  local all = redis.call('HGETALL', KEYS[2])
  for i = 2, #all, 2 do
    for u in string.gmatch(all[i], '%S+') do
      if u == ARGV[2] then mine = mine + 1 end
    end
  end
  if mine >= tonumber(ARGV[5]) then return {-3} end
  users[#users + 1] = ARGV[2]
end
if #users == 0 then redis.call('HDEL', KEYS[2], ARGV[1])
else redis.call('HSET', KEYS[2], ARGV[1], table.concat(users, ' ')) end
return redis.call('HGETALL', KEYS[2])
"#;

/// Ends a user's session only if it is the named one (a stale logout must not end a newer login).
///
/// `KEYS`: session key. `ARGV`: session id. → 1 when ended.
pub const DELETE_SESSION: &str = r#"
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, #ARGV[1] + 1) == ARGV[1] .. '|' then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"#;

/// Adds a room to a file's posted rooms once. `KEYS`: file hash. `ARGV`: room. → 0 when no file,
/// the owner (a string) when this was the file's first room, else 1.
pub const MARK_FILE_POSTED: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local cur = redis.call('HGET', KEYS[1], 'rooms') or ''
for r in string.gmatch(cur, '%S+') do if r == ARGV[1] then return 1 end end
local first = cur == ''
if first then cur = ARGV[1] else cur = cur .. ' ' .. ARGV[1] end
redis.call('HSET', KEYS[1], 'rooms', cur)
if first then return redis.call('HGET', KEYS[1], 'owner') or '' end
return 1
"#;

/// Deletes a file's hash only if it was never posted. `KEYS`: file hash. → `{}` (missing or
/// posted) or the deleted hash.
pub const DELETE_UNPOSTED_FILE: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
if (redis.call('HGET', KEYS[1], 'rooms') or '') ~= '' then return {} end
local h = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
return h
"#;

/// Applies a partial user update and returns the user. `KEYS`: user hash. `ARGV`: name or '\0',
/// image or '\0' ('\0' = leave as is). → `{}` or the hash.
pub const UPDATE_USER: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
if ARGV[1] ~= '\0' then redis.call('HSET', KEYS[1], 'name', ARGV[1]) end
if ARGV[2] ~= '\0' then redis.call('HSET', KEYS[1], 'img', ARGV[2]) end
return redis.call('HGETALL', KEYS[1])
"#;
