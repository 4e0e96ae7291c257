import { Logger } from '@nestjs/common';
import { onTestFinished, vi } from 'vitest';
import { startRedis, type RedisProcess, type StartRedisOptions } from '../helpers/redis-server.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { CacheService } from '../../src/cache/cache.service.js';
import { decodeRecord } from '../../src/cache/core/cache-codec.js';
import { ChaosGateway } from '../support/chaos-gateway.js';
import type { CacheModuleOptions } from '../../src/cache/core/cache.options.js';
import { startCache } from './cache-harness.js';

/** Fixtures for one test, each stopped when the test finishes (in reverse order of creation). */
export async function useRedis(opts: StartRedisOptions = {}): Promise<RedisProcess> {
  const redis = await startRedis(opts);
  onTestFinished(() => redis.stop());
  return redis;
}

export async function useProxy(port: number): Promise<TcpProxy> {
  const proxy = await startTcpProxy(port);
  onTestFinished(() => proxy.close());
  return proxy;
}

export async function useCache(options: Partial<CacheModuleOptions> & { port?: number; url?: string }): Promise<CacheService> {
  const cache = await startCache(options);
  onTestFinished(() => cache.onApplicationShutdown());
  return cache;
}

/** Polls until `check` holds (or throws with `what` after `ms`). */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Short timeouts and reconnect delays, so fault tests recover in milliseconds. */
export const FAST = { commandTimeoutMs: 250, reconnect: { baseDelayMs: 20, maxDelayMs: 200 } };

/** Mutes the cache's log and info lines for a suite and collects its error lines into `errors`. */
export function silenceCacheLogs(errors: string[]): void {
  beforeAll(() => {
    vi.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    vi.spyOn(Logger.prototype, 'error').mockImplementation((m: unknown) => void errors.push(String(m)));
  });
  afterAll(() => vi.restoreAllMocks());
}

/** Command timeout of the chaos caches: well above a round trip on a loaded machine, so only injected faults time out. */
const CHAOS_TIMEOUT_MS = 500;

/**
 * A cache on the chaos gateway (the real one with faults, on a redis-server of its own), switched
 * off until the test calls `gateway.up()`; both stopped after the test. `raw` talks to the server
 * directly; `stored` decodes the record Redis holds for a key.
 */
export async function useChaosCache() {
  Logger.overrideLogger(false);
  const redis = await useRedis();
  const gateway = new ChaosGateway(redis, { commandTimeoutMs: CHAOS_TIMEOUT_MS });
  const cache = new CacheService({ redis: null, keyPrefix: 'u:', instanceId: 'unit', commandTimeoutMs: CHAOS_TIMEOUT_MS }, gateway);
  await cache.onModuleInit();
  onTestFinished(() => cache.onApplicationShutdown());
  const raw = redis.client();
  return { cache, gateway, redis, raw, stored: async (key: string) => decodeRecord((await raw.get(`u:${key}`)) ?? '') };
}
