import { Logger } from '@nestjs/common';
import { Registry } from 'prom-client';
import { vi } from 'vitest';
import { decodeRecord } from '../../src/cache/cache-codec.js';
import { CacheMetrics } from '../../src/observability/cache-metrics.js';
import { sleep, waitForMode } from './cache-harness.js';
import { eventually, useCache, useProxy, useRedis } from './fixtures.js';

const FAST = { commandTimeoutMs: 250, reconnect: { baseDelayMs: 20, maxDelayMs: 200 } };

describe('Writes are ordered by the fleet clock (Redis TIME), not by each host clock (real redis-server)', () => {
  const errors: string[] = [];
  beforeAll(() => {
    vi.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    vi.spyOn(Logger.prototype, 'error').mockImplementation((m: unknown) => void errors.push(String(m)));
  });
  afterAll(() => vi.restoreAllMocks());

  it.each([30_000, 60_000, -60_000])('A clock off by %i ms and cut off writes; B deletes 2 s later; after replay the delete wins', async (skew) => {
    const redis = await useRedis();
    const proxyA = await useProxy(redis.port);
    const a = await useCache({ url: proxyA.url, instanceId: 'a', clock: () => Date.now() + skew, ...FAST });
    const b = await useCache({ port: redis.port, instanceId: 'b', ...FAST });
    await Promise.all([waitForMode(a, 'redis'), waitForMode(b, 'redis')]);
    await b.set('token:u1', 'T0');
    proxyA.cut();
    await waitForMode(a, 'fallback');
    expect((await a.set('token:u1', 'T1 from A')).journaled).toBe(true);
    await sleep(2_000);
    expect((await b.delete('token:u1')).store).toBe('redis');
    proxyA.restore();
    await eventually('A replayed', () => a.getStatus().mode === 'redis' && a.getStatus().journalSize === 0);
    expect(decodeRecord((await redis.client().get('t:token:u1'))!)?.tombstone).toBe(true);
    expect(await a.read('token:u1')).toMatchObject({ state: 'miss' });
    expect(await b.read('token:u1')).toMatchObject({ state: 'miss' });
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
    await b.set('token:u1', 'T0');
    step = 40_000;
    proxyA.cut();
    await waitForMode(a, 'fallback');
    expect((await a.set('token:u1', 'T1 from A')).journaled).toBe(true);
    await sleep(1_000);
    expect((await b.delete('token:u1')).store).toBe('redis');
    proxyA.restore();
    await eventually('A replayed', () => a.getStatus().mode === 'redis' && a.getStatus().journalSize === 0);
    expect(decodeRecord((await redis.client().get('t:token:u1'))!)?.tombstone).toBe(true);
    expect(await a.read('token:u1')).toMatchObject({ state: 'miss' });
    expect(await b.read('token:u1')).toMatchObject({ state: 'miss' });
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
