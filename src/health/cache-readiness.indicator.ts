import { Inject, Injectable, Logger } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { CacheHealthIndicator, CacheService } from '../cache/index.js';
import { APP_CONFIG } from '../config/config.constants.js';
import type { AppConfig } from '../config/load-config.js';

const SELF_TEST_TTL_MS = 60_000;

type SelfTest = { ok: true } | { ok: false; reason: string };

/**
 * Readiness of the cache: the mode (`up` in redis and memory, `degraded` in fallback and
 * recovering, from CacheHealthIndicator), plus a write and read-back of a health key through the
 * cache, so a memory store that cannot take writes reports `down` instead of `up`.
 * With HEALTH_READY_FAIL_IN_FALLBACK=true, fallback is `down` too, for operators who would rather
 * take a pod out of the load balancer than let it serve from its own memory.
 */
@Injectable()
export class CacheReadinessIndicator {
  private readonly logger = new Logger('Readiness');
  private inFlight: Promise<SelfTest> | null = null;
  private lastFailure: string | null = null;
  private seq = 0;

  constructor(
    private readonly cache: CacheService,
    private readonly modeIndicator: CacheHealthIndicator,
    private readonly health: HealthIndicatorService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async check(key = 'cache') {
    const { status, ...details } = this.modeIndicator.check(key)[key];
    const indicator = this.health.check(key);
    const test = await this.selfTest();
    if (!test.ok) return indicator.down({ ...details, selfTest: 'failed', message: test.reason });
    if (details.mode === 'fallback' && this.config.observability.health.readyFailInFallback) {
      return indicator.down({
        ...details,
        selfTest: 'ok',
        message: 'cache is in fallback and HEALTH_READY_FAIL_IN_FALLBACK=true',
      });
    }
    return status === 'up' ? indicator.up({ ...details, selfTest: 'ok' }) : indicator.degraded({ ...details, selfTest: 'ok' });
  }

  /** Probes arriving together share one test, so they never race on the key. */
  private selfTest(): Promise<SelfTest> {
    this.inFlight ??= this.runSelfTest().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  private async runSelfTest(): Promise<SelfTest> {
    const timeoutMs = this.config.observability.health.selfTestTimeoutMs;
    const key = `health:selftest:${this.cache.getStatus().instanceId}`;
    const nonce = `${Date.now()}-${++this.seq}`;
    let timer: NodeJS.Timeout | undefined;
    let result: SelfTest;
    try {
      result = await Promise.race([
        this.writeAndRead(key, nonce),
        new Promise<SelfTest>((resolve) => {
          timer = setTimeout(() => resolve({ ok: false, reason: `cache self-test took longer than ${timeoutMs} ms` }), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
    this.logChange(result);
    return result;
  }

  private async writeAndRead(key: string, nonce: string): Promise<SelfTest> {
    try {
      await this.cache.set(key, nonce, { ttlMs: SELF_TEST_TTL_MS });
      const read = await this.cache.read<string>(key);
      if (read.state === 'hit' && read.value === nonce) return { ok: true };
      return { ok: false, reason: `cache self-test read back ${read.state === 'hit' ? 'a different value' : read.state}` };
    } catch (err) {
      return { ok: false, reason: `cache self-test write failed: ${(err as Error).message}` };
    }
  }

  /** One line when the self-test starts failing and one when it recovers, not one per probe. */
  private logChange(result: SelfTest): void {
    if (!result.ok && this.lastFailure === null) this.logger.error(`Readiness down: ${result.reason}`);
    if (result.ok && this.lastFailure !== null) this.logger.log('Readiness self-test passes again');
    this.lastFailure = result.ok ? null : result.reason;
  }
}
