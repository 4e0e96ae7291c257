import type { CounterHit } from '../cache/index.js';

/** Past this many keys, windows that have ended are swept on the next new key. */
const SWEEP_FROM = 10_000;

/**
 * The same fixed windows as the Redis counter, for one instance while Redis is not usable (and in
 * memory mode): a count and an end per key, O(1) per hit. The throttler's own in-memory storage
 * keeps one timestamp per hit and filters them all on every hit, which grows with the budget.
 */
export class LocalWindowCounters {
  private readonly windows = new Map<string, { count: number; endsAt: number }>();

  increment(key: string, windowMs: number, now = Date.now()): CounterHit {
    let w = this.windows.get(key);
    if (w === undefined || w.endsAt <= now) {
      if (w === undefined && this.windows.size >= SWEEP_FROM) this.sweep(now);
      w = { count: 0, endsAt: now + windowMs };
      this.windows.set(key, w);
    }
    w.count++;
    return { count: w.count, remainingMs: w.endsAt - now };
  }

  private sweep(now: number): void {
    for (const [k, w] of this.windows) if (w.endsAt <= now) this.windows.delete(k);
  }
}
