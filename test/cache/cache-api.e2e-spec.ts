import { onTestFinished, vi } from 'vitest';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { formatVersion, parseVersion } from '../../src/cache/core/hlc.js';
import { startRedis } from '../helpers/redis-server.js';
import type { CacheService } from '../../src/cache/cache.service.js';
import type { CacheModuleOptions } from '../../src/cache/core/cache.options.js';
import { CacheConflictError, CacheError, CacheFactoryError, CacheUnavailableError, CacheValidationError } from '../../src/cache/core/cache.errors.js';
import { decodeRecord, encodeRecord } from '../../src/cache/core/cache-codec.js';
import { sleep, startCache, waitForMode } from './cache-harness.js';

/** A real Redis and `instances` caches on it, all in redis mode; stopped when the test ends. */
async function fixture(instances = 1, options: Partial<CacheModuleOptions> = {}) {
  const redis = await startRedis();
  const caches: CacheService[] = [];
  onTestFinished(async () => {
    for (const c of caches) await c.onApplicationShutdown();
    await redis.stop();
  });
  for (let i = 0; i < instances; i++) caches.push(await startCache({ port: redis.port, instanceId: `i${i}`, ...options }));
  await Promise.all(caches.map((c) => waitForMode(c, 'redis')));
  return { redis, caches, raw: redis.client() };
}

async function memoryCache() {
  const c = await startCache({});
  onTestFinished(() => c.onApplicationShutdown());
  return c;
}

describe('getOrSet', () => {
  it('calls the factory once for many concurrent callers of one key in one instance', async () => {
    const { caches: [a] } = await fixture();
    let calls = 0;
    const factory = async () => {
      calls++;
      await sleep(100);
      return { price: 42 };
    };
    const values = await Promise.all(Array.from({ length: 50 }, () => a.getOrSet('quote', factory, { ttlMs: 60_000 })));
    expect(calls).toBe(1);
    for (const v of values) expect(v).toEqual({ price: 42 });
    expect(await a.get('quote')).toEqual({ price: 42 });
    // A fresh value is served without calling the factory again.
    expect(await a.getOrSet('quote', factory, { ttlMs: 60_000 })).toEqual({ price: 42 });
    expect(calls).toBe(1);
  });

  it('with lock, calls the factory once across two instances; without, once per instance', async () => {
    const { caches: [a, b] } = await fixture(2);
    let calls = 0;
    const factory = async () => {
      calls++;
      await sleep(300);
      return 'v';
    };
    const run = (key: string, lock: boolean) =>
      Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).getOrSet(key, factory, { ttlMs: 60_000, lock })));
    expect(new Set(await run('locked', true))).toEqual(new Set(['v']));
    expect(calls).toBe(1);
    calls = 0;
    await run('unlocked', false);
    expect(calls).toBe(2);
  });

  it('a lock that expired while the factory ran is not removed: the instance that took it over keeps it', async () => {
    const { caches: [a, b], raw } = await fixture(2);
    const slowA = a.getOrSet('lk', () => sleep(400).then(() => 'from a'), { ttlMs: 60_000, lock: { ttlMs: 100 } });
    await sleep(200); // A's lock has expired
    const slowB = b.getOrSet('lk', () => sleep(800).then(() => 'from b'), { ttlMs: 60_000, lock: { ttlMs: 5_000 } });
    await sleep(100);
    expect(decodeRecord((await raw.get('t:lk\u001flock'))!)).toMatchObject({ tombstone: false, json: '"i1"' });
    expect(await slowA).toBe('from a'); // A is done and releases what it thinks is its lock
    expect(decodeRecord((await raw.get('t:lk\u001flock'))!)).toMatchObject({ tombstone: false, json: '"i1"' });
    await slowB;
    expect(decodeRecord((await raw.get('t:lk\u001flock'))!)).toMatchObject({ tombstone: true });
  });

  it('serves the last value within its grace period when the factory fails, and fails with a code without one', async () => {
    const { caches: [a] } = await fixture();
    await a.getOrSet('g', () => 'old', { ttlMs: 100, graceMs: 10_000 });
    await sleep(150);
    expect(await a.getOrSet('g', () => Promise.reject(new Error('upstream down')), { ttlMs: 100, graceMs: 10_000 })).toBe('old');
    const err = await a.getOrSet('none', () => Promise.reject(new Error('upstream down')), { ttlMs: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CacheFactoryError);
    expect((err as CacheError).code).toBe('CACHE_FACTORY_FAILED');
    // Stale but the factory works: the new value replaces it.
    expect(await a.getOrSet('g', () => 'new', { ttlMs: 100, graceMs: 10_000 })).toBe('new');
  });

  it('factory timeout: serves the stale value at once and stores the late result; without one fails with CACHE_FACTORY_TIMEOUT', async () => {
    const { caches: [a] } = await fixture();
    await a.getOrSet('t', () => 1, { ttlMs: 50, graceMs: 10_000 });
    await sleep(80);
    let finished = false;
    const slow = async () => {
      await sleep(400);
      finished = true;
      return 2;
    };
    expect(await a.getOrSet('t', slow, { ttlMs: 60_000, graceMs: 10_000, timeoutMs: 100 })).toBe(1);
    expect(finished).toBe(false); // served without waiting for the factory
    await sleep(500);
    expect(await a.get('t')).toBe(2);
    const err = await a.getOrSet('t2', slow, { timeoutMs: 100 }).catch((e: unknown) => e);
    expect((err as CacheError).code).toBe('CACHE_FACTORY_TIMEOUT');
  });

  it('across a Redis SIGKILL: grace serves the last value from memory when the factory fails; a new value is journaled and reaches Redis', async () => {
    const { redis, caches: [a, b] } = await fixture(2);
    await a.getOrSet('k', () => 'before', { ttlMs: 200, graceMs: 60_000 });
    await redis.kill();
    await waitForMode(a, 'fallback');
    await sleep(250);
    expect(await a.getOrSet('k', () => Promise.reject(new Error('no upstream')), { ttlMs: 200, graceMs: 60_000 })).toBe('before');
    expect(await a.getOrSet('k', () => 'during', { ttlMs: 200, graceMs: 60_000 })).toBe('during');
    expect(a.getStatus().journalSize).toBeGreaterThan(0);
    await redis.restart();
    await Promise.all([waitForMode(a, 'redis'), waitForMode(b, 'redis')]);
    expect(await b.get('k')).toBe('during');
  });

  it('rejects bad options with a validation error', async () => {
    const a = await memoryCache();
    await expect(a.getOrSet('x', () => 1, { graceMs: -1 })).rejects.toThrow(CacheValidationError);
    await expect(a.getOrSet('x', () => 1, { ttlMs: 0 })).rejects.toThrow(CacheValidationError);
  });
});

