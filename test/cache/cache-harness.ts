import { CacheService } from '../../src/cache/cache.service.js';
import type { CacheModuleOptions } from '../../src/cache/core/cache.options.js';
import type { CacheMode } from '../../src/cache/core/cache.types.js';
import { firstValueFrom, filter, timeout } from 'rxjs';

/** A CacheService outside Nest, started the way Nest starts it. */
export async function startCache(options: Partial<CacheModuleOptions> & { port?: number; url?: string }): Promise<CacheService> {
  const { port, url, ...rest } = options;
  const redis =
    rest.redis !== undefined ? rest.redis : url ? { kind: 'standalone' as const, url } : port ? { kind: 'standalone' as const, host: '127.0.0.1', port } : null;
  const svc = new CacheService({ keyPrefix: 't:', commandTimeoutMs: 250, ...rest, redis });
  await svc.onModuleInit();
  return svc;
}

export function waitForMode(svc: CacheService, mode: CacheMode, ms = 10_000): Promise<CacheMode> {
  return firstValueFrom(
    svc.mode$.pipe(
      filter((m) => m === mode),
      timeout({ first: ms, with: () => { throw new Error(`mode ${mode} not reached in ${ms} ms (now ${svc.mode}, ${JSON.stringify(svc.getStatus())})`); } }),
    ),
  );
}

/** Runs `op` repeatedly with `concurrency` in flight until `stop()`; records each latency. */
export function loadLoop(op: (i: number) => Promise<unknown>, concurrency = 8) {
  let running = true;
  let i = 0;
  const latencies: number[] = [];
  const failures: unknown[] = [];
  const workers = Array.from({ length: concurrency }, async () => {
    while (running) {
      const n = i++;
      const t0 = performance.now();
      try {
        await op(n);
      } catch (e) {
        failures.push(e);
      }
      latencies.push(performance.now() - t0);
      // Yield so timers (kill, pause) still run between operations served from memory.
      await new Promise((r) => setImmediate(r));
    }
  });
  return {
    latencies,
    failures,
    get count() {
      return i;
    },
    async stop() {
      running = false;
      await Promise.all(workers);
    },
  };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Math.max(...values) overflows the stack for the long latency arrays of a load loop. */
export function maxOf(values: number[]): number {
  let m = -Infinity;
  for (const v of values) if (v > m) m = v;
  return m;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
