import type { Redis } from 'ioredis';
import type { CacheService } from '../../src/cache/cache.service.js';
import { startRedis } from '../helpers/redis-server.js';
import { startCache, waitForMode } from './cache-harness.js';

/**
 * The rate-limit counter (issue 13, HTTP speed): the hits of one event-loop turn on one key go to
 * Redis as one script call, and each caller still gets the count its own INCR would have given.
 */
async function fixture() {
  const redis = await startRedis();
  onTestFinished(() => redis.stop());
  const client: Redis = redis.client();
  onTestFinished(() => void client.quit());
  const replica = async (id: string): Promise<CacheService> => {
    const cache = await startCache({ port: redis.port, instanceId: id, keyPrefix: 'wc:' });
    onTestFinished(() => cache.onApplicationShutdown());
    await waitForMode(cache, 'redis');
    return cache;
  };
  return { client, replica };
}

/** Script calls Redis ran since the last CONFIG RESETSTAT (EVALSHA, and EVAL when it lacked the script). */
async function scriptCalls(client: Redis): Promise<number> {
  const info = await client.info('commandstats');
  return [...info.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
}

describe('rate-limit window counter', () => {
  it('concurrent hits from two replicas get the counts 1..n, each once, and one shared total', async () => {
    const { client, replica } = await fixture();
    const a = await replica('a');
    const b = await replica('b');
    const hits = await Promise.all([
      ...Array.from({ length: 20 }, () => a.incrementWindow('k', 60_000)),
      ...Array.from({ length: 20 }, () => b.incrementWindow('k', 60_000)),
    ]);
    expect(hits.every((h) => h !== null && h.remainingMs > 0 && h.remainingMs <= 60_000)).toBe(true);
    expect(hits.map((h) => h!.count).sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(await client.get('wc:k')).toBe('40');
    const ttl = await client.pttl('wc:k');
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('the hits of one turn on one key cost one script call; another key its own', async () => {
    const { client, replica } = await fixture();
    const cache = await replica('a');
    await cache.incrementWindow('warm', 60_000);
    await client.config('RESETSTAT');
    const hits = await Promise.all([
      ...Array.from({ length: 30 }, () => cache.incrementWindow('x', 60_000)),
      ...Array.from({ length: 5 }, () => cache.incrementWindow('y', 60_000)),
    ]);
    expect(hits.slice(0, 30).map((h) => h!.count)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(hits.slice(30).map((h) => h!.count)).toEqual([1, 2, 3, 4, 5]);
    expect(await scriptCalls(client)).toBe(2);
  });

  it('a window runs from the first hit: later batches do not extend it', async () => {
    const { client, replica } = await fixture();
    const cache = await replica('a');
    await Promise.all(Array.from({ length: 3 }, () => cache.incrementWindow('w', 1_000)));
    await new Promise((r) => setTimeout(r, 300));
    const later = await Promise.all(Array.from({ length: 3 }, () => cache.incrementWindow('w', 1_000)));
    expect(later.map((h) => h!.count)).toEqual([4, 5, 6]);
    expect(later[0]!.remainingMs).toBeLessThanOrEqual(750);
    expect(await client.pttl('wc:w')).toBeLessThanOrEqual(750);
  });
});