describe('update', () => {
  it('loses no increment among concurrent updaters on two instances (version-conditional write, retried)', async () => {
    const { caches: [a, b] } = await fixture(2);
    const inc = (c: CacheService) => c.update<number>('counter', (n) => (n ?? 0) + 1, { maxAttempts: 200 });
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => inc(i % 2 ? a : b)));
    expect(await a.get('counter')).toBe(40);
    expect(new Set(results.map((r) => r.value)).size).toBe(40);
    expect(results.some((r) => r.attempts > 1)).toBe(true);
  });

  it('fails with CACHE_CONFLICT when another writer changes the key on every attempt', async () => {
    const { caches: [a, b] } = await fixture(2);
    await a.set('c', 0);
    let n = 0;
    const err = await a
      .update<number>(
        'c',
        (v) => {
          void b.set('c', 100 + n++);
          return (v ?? 0) + 1;
        },
        { maxAttempts: 3 },
      )
      .catch((e: unknown) => e);
    // The competing write is issued before ours and lands first (one connection each, Redis serialises).
    expect(err).toBeInstanceOf(CacheConflictError);
    expect((err as CacheConflictError).code).toBe('CACHE_CONFLICT');
    expect((err as CacheConflictError).attempts).toBe(3);
  });

  it('keeps the expiry by default and writes the versioned record to Redis', async () => {
    const { caches: [a], raw } = await fixture();
    const w = await a.set('e', { n: 1 }, { ttlMs: 60_000 });
    const r = await a.update<{ n: number }>('e', (v) => ({ n: v!.n + 1 }));
    expect(r).toMatchObject({ value: { n: 2 }, store: 'redis', attempts: 1 });
    expect(r.version > w.version).toBe(true);
    const rec = decodeRecord((await raw.get('t:e'))!);
    expect(rec).toMatchObject({ version: r.version, json: '{"n":2}' });
    expect(rec!.expiresAt).toBeGreaterThan(Date.now() + 50_000);
  });

  it('across a Redis SIGKILL: applies to what memory holds (journaled, replayed), and refuses a key memory does not hold', async () => {
    const { redis, caches: [a, b] } = await fixture(2);
    await a.set('acct', { cash: 100 });
    await b.set('other', 1);
    await redis.kill();
    await waitForMode(a, 'fallback');
    const r = await a.update<{ cash: number }>('acct', (v) => ({ cash: v!.cash - 30 }));
    expect(r.store).toBe('memory');
    const err = await a.update('unknown-here', () => 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CacheUnavailableError);
    expect((err as CacheError).code).toBe('CACHE_UNAVAILABLE');
    await redis.restart();
    await Promise.all([waitForMode(a, 'redis'), waitForMode(b, 'redis')]);
    expect(await b.get('acct')).toEqual({ cash: 70 });
  });

  it('a write that times out answers CACHE_OUTCOME_UNKNOWN and journals nothing: a concurrent update it never saw survives', async () => {
    const redis = await startRedis();
    onTestFinished(() => redis.stop());
    const proxyA = await startTcpProxy(redis.port);
    onTestFinished(() => proxyA.close());
    const a = await startCache({ url: proxyA.url, instanceId: 'a', reconnect: { baseDelayMs: 20, maxDelayMs: 200 } });
    onTestFinished(() => a.onApplicationShutdown());
    await waitForMode(a, 'redis');
    const v1 = parseVersion((await a.set('bal', { cash: 100 })).version)!;
    await sleep(20); // A's update is versioned well after v1
    const err = await a
      .update<{ cash: number }>('bal', (v) => {
        proxyA.blackhole(); // the version-conditional write is sent and never answered
        return { cash: v!.cash - 30 };
      })
      .catch((e: unknown) => e);
    // Meanwhile another instance's update (older version than A's attempt) lands first.
    const raw = redis.client();
    const other = { version: formatVersion(v1.wall, v1.counter + 1, '0000000b'), expiresAt: null, tombstone: false, json: '{"cash":50}' };
    await raw.set('t:bal', encodeRecord(other));
    proxyA.restore();
    await waitForMode(a, 'redis');
    await vi.waitFor(() => expect(a.getStatus().journalSize).toBe(0), { timeout: 10_000 });
    expect(decodeRecord((await raw.get('t:bal'))!)).toMatchObject({ json: '{"cash":50}' });
    expect(err).toBeInstanceOf(CacheUnavailableError);
    expect((err as CacheError).code).toBe('CACHE_OUTCOME_UNKNOWN');
  });

  it('in memory mode a missing key starts from undefined', async () => {
    const a = await memoryCache();
    expect((await a.update<number>('n', (v) => (v ?? 10) + 1)).value).toBe(11);
    expect(await a.get('n')).toBe(11);
  });
});

