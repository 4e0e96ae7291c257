import type { RedisGateway } from './redis-gateway.js';

/** INCR and start the window on the first hit; returns the count and the window's remaining ms. */
const INCR_WINDOW_LUA = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}`;

export interface CounterHit {
  /** Hits in the current window, this one included, across every instance. */
  count: number;
  /** Milliseconds until the window (and the count) ends. */
  remainingMs: number;
}

/**
 * A fixed-window counter shared by every instance through Redis, for rate limits. Counters are not
 * data: they are never journaled, replayed or kept in memory, so `null` (Redis not usable right
 * now) tells the caller to count on its own until Redis is back.
 */
export async function incrementWindow(gateway: RedisGateway | null, fullKey: string, windowMs: number): Promise<CounterHit | null> {
  if (!gateway?.available) return null;
  try {
    const [count, remainingMs] = (await gateway.run((c) => c.eval(INCR_WINDOW_LUA, 1, fullKey, Math.max(1, Math.ceil(windowMs))))) as [number, number];
    return { count: Number(count), remainingMs: Number(remainingMs) };
  } catch {
    return null;
  }
}
