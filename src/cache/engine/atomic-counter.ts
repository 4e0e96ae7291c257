import type { CacheGateway } from '../redis/cache-gateway.js';

/**
 * Counts the batch's hits and starts the window when this call created the key; returns the count
 * and the window's remaining ms. One INCR per hit, not INCRBY: the ACL documented in
 * docs/topologies.md allows INCR only, and deployed ACLs must keep working.
 */
const INCR_WINDOW_LUA = `
local by = tonumber(ARGV[2])
local n = 0
for _ = 1, by do n = redis.call('INCR', KEYS[1]) end
if n == by then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}`;

type CounterClient = CacheGateway['client'] & {
  incrWindow?(key: string, windowMs: number, by: number): Promise<[number, number]>;
};

export interface CounterHit {
  /** Hits in the current window, this one included, across every instance. */
  count: number;
  /** Milliseconds until the window (and the count) ends. */
  remainingMs: number;
}

interface PendingHits {
  key: string;
  windowMs: number;
  waiters: ((hit: CounterHit | null) => void)[];
}

/**
 * Fixed-window counters shared by every instance through Redis, for rate limits. The hits on one
 * key within one event-loop turn go to Redis as one script call (sent by its SHA), and each
 * caller gets the count it would have had from its own INCR: under load one command per key and
 * turn instead of one per request. Counters are not data: they are never journaled, replayed or
 * kept in memory, so `null` (Redis not usable right now) tells the caller to count on its own.
 * @internal Built on the gateway's Redis client, which the package's types do not expose.
 */
export class WindowCounters {
  private pending = new Map<string, PendingHits>();
  private scheduled = false;

  constructor(private readonly gateway: CacheGateway | null) {
    // An injected test gateway's client may not define commands: it gets the script by EVAL.
    if (typeof gateway?.client?.defineCommand === 'function') gateway.client.defineCommand('incrWindow', { numberOfKeys: 1, lua: INCR_WINDOW_LUA });
  }

  increment(fullKey: string, windowMs: number): Promise<CounterHit | null> {
    if (!this.gateway?.available) return Promise.resolve(null);
    const ms = Math.max(1, Math.ceil(windowMs));
    const id = `${ms}:${fullKey}`;
    return new Promise((resolve) => {
      let batch = this.pending.get(id);
      if (!batch) {
        batch = { key: fullKey, windowMs: ms, waiters: [] };
        this.pending.set(id, batch);
      }
      batch.waiters.push(resolve);
      if (this.scheduled) return;
      this.scheduled = true;
      // setImmediate, not a microtask: the requests read in the same poll phase join this batch.
      setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batches = this.pending;
    this.pending = new Map();
    for (const b of batches.values()) void this.send(b);
  }

  private async send({ key, windowMs, waiters }: PendingHits): Promise<void> {
    const n = waiters.length;
    let reply: [number, number];
    try {
      if (!this.gateway?.available) throw new Error('Redis not usable');
      reply = await this.gateway.runFor(key, (c: CounterClient) =>
        c.incrWindow ? c.incrWindow(key, windowMs, n) : (c.eval(INCR_WINDOW_LUA, 1, key, windowMs, n) as Promise<[number, number]>),
      );
    } catch {
      for (const w of waiters) w(null);
      return;
    }
    // As if the batch's INCRs had run one after the other, in the order they were asked for.
    const first = Number(reply[0]) - n + 1;
    const remainingMs = Number(reply[1]);
    waiters.forEach((w, i) => w({ count: first + i, remainingMs }));
  }
}
