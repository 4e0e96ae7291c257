import { Injectable } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import { CacheService, type CounterHit } from '../cache/index.js';
import { LocalWindowCounters } from './local-window-counters.js';

export type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/**
 * Rate-limit counters in the cache's Redis, so every replica draws on one budget per key. While
 * Redis is not usable each instance counts on its own, in the same fixed windows: the limit then
 * holds per instance, never not at all.
 */
@Injectable()
export class CacheThrottlerStorage implements ThrottlerStorage {
  private readonly local = new LocalWindowCounters();

  constructor(private readonly cache: CacheService) {}

  async increment(key: string, ttl: number, limit: number): Promise<ThrottlerStorageRecord> {
    return record((await this.cache.incrementWindow(`ratelimit:${key}`, ttl)) ?? this.local.increment(key, ttl), limit);
  }

  /**
   * The same count, synchronously, when no Redis is configured (memory mode: `incrementWindow`
   * would answer null); null otherwise, and then `increment` must be asked.
   */
  countLocally(key: string, ttl: number, limit: number): ThrottlerStorageRecord | null {
    return this.cache.mode === 'memory' ? record(this.local.increment(key, ttl), limit) : null;
  }
}

function record(hit: CounterHit, limit: number): ThrottlerStorageRecord {
  const timeToExpire = Math.max(1, Math.ceil(hit.remainingMs / 1000));
  const isBlocked = hit.count > limit;
  return { totalHits: hit.count, timeToExpire, isBlocked, timeToBlockExpire: isBlocked ? timeToExpire : 0 };
}
