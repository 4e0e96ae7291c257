import type { CacheGateway } from '../redis/cache-gateway.js';

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
 * key within one event-loop turn go to Redis as one script call (redis/counter-commands.ts, sent by
 * its SHA), and each caller gets the count it would have had from its own INCR: under load one
 * command per key and turn instead of one per request. Counters are not data: they are never
 * journaled, replayed or kept in memory, so `null` (Redis not usable right now) tells the caller to
 * count on its own.
 * @internal Built on the gateway, which the package's types do not expose.
 */
export class WindowCounters {
  private pending = new Map<string, PendingHits>();
  private scheduled = false;

  constructor(private readonly gateway: CacheGateway | null) {}

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
    let reply: { count: number; remainingMs: number };
    try {
      if (!this.gateway?.available) throw new Error('Redis not usable');
      reply = await this.gateway.counters.incrWindow(key, windowMs, n);
    } catch {
      for (const w of waiters) w(null);
      return;
    }
    // As if the batch's INCRs had run one after the other, in the order they were asked for.
    const first = reply.count - n + 1;
    const remainingMs = reply.remainingMs;
    waiters.forEach((w, i) => w({ count: first + i, remainingMs }));
  }
}
