import type { OrderResult } from './orchestrator.types.js';

/** Enough for a trading day of signals x users on one replica; the oldest go first beyond it. */
export const LOCAL_CLAIMS_MAX = 50_000;

interface Held {
  result: OrderResult;
  until: number;
}

/**
 * The results this process stored for signal claims, kept apart from the cache: a retry that
 * reaches this replica gets the result back even when Redis lost the claim (restarted empty,
 * flushed, failed over) or the cache's memory store evicted it. Bounded by count and by the
 * idempotency TTL.
 */
export class LocalClaims {
  private readonly held = new Map<string, Held>();

  constructor(
    private readonly ttlMs: number,
    private readonly max = LOCAL_CLAIMS_MAX,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: string): OrderResult | undefined {
    const h = this.held.get(key);
    if (!h) return undefined;
    if (h.until <= this.now()) {
      this.held.delete(key);
      return undefined;
    }
    return h.result;
  }

  remember(key: string, result: OrderResult): void {
    this.held.delete(key);
    this.held.set(key, { result, until: this.now() + this.ttlMs });
    // A Map iterates in insertion order: the first entries are the oldest.
    for (const k of this.held.keys()) {
      if (this.held.size <= this.max) break;
      this.held.delete(k);
    }
  }
}
