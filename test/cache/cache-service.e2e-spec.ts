import { startRedis, type RedisProcess } from '../helpers/redis-server.js';
import { freePort } from '../helpers/ports.js';
import { waitUntil } from '../helpers/wait.js';
import type { Redis } from 'ioredis';
import { CacheService } from '../../src/cache/cache.service.js';
import { CacheStartupError, CacheValidationError } from '../../src/cache/core/cache.errors.js';
import { decodeRecord } from '../../src/cache/core/cache-codec.js';
import { loadLoop, maxOf, percentile, sleep, startCache, waitForMode } from './cache-harness.js';

const TIMEOUT = 250;
// Scheduling noise on a loaded 2-core machine; the promise under test is the timeout itself.
const MARGIN = 150;

describe('CacheService in memory mode (no Redis configured)', () => {
  let cache: CacheService;
  beforeAll(async () => {
    cache = await startCache({ redis: null });
  });
  afterAll(() => cache.onApplicationShutdown());

  it('stores, reads, checks and deletes values', async () => {
    expect(cache.getStatus().mode).toBe('memory');
    await cache.set('a', { n: 1 });
    expect(await cache.get('a')).toEqual({ n: 1 });
    expect(await cache.exists('a')).toBe(true);
    expect(await cache.read('a')).toMatchObject({ state: 'hit', source: 'memory', value: { n: 1 } });
    await cache.delete('a');
    expect(await cache.read('a')).toMatchObject({ state: 'miss' });
    expect(await cache.read('never')).toEqual({ state: 'miss', source: 'none' });
  });

  it('returns frozen values so callers cannot change what is cached', async () => {
    await cache.set('f', { list: [1] });
    const v = await cache.get<{ list: number[] }>('f');
    expect(() => v!.list.push(2)).toThrow();
    expect(await cache.get('f')).toEqual({ list: [1] });
  });

  it('refuses bad keys, values and expiries with a clear error', async () => {
    await expect(cache.set('', 1)).rejects.toThrow(/must not be empty/);
    await expect(cache.set('x'.repeat(600), 1)).rejects.toThrow(/at most 512/);
    await expect(cache.set(42 as unknown as string, 1)).rejects.toThrow(CacheValidationError);
    await expect(cache.set('k\n', 1)).rejects.toThrow(/control characters/);
    await expect(cache.set('k', undefined)).rejects.toThrow(/undefined/);
    await expect(cache.set('k', () => 1)).rejects.toThrow(/cannot be serialised/);
    await expect(cache.set('k', 10n)).rejects.toThrow(/cannot be serialised/);
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    await expect(cache.set('k', circular)).rejects.toThrow(/cannot be serialised/);
    await expect(cache.set('k', 1, { ttlMs: 0 })).rejects.toThrow(/positive/);
    await expect(cache.set('k', 1, { expiresAt: Date.now() - 1 })).rejects.toThrow(/in the past/);
  });

  it('expires at the absolute instant', async () => {
    await cache.set('e', 'v', { ttlMs: 120 });
    expect(await cache.get('e')).toBe('v');
    await sleep(160);
    expect(await cache.read('e')).toMatchObject({ state: 'miss' });
  });

  it('keeps the memory store within its entry bound (LRU)', async () => {
    const small = await startCache({ redis: null, memory: { maxEntries: 3, maxBytes: 1 << 20 } });
    for (const k of ['1', '2', '3']) await small.set(k, k);
    await small.get('1');
    await small.set('4', '4');
    expect(await small.exists('2')).toBe(false);
    expect(await small.exists('1')).toBe(true);
    expect(small.getStatus().fallbackSize).toBe(3);
    await small.onApplicationShutdown();
  });
});

