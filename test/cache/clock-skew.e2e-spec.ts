import { Registry } from 'prom-client';
import { decodeRecord } from '../../src/cache/core/cache-codec.js';
import type { CacheService } from '../../src/cache/cache.service.js';
import type { RedisProcess } from '../helpers/redis-server.js';
import type { TcpProxy } from '../helpers/tcp-proxy.js';
import { CacheMetrics } from '../../src/observability/cache-metrics.js';
import { sleep, waitForMode } from './cache-harness.js';
import { FAST, eventually, silenceCacheLogs, useCache, useProxy, useRedis } from './fixtures.js';

describe('Writes are ordered by the fleet clock (Redis TIME), not by each host clock (real redis-server)', () => {
  const errors: string[] = [];
  silenceCacheLogs(errors);

  it.each([30_000, 60_000, -60_000])('A clock off by %i ms and cut off writes; B deletes 2 s later; after replay the delete wins', async (skew) => {
    const redis = await useRedis();
    const proxyA = await useProxy(redis.port);
    const a = await useCache({ url: proxyA.url, instanceId: 'a', clock: () => Date.now() + skew, ...FAST });
    const b = await useCache({ port: redis.port, instanceId: 'b', ...FAST });
    await Promise.all([waitForMode(a, 'redis'), waitForMode(b, 'redis')]);
    await olderWriteLoses({ a, b, proxyA, redis }, 2_000);
    expect(Math.abs(a.getStatus().clock.offsetMs + skew)).toBeLessThan(100);
  });

  it('a wall clock that steps 40 s ahead after its offset was measured does not let the older write win', async () => {
    const redis = await useRedis();
    const proxyA = await useProxy(redis.port);
    let step = 0;
    // Measured once on connect (the next measurement is 30 s away): the step comes between two.
    const a = await useCache({ url: proxyA.url, instanceId: 'a', clock: () => Date.now() + step, ...FAST });
    const b = await useCache({ port: redis.port, instanceId: 'b', ...FAST });
    await Promise.all([waitForMode(a, 'redis'), waitForMode(b, 'redis')]);
    await olderWriteLoses({ a, b, proxyA, redis }, 1_000, () => (step = 40_000));
  });

  it('an instance whose clock is off beyond maxClockSkewMs reports it in status, health metric and one log line', async () => {
    const redis = await useRedis();
    errors.length = 0;
    const c = await useCache({ port: redis.port, instanceId: 'c', clock: () => Date.now() - 90_000, clockSyncIntervalMs: 100, ...FAST });
    await waitForMode(c, 'redis');
    await sleep(350); // several re-measurements: still one line
    expect(c.getStatus().clock).toMatchObject({ skewExceeded: true, maxSkewMs: 60_000 });
    expect(errors.filter((e) => /clock is 90 s behind Redis/.test(e))).toHaveLength(1);
    const registry = new Registry();
    new CacheMetrics(registry, c);
    expect(await registry.getSingleMetricAsString('cache_clock_skew_exceeded')).toMatch(/cache_clock_skew_exceeded 1/);
    expect(await registry.getSingleMetricAsString('cache_clock_offset_seconds')).toMatch(/cache_clock_offset_seconds (89\.9|90)\d*/);
    const ok = await useCache({ port: redis.port, instanceId: 'ok', ...FAST });
    await waitForMode(ok, 'redis');
    expect(ok.getStatus().clock.skewExceeded).toBe(false);
  });
});

/** A, cut off, writes; B deletes `gapMs` later; after A's replay the later delete holds everywhere. */
async function olderWriteLoses(
  f: { a: CacheService; b: CacheService; proxyA: TcpProxy; redis: RedisProcess },
  gapMs: number,
  beforeCut: () => void = () => undefined,
): Promise<void> {
  await f.b.set('token:u1', 'T0');
  beforeCut();
  f.proxyA.cut();
  await waitForMode(f.a, 'fallback');
  expect((await f.a.set('token:u1', 'T1 from A')).journaled).toBe(true);
  await sleep(gapMs);
  expect((await f.b.delete('token:u1')).store).toBe('redis');
  f.proxyA.restore();
  await eventually('A replayed', () => f.a.getStatus().mode === 'redis' && f.a.getStatus().journalSize === 0);
  expect(decodeRecord((await f.redis.client().get('t:token:u1'))!)?.tombstone).toBe(true);
  expect(await f.a.read('token:u1')).toMatchObject({ state: 'miss' });
  expect(await f.b.read('token:u1')).toMatchObject({ state: 'miss' });
}
