import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { APP_CONFIG } from '../config/config.constants.js';
import type { AppConfig } from '../config/load-config.js';

/**
 * Flips readiness to `shutting_down` the moment shutdown starts. Nest runs this hook before it
 * closes the HTTP server, so with a drain time the load balancer sees the pod leave while
 * requests already on their way are still answered; Redis closes after that
 * (CacheService.onApplicationShutdown).
 */
@Injectable()
export class ShutdownState implements BeforeApplicationShutdown {
  private readonly logger = new Logger('Shutdown');
  private since: Date | null = null;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  get shuttingDown(): boolean {
    return this.since !== null;
  }

  async beforeApplicationShutdown(signal?: string): Promise<void> {
    if (this.since) return;
    this.since = new Date();
    const drainMs = this.config.observability.health.shutdownDrainMs;
    this.logger.log(
      `Shutting down${signal ? ` on ${signal}` : ''}: readiness answers shutting_down` +
        (drainMs > 0 ? `; draining ${drainMs} ms before the HTTP server closes` : ''),
    );
    if (drainMs > 0) await sleep(drainMs);
  }
}