describe('CacheService against a real Redis', () => {
  let redis: RedisProcess;
  let cache: CacheService;

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await cache?.onApplicationShutdown();
    await redis.stop();
  });

  beforeEach(async () => {
    if (!redis.running) await redis.restart();
    cache = await startCache({ port: redis.port, commandTimeoutMs: TIMEOUT });
    await waitForMode(cache, 'redis');
  });
  afterEach(async () => {
    await cache.onApplicationShutdown();
  });

  it('writes versioned records with an absolute expiry to Redis and reads them back', async () => {
    const w = await cache.set('k1', { a: 1 }, { ttlMs: 60_000 });
    expect(w.store).toBe('redis');
    const raw = await redis.client().get('t:k1');
    const rec = decodeRecord(raw!);
    expect(rec).toMatchObject({ version: w.version, tombstone: false, json: '{"a":1}' });
    const pexpireTime = await redis.client().call('PEXPIRETIME', 't:k1');
    expect(pexpireTime).toBe(rec!.expiresAt);
    expect(await cache.read('k1')).toMatchObject({ state: 'hit', source: 'redis', value: { a: 1 } });
  });

  it('sees another instance’s writes and deletes through Redis', async () => {
    const other = await startCache({ port: redis.port });
    await waitForMode(other, 'redis');
    await other.set('shared', 'from-other');
    expect(await cache.get('shared')).toBe('from-other');
    await other.delete('shared');
    expect(await cache.read('shared')).toMatchObject({ state: 'miss', source: 'redis' });
    await other.onApplicationShutdown();
  });

  it('a value expires in Redis and in memory at the same instant', async () => {
    await cache.set('exp', 'v', { ttlMs: 300 });
    expect(await cache.get('exp')).toBe('v');
    await redis.kill();
    await waitForMode(cache, 'fallback');
    expect(await cache.read('exp')).toMatchObject({ state: 'hit', source: 'memory' });
    await sleep(350);
    expect((await cache.read('exp')).state).not.toBe('hit');
    await redis.restart();
  });

  it('SIGKILL under load: every operation succeeds, none waits longer than the command timeout', async () => {
    for (let i = 0; i < 50; i++) await cache.set(`warm:${i}`, i);
    const load = loadLoop(async (i) => {
      const k = `warm:${i % 50}`;
      if (i % 3 === 0) await cache.set(k, i % 50);
      else {
        const r = await cache.read(k);
        if (r.state !== 'hit') throw new Error(`read ${k}: ${r.state}`);
      }
    });
    await sleep(200);
    await redis.kill();
    await waitForMode(cache, 'fallback');
    await sleep(400);
    await load.stop();
    expect(load.failures).toEqual([]);
    expect(load.count).toBeGreaterThan(100);
    expect(maxOf(load.latencies)).toBeLessThan(TIMEOUT + MARGIN);
  });

  it('restarted Redis: back to redis mode and writes made meanwhile reach it', async () => {
    await redis.kill();
    await waitForMode(cache, 'fallback');
    const w = await cache.set('during', 'outage');
    expect(w).toMatchObject({ store: 'memory', journaled: true });
    await redis.restart();
    await waitForMode(cache, 'redis');
    expect(decodeRecord((await redis.client().get('t:during'))!)?.json).toBe('"outage"');
    expect(cache.getStatus().journalSize).toBe(0);
  });

  it('SIGSTOP (hung Redis): bounded by the timeout, then served at memory speed once the breaker opens', async () => {
    for (let i = 0; i < 20; i++) await cache.set(`h:${i}`, i);
    redis.pause();
    try {
      const load = loadLoop(async (i) => {
        const r = await cache.read(`h:${i % 20}`);
        if (r.state !== 'hit') throw new Error(`read: ${r.state}`);
      }, 4);
      await waitForMode(cache, 'fallback', 3_000);
      const openedAt = load.latencies.length;
      await sleep(500);
      await load.stop();
      expect(load.failures).toEqual([]);
      expect(maxOf(load.latencies)).toBeLessThan(TIMEOUT + MARGIN);
      const afterOpen = load.latencies.slice(openedAt + 8);
      expect(afterOpen.length).toBeGreaterThan(100);
      expect(percentile(afterOpen, 99)).toBeLessThan(5);
      expect(cache.getStatus().breakerState).not.toBe('closed');
    } finally {
      redis.resume();
    }
    await waitForMode(cache, 'redis', 10_000);
  });

  it('many operations in flight are coalesced into fewer Redis commands, each caller getting its own answer', async () => {
    const admin = redis.client();
    const keys = Array.from({ length: 128 }, (_, i) => `batch:${i}`);
    await admin.config('RESETSTAT');
    const writes = await Promise.all(keys.map((k, i) => cache.set(k, { i })));
    expect(writes.every((w) => w.store === 'redis' && !w.journaled)).toBe(true);
    const reads = await Promise.all(keys.map((k) => cache.read(k)));
    reads.forEach((r, i) => expect(r).toMatchObject({ state: 'hit', source: 'redis', value: { i } }));
    for (const [k, i] of [[keys[0], 0], [keys[127], 127]] as const) {
      expect(decodeRecord((await admin.get(`t:${k}`))!)?.json).toBe(JSON.stringify({ i }));
    }
    const stats = await admin.info('commandstats');
    const calls = (cmd: string) => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
    // 128 writes and 128 reads; scripts' own GET/SET calls are counted apart, so only top-level
    // commands are compared (a few go out alone below the batching threshold).
    expect(calls('evalsha') + calls('eval')).toBeLessThan(64);
    expect(calls('mget')).toBeGreaterThan(0);
    expect(calls('mget')).toBeLessThan(16);
  });

  it('SIGSTOP with many operations in flight (batched): none waits longer than the command timeout', async () => {
    for (let i = 0; i < 64; i++) await cache.set(`hb:${i}`, i);
    redis.pause();
    try {
      const load = loadLoop(async (i) => {
        const k = `hb:${i % 64}`;
        if (i % 4 === 0) await cache.set(k, i % 64);
        else {
          const r = await cache.read(k);
          if (r.state !== 'hit') throw new Error(`read ${k}: ${r.state}`);
        }
      }, 64);
      await waitForMode(cache, 'fallback', 3_000);
      await sleep(300);
      await load.stop();
      expect(load.failures).toEqual([]);
      expect(load.count).toBeGreaterThan(1_000);
      expect(maxOf(load.latencies)).toBeLessThan(TIMEOUT + MARGIN);
    } finally {
      redis.resume();
    }
    await waitForMode(cache, 'redis', 10_000);
  });

  it('a reconnect to a hung Redis is bounded too: the handshake times out and is retried', async () => {
    // Commands on a ready connection are bounded by the gateway; the handshake of a new connection
    // (ready check, AUTH, SELECT) only by ioredis' own timeout, which must be back on for it.
    const client = (cache as unknown as { gateway: { exec: { client: Redis } } }).gateway.exec.client;
    expect(client.options.commandTimeout).toBeUndefined();
    await cache.set('handshake', 'known');
    redis.pause();
    try {
      const before = cache.getStatus().reconnectAttempts;
      client.disconnect(true);
      await waitForMode(cache, 'fallback', 3_000);
      expect(client.options.commandTimeout).toBe(TIMEOUT);
      // Each attempt connects (the kernel accepts), then its ready check times out: several fit.
      await waitUntil(Date.now() + 5_000, 'handshakes retried', async () => cache.getStatus().reconnectAttempts >= before + 3);
      expect(await cache.read('handshake')).toMatchObject({ state: 'hit', source: 'memory' });
    } finally {
      redis.resume();
    }
    await waitForMode(cache, 'redis', 10_000);
    expect(client.options.commandTimeout).toBeUndefined();
  });

  it('a timed-out write during SIGSTOP never beats the newer write made after it', async () => {
    await cache.set('race', 'old-before');
    redis.pause();
    const timedOut = await cache.set('race', 'v1-timed-out');
    expect(timedOut.journaled).toBe(true);
    await waitForMode(cache, 'fallback', 3_000).catch(async () => {
      // Fewer failures than the breaker threshold: force a few more timeouts.
      for (let i = 0; i < 3; i++) await cache.read('race');
      return waitForMode(cache, 'fallback', 3_000);
    });
    await cache.set('race', 'v2-newer');
    redis.resume();
    await waitForMode(cache, 'redis', 10_000);
    await sleep(100);
    expect(decodeRecord((await redis.client().get('t:race'))!)?.json).toBe('"v2-newer"');
    expect(await cache.get('race')).toBe('v2-newer');
  });
});

describe('CacheService start-up', () => {
  it('starts without Redis, serves from memory, and switches to Redis when it appears', async () => {
    const port = await freePort();
    const cache = await startCache({ port });
    expect(cache.mode).toBe('fallback');
    await cache.set('early', 1);
    expect(await cache.read('early')).toMatchObject({ state: 'hit', source: 'memory' });
    expect(await cache.read('unknown')).toMatchObject({ state: 'unavailable' });
    const redis = await startRedis({ port });
    try {
      await waitForMode(cache, 'redis', 10_000);
      expect(decodeRecord((await redis.client().get('t:early'))!)?.json).toBe('1');
    } finally {
      await cache.onApplicationShutdown();
      await redis.stop();
    }
  });

  it('refuses to start when Redis is required and unreachable', async () => {
    const port = await freePort();
    const t0 = Date.now();
    await expect(startCache({ port, requireRedisOnStartup: true, connectTimeoutMs: 500 })).rejects.toThrow(CacheStartupError);
    expect(Date.now() - t0).toBeLessThan(2_000);
  });
});
