import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { ThrottlerStorageService, type ThrottlerStorage } from '@nestjs/throttler';
import { CacheService } from '../cache/index.js';

/**
 * Rate-limit counters in the cache's Redis, so every replica draws on one budget per key. While
 * Redis is not usable each instance counts on its own (the throttler's in-memory storage): the
 * limit then holds per instance, never not at all.
 */
type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

@Injectable()
export class CacheThrottlerStorage implements ThrottlerStorage, OnApplicationShutdown {
  private readonly local = new ThrottlerStorageService();

  constructor(private readonly cache: CacheService) {}

  async increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<ThrottlerStorageRecord> {
    const hit = await this.cache.incrementWindow(`ratelimit:${key}`, ttl);
    if (!hit) return this.local.increment(key, ttl, limit, blockDuration, throttlerName);
    const timeToExpire = Math.max(1, Math.ceil(hit.remainingMs / 1000));
    const isBlocked = hit.count > limit;
    return { totalHits: hit.count, timeToExpire, isBlocked, timeToBlockExpire: isBlocked ? timeToExpire : 0 };
  }

  onApplicationShutdown(): void {
    this.local.onApplicationShutdown();
  }
}
