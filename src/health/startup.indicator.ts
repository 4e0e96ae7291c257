import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { CacheService } from '../cache/index.js';
import { APP_CONFIG } from '../config/config.constants.js';
import type { AppConfig } from '../config/load-config.js';

/**
 * Startup passes once the app has booted and the cache has had a fair chance at Redis: either it
 * connected, or the grace period ran out (then the pod starts on memory, as the design allows:
 * start-up never needs Redis unless the cache option requireRedisOnStartup says so). Without the grace,
 * every rollout would take its first requests in fallback and journal writes for nothing.
 * Once passed it stays passed: Kubernetes stops asking after the first success anyway.
 */
@Injectable()
export class StartupIndicator implements OnApplicationBootstrap {
  private bootedAt: number | null = null;
  private started = false;

  constructor(
    private readonly cache: CacheService,
    private readonly health: HealthIndicatorService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.bootedAt = Date.now();
  }

  check(key = 'startup') {
    const indicator = this.health.check(key);
    if (this.bootedAt === null) return indicator.down({ message: 'application still initialising' });
    const s = this.cache.getStatus();
    const graceMs = this.config.observability.health.startupRedisGraceMs;
    const waitedMs = Date.now() - this.bootedAt;
    const neverConnected = s.redisConfigured && s.transitions === 0 && s.mode === 'fallback';
    if (!this.started && neverConnected && waitedMs < graceMs) {
      return indicator.down({ mode: s.mode, message: `waiting for a first Redis connection (${waitedMs} of ${graceMs} ms)` });
    }
    this.started = true;
    return indicator.up({ mode: s.mode });
  }
}
