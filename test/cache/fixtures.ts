import { Logger } from '@nestjs/common';
import { onTestFinished, vi } from 'vitest';
import { startRedis, type RedisProcess, type StartRedisOptions } from '../helpers/redis-server.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { CacheService } from '../../src/cache/cache.service.js';
import { decodeRecord } from '../../src/cache/core/cache-codec.js';
import { ChaosGateway } from '../../src/cache/testing/chaos-gateway.js';
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

/** A cache on the in-process chaos gateway (no redis-server), closed after the test. */
export async function useChaosCache() {
  Logger.overrideLogger(false);
  const gateway = new ChaosGateway();
  const cache = new CacheService({ redis: null, keyPrefix: 'u:', instanceId: 'unit', commandTimeoutMs: 100 }, gateway);
  await cache.onModuleInit();
  onTestFinished(() => cache.onApplicationShutdown());
  return { cache, gateway, stored: (key: string) => decodeRecord(gateway.data.get(`u:${key}`) ?? '') };
}
