import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { CacheService } from '../cache/index.js';
import { ShareKhanClientFactory } from '../sharekhan/index.js';
import type { OrchestratorSettings } from './orchestrator.options.js';
import { ORCHESTRATOR_SETTINGS } from './orchestrator.tokens.js';

/** Either go now, or the broker's limit leaves no slot within the wait allowed (nothing is sent). */
export type Admission = { ok: true } | { ok: false; retryAfterMs: number };

/**
 * Live orders per second per ShareKhan API key, fleet-wide: a sliding window in the cache (one
 * clock, Redis'), and a broker 429's Retry-After closes the window for every replica. While Redis is
 * not usable each replica counts on its own (docs/orchestrator.md, "Broker rate limit").
 */
@Injectable()
export class BrokerRateLimit {
  private readonly key: string;
  /** The broker's second plus the transit margin: an order granted at the end of one window may arrive after one granted at the start of the next. */
  private readonly windowMs: number;
  private readonly local: number[] = [];
  private localBlockedUntil = 0;

  constructor(
    private readonly cache: CacheService,
    clients: ShareKhanClientFactory,
    @Inject(ORCHESTRATOR_SETTINGS)
    private readonly settings: OrchestratorSettings,
  ) {
    // The key's fingerprint, never the key: several apps sharing one ShareKhan key share one budget.
    this.windowMs = 1_000 + settings.brokerTransitMarginMs;
    this.key = `orchestrator:broker-rate:${createHash('sha256').update(clients.apiKeyId).digest('hex').slice(0, 16)}`;
  }

  /** Waits for a slot at most `brokerMaxWaitMs`; refuses at once when none can free up in time. */
  async admit(): Promise<Admission> {
    const limit = this.settings.brokerOrdersPerSecond;
    const deadline = performance.now() + this.settings.brokerMaxWaitMs;
    for (;;) {
      const answer =
        (await this.cache.takeWindowSlot(this.key, this.windowMs, limit)) ??
        this.takeLocally(limit);
      if (answer.granted) return { ok: true };
      const wait = answer.retryInMs + Math.random() * 5;
      if (performance.now() + wait > deadline)
        return { ok: false, retryAfterMs: Math.ceil(answer.retryInMs) };
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  /** The broker answered 429: nobody in the fleet sends for `retryAfterMs` (1 s when it gave none). */
  async rateLimited(retryAfterMs: number | undefined): Promise<void> {
    const ms = Math.min(Math.max(retryAfterMs ?? 1_000, 1), 60_000);
    this.localBlockedUntil = Math.max(
      this.localBlockedUntil,
      performance.now() + ms,
    );
    await this.cache.blockWindow(
      this.key,
      this.windowMs,
      this.settings.brokerOrdersPerSecond,
      ms,
    );
  }

  private takeLocally(
    limit: number,
  ): { granted: true } | { granted: false; retryInMs: number } {
    const now = performance.now();
    if (now < this.localBlockedUntil)
      return { granted: false, retryInMs: this.localBlockedUntil - now };
    while (this.local.length > 0 && this.local[0] <= now - this.windowMs)
      this.local.shift();
    if (this.local.length < limit) {
      this.local.push(now);
      return { granted: true };
    }
    return {
      granted: false,
      retryInMs: Math.max(1, this.local[0] + this.windowMs - now),
    };
  }
}
