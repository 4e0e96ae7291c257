import { Injectable, Optional, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { MetricsService } from '../observability/metrics.service.js';
import { ShareKhanTokenStore } from './token-store.service.js';

/** `broker_tokens{status}` on every scrape, counted from the index (no scan) plus the expected users it lacks. */
@Injectable()
export class TokenMetrics implements OnModuleInit, OnModuleDestroy {
  private unregister: (() => void) | null = null;
  private expected: readonly string[] = [];

  constructor(
    private readonly store: ShareKhanTokenStore,
    @Optional() private readonly metrics?: MetricsService,
  ) {}

  onModuleInit(): void {
    const metrics = this.metrics;
    if (!metrics) return;
    this.unregister = metrics.registerCollector('sharekhan-tokens', async () => {
      const { users } = await this.store.list();
      const counts: Record<string, number> = { active: 0, expired: 0, invalid: 0, revoked: 0, missing: 0, unknown: 0 };
      for (const { status } of users) {
        const key = status.state === 'present' ? status.view.status : status.state === 'missing' ? 'missing' : 'unknown';
        counts[key] += 1;
      }
      // Users who must trade but never had a token are not in the index: count them missing too.
      const indexed = new Set(users.map((u) => u.userId));
      counts.missing += this.expected.filter((id) => !indexed.has(id)).length;
      metrics.setTokenCounts(counts);
    });
  }

  /** Users expected to hold a token (the trading users without a static one), set by their owner. */
  expectUsers(userIds: readonly string[]): void {
    this.expected = [...userIds];
  }

  onModuleDestroy(): void {
    this.unregister?.();
  }
}
