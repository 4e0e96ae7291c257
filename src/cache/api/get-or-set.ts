import { CacheFactoryError, CacheValidationError } from '../core/cache.errors.js';
import type { SetOptions } from '../core/cache.types.js';
import { deepFreeze } from '../local/memory-store.js';
import type { CacheCore } from './cache-core.js';

export interface GetOrSetOptions {
  /** How long a value is fresh; none = until deleted. */
  ttlMs?: number;
  /**
   * How long after `ttlMs` the last value is still kept and served when the factory fails or times
   * out (also while Redis is down, from memory). Readers of a key should use the same grace.
   */
  graceMs?: number;
  /**
   * Factory time limit. With a value within its grace period that value is served and the factory
   * finishes in the background (its result is stored); without one the call fails with CACHE_FACTORY_TIMEOUT.
   */
  timeoutMs?: number;
  /**
   * One factory call across every instance sharing Redis: a short claim (setIfAbsent) on a lock key;
   * the others wait for the value (polling), at most `waitMs`, then serve a stale value or run the
   * factory themselves. Without Redis the claim is unknown and the factory runs locally.
   */
  lock?: boolean | { ttlMs?: number; waitMs?: number };
}

const LOCK_SUFFIX = '\u001flock';
const DEFAULT_LOCK_TTL_MS = 10_000;
const LOCK_POLL_MS = 25;

/**
 * getOrSet: one factory call per key at a time in this instance (callers of the same key share the
 * pending call), optionally one across instances, with a grace period and a factory timeout. The
 * expiry stored is ttl + grace, so a stale value stays readable (and in memory) through the grace.
 */
export class GetOrSet {
  private readonly pending = new Map<string, Promise<unknown>>();

  constructor(private readonly core: CacheCore & { now(): number }) {}

  async run<T>(k: string, factory: () => T | Promise<T>, options: GetOrSetOptions = {}): Promise<T> {
    if (typeof factory !== 'function') throw new CacheValidationError('getOrSet needs a factory function');
    const grace = nonNegative(options.graceMs, 'graceMs');
    if (options.ttlMs !== undefined && !(options.ttlMs > 0)) throw new CacheValidationError('ttlMs must be a positive number of milliseconds');
    const r = await this.core.read<T>(k);
    if (r.state === 'hit' && this.fresh(r.expiresAt ?? null, grace)) return r.value as T;
    const stale = r.state === 'hit' ? { value: r.value as T } : undefined;
    const joined = this.pending.get(k);
    if (joined) return joined as Promise<T>;
    const p = this.refresh(k, factory, options, grace, stale).finally(() => this.pending.delete(k));
    this.pending.set(k, p);
    return p;
  }

  private fresh(expiresAt: number | null, grace: number): boolean {
    return expiresAt === null || this.core.now() < expiresAt - grace;
  }

  private async refresh<T>(k: string, factory: () => T | Promise<T>, o: GetOrSetOptions, grace: number, stale?: { value: T }): Promise<T> {
    if (!o.lock) return this.produce(k, factory, o, grace, stale, null);
    const lockTtl = typeof o.lock === 'object' && o.lock.ttlMs ? o.lock.ttlMs : (o.timeoutMs ?? DEFAULT_LOCK_TTL_MS);
    const waitMs = typeof o.lock === 'object' && o.lock.waitMs !== undefined ? o.lock.waitMs : lockTtl;
    const lockKey = k + LOCK_SUFFIX;
    const claim = await this.core.claim(lockKey, this.core.instanceId, { ttlMs: lockTtl });
    if (claim.state === 'claimed') return this.produce(k, factory, o, grace, stale, claim.version ? { key: lockKey, version: claim.version } : null);
    if (claim.state === 'exists') {
      // Another instance is computing the value: wait for it rather than calling the factory too.
      const until = this.core.now() + waitMs;
      while (this.core.now() < until) {
        await sleep(LOCK_POLL_MS);
        const r = await this.core.read<T>(k);
        if (r.state === 'hit' && this.fresh(r.expiresAt ?? null, grace)) return r.value as T;
      }
      if (stale) return stale.value;
    }
    return this.produce(k, factory, o, grace, stale, null);
  }

  private async produce<T>(k: string, factory: () => T | Promise<T>, o: GetOrSetOptions, grace: number, stale: { value: T } | undefined, lock: { key: string; version: string } | null): Promise<T> {
    const store = async (v: T): Promise<T> => {
      await this.core.set(k, v, this.expiry(o.ttlMs, grace));
      return deepFreeze(v);
    };
    // Compare-and-delete: after lockTtl the lock may be another instance's, which must keep it.
    const release = () => (lock ? this.core.releaseClaim(lock.key, lock.version) : undefined);
    const computed = (async () => factory())().then(store);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = o.timeoutMs === undefined ? null : new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), o.timeoutMs)));
    try {
      const first = timedOut ? await Promise.race([computed, timedOut]) : await computed;
      if (first !== 'timeout') {
        await release();
        return first as T;
      }
      // The factory goes on in the background; its value is stored when it arrives.
      void computed.then(release, release);
      if (stale) return stale.value;
      throw new CacheFactoryError('CACHE_FACTORY_TIMEOUT', `getOrSet factory did not finish within ${o.timeoutMs} ms and no value within its grace period was held`);
    } catch (err) {
      if (err instanceof CacheFactoryError || err instanceof CacheValidationError) throw err;
      await release();
      if (stale) return stale.value;
      throw new CacheFactoryError('CACHE_FACTORY_FAILED', `getOrSet factory failed and no value within its grace period was held: ${(err as Error)?.message ?? String(err)}`, err);
    } finally {
      clearTimeout(timer);
    }
  }

  private expiry(ttlMs: number | undefined, grace: number): SetOptions {
    return ttlMs === undefined ? {} : { expiresAt: this.core.now() + ttlMs + grace };
  }
}

function nonNegative(v: number | undefined, name: string): number {
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new CacheValidationError(`${name} must be a non-negative number of milliseconds`);
  return v;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
