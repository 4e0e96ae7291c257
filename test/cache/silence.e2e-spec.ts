import { onTestFinished } from 'vitest';
import { startRedis, type RedisProcess } from '../helpers/redis-server.js';
import type { CacheService } from '../../src/cache/cache.service.js';
import type { CacheMode } from '../../src/cache/core/cache.types.js';
import { decodeRecord } from '../../src/cache/core/cache-codec.js';
import {
  loadLoop,
  maxOf,
  percentile,
  sleep,
  startCache,
  waitForMode,
} from './cache-harness.js';

// A long timeout, so only silence detection can answer the waiting calls quickly.
const TIMEOUT = 2_000;
// Half the timeout: the learnt interval is tens of ms on a quiet machine, a few hundred on a loaded one.
const NOTICED_WITHIN = 1_000;

async function fixture(): Promise<{
  redis: RedisProcess;
  cache: CacheService;
  modes: CacheMode[];
}> {
  const redis = await startRedis();
  const cache = await startCache({
    port: redis.port,
    commandTimeoutMs: TIMEOUT,
  });
  onTestFinished(async () => {
    if (redis.paused) redis.resume();
    await cache.onApplicationShutdown();
    await redis.stop();
  });
  await waitForMode(cache, 'redis');
  const modes: CacheMode[] = [];
  const sub = cache.mode$.subscribe((m) => modes.push(m));
  onTestFinished(() => sub.unsubscribe());
  return { redis, cache, modes };
}

describe('Silence is a hang (docs/cache.md)', () => {
  it('SIGSTOP under load: waiting calls are answered from memory long before the command timeout, no write lost', async () => {
    const { redis, cache } = await fixture();
    for (let i = 0; i < 32; i++) await cache.set(`s:${i}`, 0);
    const last = new Map<string, number>();
    const load = loadLoop(async (i) => {
      const k = `s:${i % 32}`;
      if (i % 3 === 0) {
        await cache.set(k, i);
        last.set(k, i);
      } else {
        const r = await cache.read(k);
        if (r.state !== 'hit') throw new Error(`read ${k}: ${r.state}`);
      }
    }, 16);
    await sleep(500);
    const before = load.latencies.length;
    redis.pause();
    await waitForMode(cache, 'fallback', TIMEOUT);
    await sleep(300);
    await load.stop();
    const during = load.latencies.slice(before);
    expect(load.failures).toEqual([]);
    expect(maxOf(during)).toBeLessThan(NOTICED_WITHIN);
    expect(percentile(during, 99)).toBeLessThan(NOTICED_WITHIN);
    expect(cache.getStatus().lastError).toMatch(
      /sent nothing for \d+ ms while \d+ command\(s\) waited/,
    );
    expect(cache.getStatus().journalSize).toBeGreaterThan(0);

    redis.resume();
    await waitForMode(cache, 'redis', 10_000);
    await sleep(200);
    const admin = redis.client();
    for (const [k, v] of last)
      expect(decodeRecord((await admin.get(`t:${k}`))!)?.json).toBe(String(v));
  });

  it('no false opening at 64 in flight with big replies, yet a hang is noticed at once', async () => {
    const { redis, cache, modes } = await fixture();
    // A reply of several MB arrives in many chunks over several ms: it flows, so it is not silence.
    await cache.set('big', 'x'.repeat(8 * 1024 * 1024));
    for (let i = 0; i < 64; i++) await cache.set(`n:${i}`, i);
    const load = loadLoop(async (i) => {
      const k = `n:${i % 64}`;
      if (i % 500 === 0) {
        const r = await cache.read('big');
        if (r.state !== 'hit') throw new Error(`read big: ${r.state}`);
      } else if (i % 4 === 0) await cache.set(k, i % 64);
      else {
        const r = await cache.read(k);
        if (r.state !== 'hit') throw new Error(`read ${k}: ${r.state}`);
      }
    }, 64);
    await sleep(3_000);
    expect(modes).toEqual(['redis']);
    expect(cache.getStatus().breakerState).toBe('closed');

    const before = load.latencies.length;
    redis.pause();
    await waitForMode(cache, 'fallback', TIMEOUT);
    await sleep(200);
    await load.stop();
    expect(load.failures).toEqual([]);
    expect(load.count).toBeGreaterThan(2_000);
    expect(maxOf(load.latencies.slice(before))).toBeLessThan(NOTICED_WITHIN);
  });
});
