import { OPEN_WINDOW_STEP } from './reseed-window.js';

/**
 * The fleet's roll call, in a hash beside the marker (`<keyPrefix>\x1ffleet`): one field per live
 * instance, `<last seen, fleet ms>|<id of its last finished recovery pass>|<beat number>`, the
 * beat counter `~n` (which beat came after which, whatever the replicas' clocks), and `~w`,
 * the re-seed window now open: `<Redis run id>/<epoch>|<since>`. The window closes as soon as
 * every member seen since `since` (the fleet's last sign of life before Redis forgot, less the
 * member TTL) has finished a pass under that id: the whole fleet has written back what it holds
 * (docs/cache.md, "Redis that forgets").
 */

/**
 * Opens or extends the re-seed window (OPEN_WINDOW_LUA's rules) and names it; of two openers'
 * `since`, the earlier stands (it waits for more members).
 * KEYS: marker, fleet hash. ARGV: new epoch id, window ms, now ms, Redis run id, since (fleet ms).
 * Returns the marker value now in force.
 */
export const OPEN_FLEET_WINDOW_LUA = `${OPEN_WINDOW_STEP}
local wid = ARGV[4] .. '/' .. epoch
local since = tonumber(ARGV[5])
local w = redis.call('HGET', KEYS[2], '~w')
if w then
  local wbar = string.find(w, '|', 1, true)
  if wbar and string.sub(w, 1, wbar - 1) == wid then
    local prev = tonumber(string.sub(w, wbar + 1)) or since
    if prev < since then since = prev end
  end
end
redis.call('HSET', KEYS[2], '~w', wid .. '|' .. since)
return v
`;

/**
 * A member's heartbeat: records it, drops members gone for longer than ARGV[4], and closes an
 * open window when every member seen since the window's `since` reports the window's id.
 * KEYS: fleet hash, marker. ARGV: member id, now ms, id of its last finished pass ('' for none),
 * prune after ms.
 * Returns { 0 closed | 1 open | 2 marker missing, window id ('' for none), member, last seen,
 * beat number, left (0/1), ... }. A member that left (a clean shutdown: its pass id is `left`) is
 * never waited for.
 */
export const FLEET_BEAT_LUA = `
local now = tonumber(ARGV[2])
local n = redis.call('HINCRBY', KEYS[1], '~n', 1)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. ARGV[3] .. '|' .. n)
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]))
local all = redis.call('HGETALL', KEYS[1])
local out = { 0, '' }
local wid, since = nil, 0
for i = 1, #all, 2 do
  if all[i] == '~w' then
    local wbar = string.find(all[i + 1], '|', 1, true)
    wid = string.sub(all[i + 1], 1, wbar - 1)
    since = tonumber(string.sub(all[i + 1], wbar + 1)) or 0
  end
end
local m = redis.call('GET', KEYS[2])
local open = false
local epoch = nil
if m then
  local bar = string.find(m, '|', 1, true)
  if bar then
    epoch = string.sub(m, 1, bar - 1)
    open = now < (tonumber(string.sub(m, bar + 1)) or 0)
  end
end
local waiting = false
for i = 1, #all, 2 do
  local f, v = all[i], all[i + 1]
  if string.sub(f, 1, 1) ~= '~' then
    local bar = string.find(v, '|', 1, true)
    local last = string.find(v, '|[^|]*$')
    local seen = tonumber(string.sub(v, 1, bar - 1)) or 0
    local done = string.sub(v, bar + 1, last - 1)
    if seen < now - tonumber(ARGV[4]) then
      redis.call('HDEL', KEYS[1], f)
    else
      out[#out + 1] = f
      out[#out + 1] = tostring(seen)
      out[#out + 1] = string.sub(v, last + 1)
      out[#out + 1] = done == 'left' and 1 or 0
      if seen >= since and done ~= wid and done ~= 'left' then waiting = true end
    end
  end
end
if open and wid and not waiting then
  redis.call('SET', KEYS[2], epoch)
  open = false
end
if open then out[1] = 1 end
if not m then out[1] = 2 end
if wid then out[2] = wid end
return out
`;

/**
 * Writes back members this instance knew, after Redis forgot them (or went back to an older
 * copy): a member gets the later of the two last-seen times and keeps the pass Redis records; one
 * this instance knows left stays left (an older copy may not know it).
 * KEYS: fleet hash. ARGV: member, last seen, left (0/1), ...
 */
export const FLEET_MERGE_LUA = `
for i = 1, #ARGV, 3 do
  local cur = redis.call('HGET', KEYS[1], ARGV[i])
  local seen, rest = 0, '|0'
  if cur then
    local bar = string.find(cur, '|', 1, true)
    seen = tonumber(string.sub(cur, 1, bar - 1)) or 0
    rest = string.sub(cur, bar)
  end
  if ARGV[i + 2] == '1' then rest = '|left|0' end
  if tonumber(ARGV[i + 1]) > seen or (ARGV[i + 2] == '1' and tonumber(ARGV[i + 1]) >= seen) then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1] .. rest)
  end
end
return 1
`;
