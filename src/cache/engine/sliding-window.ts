import { randomBytes } from 'node:crypto';
import type { CacheGateway } from '../redis/cache-gateway.js';

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
 * party), timed by Redis' own clock so every instance agrees. The requests for one key within one
 * event-loop turn go to Redis as one script call (redis/sliding-window-commands.ts).
 * `null` means Redis is not usable: the caller limits on its own.
 * @internal Built on the gateway, which the package's types do not expose.
 */
export class SlidingWindows {
  private pending = new Map<string, Pending>();
  private scheduled = false;
  private readonly prefix = randomBytes(6).toString('hex');
  private seq = 0;

  constructor(private readonly gateway: CacheGateway | null) {}

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
    let granted: number;
    let retryInMs: number;
    try {
      ({ granted, waitMs: retryInMs } = await this.call(key, windowMs, limit, waiters.length, 0));
    } catch {
      for (const w of waiters) w(null);
      return;
    }
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
  ): Promise<{ granted: number; waitMs: number }> {
    const member = `${this.prefix}:${(this.seq++).toString(36)}`;
    return this.gateway!.windows.take(key, windowMs, limit, want, member, blockMs);
  }
}
