import { startRedis, type RedisProcess } from '../helpers/redis-server.js';
import type { CacheService } from '../../src/cache/cache.service.js';
import { startCache, waitForMode } from './cache-harness.js';

describe('CacheService.setIfAbsent on a real Redis shared by two instances', () => {
  let redis: RedisProcess;
  let a: CacheService;
  let b: CacheService;

  beforeAll(async () => {
    redis = await startRedis();
    a = await startCache({ port: redis.port, instanceId: 'a' });
    b = await startCache({ port: redis.port, instanceId: 'b' });
    await Promise.all([waitForMode(a, 'redis'), waitForMode(b, 'redis')]);
  });
  afterAll(async () => {
    await a.onApplicationShutdown();
    await b.onApplicationShutdown();
    await redis.stop();
  });

  it('of many concurrent claims on both instances exactly one wins, and the others see its value', async () => {
    const attempts = Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).setIfAbsent('claim:1', { owner: i }, { ttlMs: 60_000 }));
    const results = await Promise.all(attempts);
    const winners = results.filter((r) => r.state === 'claimed');
    expect(winners).toHaveLength(1);
    const winner = results.findIndex((r) => r.state === 'claimed');
    for (const r of results.filter((x) => x.state === 'exists')) expect(r.value).toEqual({ owner: winner });
    expect(await a.get('claim:1')).toEqual({ owner: winner });
  });

  it('a deleted key can be claimed again; a live one cannot', async () => {
    expect((await a.setIfAbsent('claim:2', 'first')).state).toBe('claimed');
    expect((await b.setIfAbsent('claim:2', 'second')).state).toBe('exists');
    await b.delete('claim:2');
    expect((await a.setIfAbsent('claim:2', 'third')).state).toBe('claimed');
    expect(await b.get('claim:2')).toBe('third');
  });

  it('a key deleted by an instance whose clock runs ahead can be claimed by one whose clock lags', async () => {
    const ahead = await startCache({ port: redis.port, instanceId: 'ahead', clock: () => Date.now() + 60_000 });
    try {
      await waitForMode(ahead, 'redis');
      expect((await a.setIfAbsent('claim:skew', 'first')).state).toBe('claimed');
      await ahead.delete('claim:skew');
      // The tombstone's version is a minute ahead of a's clock: a plain version comparison would
      // call the key taken although it is free.
      expect(await a.setIfAbsent('claim:skew', 'second')).toMatchObject({ state: 'claimed', authoritative: true });
      expect(await ahead.get('claim:skew')).toBe('second');
      expect((await b.setIfAbsent('claim:skew', 'third')).state).toBe('exists');
    } finally {
      await ahead.onApplicationShutdown();
    }
  });

  it('with Redis down it never claims blindly: unknown for keys it does not hold, exists for keys it does', async () => {
    await a.set('claim:known', 'held');
    await redis.kill();
    await waitForMode(a, 'fallback');
    expect(await a.setIfAbsent('claim:new', 'x')).toEqual({ state: 'unknown', reason: 'unreachable', authoritative: false });
    expect(await a.setIfAbsent('claim:known', 'y')).toMatchObject({ state: 'exists', value: 'held', authoritative: false });
    await redis.restart();
    await waitForMode(a, 'redis');
  });
});

describe('CacheService.connect', () => {
  it('resolves true only once the cache is in redis mode, false on timeout', async () => {
    const redis = await startRedis();
    const c = await startCache({ port: redis.port });
    try {
      expect(await c.connect(5_000)).toBe(true);
      expect(c.mode).toBe('redis');
      await redis.kill();
      await waitForMode(c, 'fallback');
      const t0 = Date.now();
      expect(await c.connect(300)).toBe(false);
      expect(Date.now() - t0).toBeLessThan(1_000);
    } finally {
      await c.onApplicationShutdown();
      await redis.stop();
    }
  });
});
