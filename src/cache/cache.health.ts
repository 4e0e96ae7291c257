import { Injectable } from '@nestjs/common';
import { CacheService } from './cache.service.js';

/** Terminus' HealthIndicatorResult shape, built here so the cache entry needs no @nestjs/terminus. */
export type CacheHealthResult<Key extends string = string> = Record<
  Key,
  { status: 'up' | 'degraded'; mode: string; [detail: string]: unknown }
>;

/**
 * `degraded` also when this host's clock is further off Redis' than maxClockSkewMs, and while a
 * Cluster master's breaker is open (its slots are served from memory while the mode stays `redis`).
 * `up` in redis and memory mode; `degraded` (still HTTP 200) in fallback and recovering, because
 * the service keeps serving from memory and restarting pods would only lose that memory.
 */
@Injectable()
export class CacheHealthIndicator {
  constructor(private readonly cache: CacheService) {}

  check<Key extends string = 'cache'>(
    key: Key = 'cache' as Key,
  ): CacheHealthResult<Key> {
    const s = this.cache.getStatus();
    const details = {
      mode: s.mode,
      connected: s.connected,
      breakerState: s.breakerState,
      breakerOpenNodes: s.breakerOpenNodes,
      fallbackSize: s.fallbackSize,
      memoryBytes: s.memoryBytes,
      journalSize: s.journalSize,
      lastTransitionAt: s.lastTransitionAt,
      clockOffsetMs: s.clock.offsetMs,
      clockSkewExceeded: s.clock.skewExceeded,
      // Why Redis is not in use (no secrets: connection errors are described without arguments).
      lastError:
        (s.mode === 'redis' && s.breakerOpenNodes.length === 0) ||
        s.mode === 'memory'
          ? null
          : s.lastError,
    };
    const up =
      (s.mode === 'redis' || s.mode === 'memory') &&
      !s.clock.skewExceeded &&
      s.breakerOpenNodes.length === 0;
    const status: 'up' | 'degraded' = up ? 'up' : 'degraded';
    return { [key]: { ...details, status } } as Record<
      string,
      { status: 'up' | 'degraded'; mode: string }
    > as CacheHealthResult<Key>;
  }
}
