import { randomBytes } from 'node:crypto';
import type { CacheGateway } from '../redis/cache-gateway.js';

/**
 * A sliding-window log in one sorted set, timed by Redis' own clock so every instance agrees:
 * drops entries older than the window, grants up to ARGV[3] slots while fewer than ARGV[2] are
 * in it, and answers {granted, ms until the oldest entry leaves}. ARGV[5] > 0 instead fills the
 * window for that long (a broker's Retry-After, honoured by every instance). Only commands the
 * documented ACL allows (ZRANGE BYSCORE + ZREMRANGEBYRANK, not ZREMRANGEBYSCORE).
 */
const SLIDING_WINDOW_LUA = `
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

type WindowClient = CacheGateway['client'] & {
  slidingWindow?(
    key: string,
    windowMs: number,
    limit: number,
    want: number,
    member: string,
    blockMs: number,
  ): Promise<[number, number]>;
};

/** One caller's answer: a slot, or how long until one may free up. */
export type SlotAnswer =
  { granted: true } | { granted: false; retryInMs: number };

interface Pending {
  key: string;
  windowMs: number;
  limit: number;
  waiters: ((a: SlotAnswer | null) => void)[];
}

/**
 * At most `limit` slots in any `windowMs`, across every instance (rate limits towards a third
 * party). The requests for one key within one event-loop turn go to Redis as one script call.
 * `null` means Redis is not usable: the caller limits on its own.
 * @internal Built on the gateway's Redis client, which the package's types do not expose.
 */
export class SlidingWindows {
  private pending = new Map<string, Pending>();
  private scheduled = false;
  private readonly prefix = randomBytes(6).toString('hex');
  private seq = 0;

  constructor(private readonly gateway: CacheGateway | null) {
    if (typeof gateway?.client?.defineCommand === 'function')
      gateway.client.defineCommand('slidingWindow', {
        numberOfKeys: 1,
        lua: SLIDING_WINDOW_LUA,
      });
  }

  take(
    fullKey: string,
    windowMs: number,
    limit: number,
  ): Promise<SlotAnswer | null> {
    if (!this.gateway?.usableFor(fullKey)) return Promise.resolve(null);
    const id = `${windowMs}:${limit}:${fullKey}`;
    return new Promise((resolve) => {
      let batch = this.pending.get(id);
      if (!batch) {
        batch = { key: fullKey, windowMs, limit, waiters: [] };
        this.pending.set(id, batch);
      }
      batch.waiters.push(resolve);
      if (this.scheduled) return;
      this.scheduled = true;
      // setImmediate: the requests of one signal's fan-out, started in one turn, join one call.
      setImmediate(() => this.flush());
    });
  }

  /** Fills the window for `blockMs` on every instance; false when Redis could not be told. */
  async block(
    fullKey: string,
    windowMs: number,
    limit: number,
    blockMs: number,
  ): Promise<boolean> {
    if (!this.gateway?.usableFor(fullKey)) return false;
    try {
      await this.call(
        fullKey,
        windowMs,
        limit,
        0,
        Math.max(1, Math.ceil(blockMs)),
      );
      return true;
    } catch {
      return false;
    }
  }

  private flush(): void {
    this.scheduled = false;
    const batches = this.pending;
    this.pending = new Map();
    for (const b of batches.values()) void this.send(b);
  }

  private async send({
    key,
    windowMs,
    limit,
    waiters,
  }: Pending): Promise<void> {
    let reply: [number, number];
    try {
      reply = await this.call(key, windowMs, limit, waiters.length, 0);
    } catch {
      for (const w of waiters) w(null);
      return;
    }
    const granted = Number(reply[0]);
    const retryInMs = Number(reply[1]);
    waiters.forEach((w, i) =>
      w(i < granted ? { granted: true } : { granted: false, retryInMs }),
    );
  }

  private call(
    key: string,
    windowMs: number,
    limit: number,
    want: number,
    blockMs: number,
  ): Promise<[number, number]> {
    const member = `${this.prefix}:${(this.seq++).toString(36)}`;
    return this.gateway!.runFor(key, (c: WindowClient) =>
      c.slidingWindow
        ? c.slidingWindow(key, windowMs, limit, want, member, blockMs)
        : (c.eval(
            SLIDING_WINDOW_LUA,
            1,
            key,
            windowMs,
            limit,
            want,
            member,
            blockMs,
          ) as Promise<[number, number]>),
    );
  }
}
