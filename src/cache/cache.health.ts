import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { CacheService } from './cache.service.js';

/**
 * `degraded` also when this host's clock is further off Redis' than maxClockSkewMs, and while a
 * Cluster master's breaker is open (its slots are served from memory while the mode stays `redis`).
 * `up` in redis and memory mode; `degraded` (still HTTP 200) in fallback and recovering, because
 * the service keeps serving from memory and restarting pods would only lose that memory.
 */
@Injectable()
export class CacheHealthIndicator {
  constructor(
    private readonly cache: CacheService,
    private readonly health: HealthIndicatorService,
  ) {}

  check(key = 'cache') {
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
      lastError: (s.mode === 'redis' && s.breakerOpenNodes.length === 0) || s.mode === 'memory' ? null : s.lastError,
    };
    const indicator = this.health.check(key);
    if ((s.mode === 'redis' || s.mode === 'memory') && !s.clock.skewExceeded && s.breakerOpenNodes.length === 0) return indicator.up(details);
    return indicator.degraded(details);
  }
}
