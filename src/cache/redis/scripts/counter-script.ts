/**
 * Counts the batch's hits and starts the window when this call created the key; returns the count
 * and the window's remaining ms. One INCR per hit, not INCRBY: the ACL documented in
 * docs/topologies.md allows INCR only, and deployed ACLs must keep working.
 * KEYS[1]: the counter. ARGV: window ms, hits.
 */
export const INCR_WINDOW_LUA = `
local by = tonumber(ARGV[2])
local n = 0
for _ = 1, by do n = redis.call('INCR', KEYS[1]) end
if n == by then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}`;
