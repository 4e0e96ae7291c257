import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CacheService } from '../cache/index.js';
import { APP_CONFIG } from '../config/config.constants.js';
import type { AppConfig } from '../config/load-config.js';
import { CacheMetrics } from './cache-metrics.js';

/** Runs right before each scrape; sets gauges from a module's own state. Must be quick. */
export type MetricsCollector = () => void | Promise<void>;

const COLLECTOR_TIMEOUT_MS = 1_000;
const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The app's one Prometheus registry (its own, not prom-client's global one, so two apps in one
 * process never collide). Other modules add numbers in two ways:
 *  - `registerCollector(name, fn)`: fn runs before every scrape and sets gauges;
 *  - `registry`: create their own prom-client metrics with `registers: [metrics.registry]` (the
 *    app hands it to ShareKhanAuthModule as `metricsRegistry`, which adds `broker_tokens`).
 */
@Injectable()
export class MetricsService implements OnModuleInit, OnModuleDestroy {
  readonly registry = new Registry();
  private readonly logger = new Logger('Metrics');
  private readonly collectors = new Map<string, MetricsCollector>();
  private readonly failing = new Set<string>();
  private readonly cacheMetrics: CacheMetrics;
  private readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  private readonly httpDuration: Histogram<'method' | 'route' | 'status'>;

  constructor(
    cache: CacheService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    const registers = [this.registry];
    this.cacheMetrics = new CacheMetrics(this.registry, cache);
    this.httpRequests = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests by method, route pattern (never the raw URL) and status code',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by method, route pattern and status code',
      labelNames: ['method', 'route', 'status'],
      buckets: HTTP_BUCKETS,
      registers,
    });
  }

  onModuleInit(): void {
    if (this.config.observability.metrics.defaultMetrics) collectDefaultMetrics({ register: this.registry });
    this.cacheMetrics.bind();
  }

  onModuleDestroy(): void {
    this.cacheMetrics.unbind();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * Adds a collector that runs before each scrape; returns a function that removes it. A
   * collector that throws or takes longer than 1 s is skipped for that scrape (logged once
   * until it works again), so one module cannot break the scrape for the others.
   */
  registerCollector(name: string, collect: MetricsCollector): () => void {
    this.collectors.set(name, collect);
    return () => {
      if (this.collectors.get(name) === collect) this.collectors.delete(name);
    };
  }

  observeHttp(method: string, route: string, status: number, seconds: number): void {
    const labels = { method, route, status: String(status) };
    this.httpRequests.inc(labels);
    this.httpDuration.observe(labels, seconds);
  }

  /** The exposition text for one scrape. */
  async scrape(): Promise<string> {
    await Promise.all([...this.collectors].map(([name, fn]) => this.runCollector(name, fn)));
    return this.registry.metrics();
  }

  private async runCollector(name: string, fn: MetricsCollector): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.resolve().then(fn),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`took longer than ${COLLECTOR_TIMEOUT_MS} ms`)), COLLECTOR_TIMEOUT_MS);
        }),
      ]);
      if (this.failing.delete(name)) this.logger.log(`Metrics collector ${name} works again`);
    } catch (err) {
      if (!this.failing.has(name)) {
        this.failing.add(name);
        this.logger.warn(`Metrics collector ${name} failed, its metrics are stale: ${(err as Error).message}`);
      }
    } finally {
      clearTimeout(timer);
    }
  }
}
