import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { SHAREKHAN_SETTINGS, type ShareKhanSettings } from '../sharekhan.options.js';
import { TradingAccounts } from './trading-accounts.js';
import { ShareKhanTokenStore } from './token-store.service.js';

const COLLECT_TIMEOUT_MS = 1_000;
const STATUSES = ['active', 'expired', 'invalid', 'revoked', 'missing', 'unknown'] as const;

/**
 * `broker_tokens{status}` on every scrape, counted from the index (no scan) plus the configured
 * accounts it lacks (counted missing), in the registry the
 * app passed as `metricsRegistry`; without one the module keeps no metrics.
 */
@Injectable()
export class TokenMetrics implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('TokenMetrics');
  private gauge: Gauge<'status'> | null = null;
  private failing = false;

  constructor(
    private readonly store: ShareKhanTokenStore,
    private readonly accounts: TradingAccounts,
    @Inject(SHAREKHAN_SETTINGS) private readonly settings: ShareKhanSettings,
  ) {}

  onModuleInit(): void {
    const registry = this.settings.metricsRegistry;
    if (!registry || registry.getSingleMetric('broker_tokens')) return;
    const count = () => this.count();
    this.gauge = new Gauge({
      name: 'broker_tokens',
      help: 'Stored broker access tokens by status, counted from the token index at each scrape',
      labelNames: ['status'],
      registers: [registry],
      async collect() {
        const counts = await count();
        this.reset();
        if (counts) for (const [status, n] of Object.entries(counts)) this.set({ status }, n);
      },
    });
  }

  onModuleDestroy(): void {
    if (this.gauge) this.settings.metricsRegistry?.removeSingleMetric('broker_tokens');
  }

  /** The users expected to hold a token: the configured accounts without a static one. */
  private expected(): string[] {
    return this.accounts.userIds().filter((id) => !this.settings.staticTokens.has(id));
  }

  /** Null (stale gauge dropped) when the store cannot answer within a second: one slow module never breaks a scrape. */
  private async count(): Promise<Record<string, number> | null> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const { users } = await Promise.race([
        this.store.list(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`took longer than ${COLLECT_TIMEOUT_MS} ms`)), COLLECT_TIMEOUT_MS);
        }),
      ]);
      const counts = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<string, number>;
      for (const { status } of users) {
        const key = status.state === 'present' ? status.view.status : status.state === 'missing' ? 'missing' : 'unknown';
        counts[key] += 1;
      }
      // Users who must trade but never had a token are not in the index: count them missing too.
      const indexed = new Set(users.map((u) => u.userId));
      counts.missing += this.expected().filter((id) => !indexed.has(id)).length;
      if (this.failing) this.logger.log('broker_tokens can be counted again');
      this.failing = false;
      return counts;
    } catch (err) {
      if (!this.failing) this.logger.warn(`broker_tokens not counted: ${(err as Error).message}`);
      this.failing = true;
      return null;
    } finally {
      clearTimeout(timer);
    }
  }
}
