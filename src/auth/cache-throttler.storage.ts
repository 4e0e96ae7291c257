import { Injectable } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import { CacheService } from '../cache/index.js';
import { LocalWindowCounters } from './local-window-counters.js';

/**
 * Rate-limit counters in the cache's Redis, so every replica draws on one budget per key. While
 * Redis is not usable each instance counts on its own, in the same fixed windows: the limit then
 * holds per instance, never not at all.
 */
type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

@Injectable()
export class CacheThrottlerStorage implements ThrottlerStorage {
  private readonly local = new LocalWindowCounters();

  constructor(private readonly cache: CacheService) {}

  async increment(key: string, ttl: number, limit: number): Promise<ThrottlerStorageRecord> {
    const hit = (await this.cache.incrementWindow(`ratelimit:${key}`, ttl)) ?? this.local.increment(key, ttl);
    const timeToExpire = Math.max(1, Math.ceil(hit.remainingMs / 1000));
    const isBlocked = hit.count > limit;
    return { totalHits: hit.count, timeToExpire, isBlocked, timeToBlockExpire: isBlocked ? timeToExpire : 0 };
  }
}