describe('namespace, mget, deleteMany, clear', () => {
  it('a namespace has its own key space and clears only its keys', async () => {
    const { caches: [a, b] } = await fixture(2);
    const users = a.namespace('users');
    const orders = a.namespace('orders');
    await users.set('1', 'alice');
    await orders.set('1', 'order-1');
    await a.set('users-not', 'outside');
    expect(await b.get('users:1')).toBe('alice');
    expect(await b.namespace('users').get('1')).toBe('alice');
    expect(await orders.get('1')).toBe('order-1');
    const r = await users.clear();
    expect(r).toEqual({ deleted: 1, complete: true });
    expect(await b.namespace('users').get('1')).toBeUndefined();
    expect(await users.get('1')).toBeUndefined();
    expect(await orders.get('1')).toBe('order-1');
    expect(await a.get('users-not')).toBe('outside');
    expect(() => a.namespace('')).toThrow(CacheValidationError);
    await expect(users.get('')).rejects.toThrow(CacheValidationError);
  });

  it('mget returns values in order (undefined where absent); deleteMany deletes them all', async () => {
    const { caches: [a, b] } = await fixture(2);
    await a.set('m1', 1);
    await a.set('m3', { x: 3 });
    expect(await b.mget(['m1', 'm2', 'm3'])).toEqual([1, undefined, { x: 3 }]);
    const res = await b.deleteMany(['m1', 'm3']);
    expect(res.map((w) => w.store)).toEqual(['redis', 'redis']);
    expect(await a.mget(['m1', 'm3'])).toEqual([undefined, undefined]);
    await expect(a.mget(['ok', ''])).rejects.toThrow(CacheValidationError);
  });

  it('clear deletes thousands of keys this instance never held, with SCAN in bounded steps and never KEYS', async () => {
    const { caches: [a, b], raw } = await fixture(2);
    const ns = b.namespace('bulk');
    for (let i = 0; i < 2_000; i += 200) await Promise.all(Array.from({ length: 200 }, (_, j) => ns.set(String(i + j), i + j)));
    await b.set('keep', 'me');
    await raw.config('RESETSTAT');
    const r = await a.clear('bulk');
    expect(r).toEqual({ deleted: 2_000, complete: true });
    expect(await b.get('bulk:7')).toBeUndefined();
    expect(await a.get('bulk:1999')).toBeUndefined();
    expect(await a.get('keep')).toBe('me');
    const stats = await raw.info('commandstats');
    expect(stats).toMatch(/cmdstat_scan:calls=\d+/);
    expect(stats).not.toMatch(/cmdstat_keys:/);
    // Tombstones, not UNLINK: an older write replayed later cannot bring a key back.
    expect(decodeRecord((await raw.get('t:bulk:5'))!)?.tombstone).toBe(true);
  });

  it('clear while Redis is down deletes what memory holds (journaled) and says it is incomplete', async () => {
    const { redis, caches: [a, b] } = await fixture(2);
    await a.set('ns:1', 1);
    await b.set('ns:2', 2);
    await redis.kill();
    await waitForMode(a, 'fallback');
    expect(await a.clear('ns')).toEqual({ deleted: 1, complete: false });
    expect(await a.get('ns:1')).toBeUndefined();
  });

  it('errors carry codes: CacheValidationError is a CacheError with CACHE_INVALID_INPUT', async () => {
    const a = await memoryCache();
    const err = await a.set('', 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CacheError);
    expect((err as CacheError).code).toBe('CACHE_INVALID_INPUT');
  });
});
