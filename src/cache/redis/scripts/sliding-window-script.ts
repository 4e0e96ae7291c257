/**
 * A sliding-window log in one sorted set, timed by Redis' own clock so every instance agrees:
 * drops entries older than the window, grants up to ARGV[3] slots while fewer than ARGV[2] are
 * in it, and answers {granted, ms until the oldest entry leaves}. ARGV[5] > 0 instead fills the
 * window for that long (a broker's Retry-After, honoured by every instance). Only commands the
 * documented ACL allows (ZRANGE BYSCORE + ZREMRANGEBYRANK, not ZREMRANGEBYSCORE).
 * KEYS[1]: the log. ARGV: window ms, limit, slots wanted, member prefix, block ms.
 */
export const SLIDING_WINDOW_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local block = tonumber(ARGV[5])
local old = redis.call('ZRANGE', KEYS[1], '-inf', now - window, 'BYSCORE')
if #old > 0 then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, #old - 1) end
local granted = 0
if block > 0 then
  for i = 1, limit do redis.call('ZADD', KEYS[1], now + block - window, ARGV[4] .. ':b' .. i) end
else
  granted = math.max(0, math.min(want, limit - redis.call('ZCARD', KEYS[1])))
  for i = 1, granted do redis.call('ZADD', KEYS[1], now, ARGV[4] .. ':' .. i) end
end
local ttl = window + math.max(block, 0)
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
local wait = 0
if granted < want then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  wait = math.max(1, tonumber(first[2]) + window - now)
end
return {granted, wait}`;
