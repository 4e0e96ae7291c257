import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { vi } from 'vitest';
import type { Redis } from 'ioredis';
import { CacheService } from '../../src/cache/cache.service.js';
import { CacheValidationError } from '../../src/cache/core/cache.errors.js';
import type { CacheModuleOptions } from '../../src/cache/core/cache.options.js';
import { startRedis, type RedisProcess } from '../helpers/redis-server.js';
import { waitUntil } from '../helpers/wait.js';
import { startCache, waitForMode } from './cache-harness.js';

const TIMEOUT = 250;
// Scheduling noise on a loaded 2-core machine; the promise under test is the timeout itself.
const MARGIN = 250;
const FAST = { commandTimeoutMs: TIMEOUT, reconnect: { baseDelayMs: 20, maxDelayMs: 200 }, breaker: { failureThreshold: 2, halfOpenAfterMs: 100 } };
const LIMITS = { maxEntries: 1_000, maxAgeMs: 3_600_000 };
const logKey = (key: string) => `t:\x1flog:${key}`;

/** A Redis of its own, a raw client to it, and `caches(n)` replicas on it; all stopped when the test ends. */
async function fixture(extra: Partial<CacheModuleOptions> = {}) {
  const redis: RedisProcess = await startRedis();
  onTestFinished(() => redis.stop());
  const client: Redis = redis.client();
  const replica = async (id: string, more: Partial<CacheModuleOptions> = {}) => {
    const cache = await startCache({ port: redis.port, instanceId: id, ...FAST, ...extra, ...more });
    onTestFinished(() => cache.onApplicationShutdown());
    await waitForMode(cache, 'redis');
    return cache;
  };
  return { redis, client, replica };
}

async function settled(cache: CacheService): Promise<void> {
  await waitUntil(Date.now() + 15_000, 'replica settled', async () => {
    const s = cache.getStatus();
    return s.mode === 'redis' && s.journalSize === 0 && !s.reseeding;
  });
}

const values = async (cache: CacheService, key: string, order: 'newest-first' | 'oldest-first' = 'oldest-first') =>
  (await cache.readLog<string>(key, { order })).entries.map((e) => e.value);

beforeAll(() => {
  vi.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
});
afterAll(() => vi.restoreAllMocks());

describe('Append logs (real redis-server)', () => {
  it('reads newest-first or oldest-first, sliced, each entry with its version', async () => {
    const { replica } = await fixture();
    const a = await replica('ra');
    for (let i = 0; i < 5; i++) await a.appendLog('l', `e${i}`, LIMITS);
    expect(await values(a, 'l')).toEqual(['e0', 'e1', 'e2', 'e3', 'e4']);
    const newest = await a.readLog<string>('l', { order: 'newest-first', limit: 2 });
    expect(newest).toMatchObject({ state: 'hit', source: 'redis', complete: true });
    expect(newest.entries.map((e) => e.value)).toEqual(['e4', 'e3']);
    expect(newest.entries[0].version > newest.entries[1].version).toBe(true);
    expect(await a.readLog('never-written')).toMatchObject({ state: 'miss', source: 'redis', entries: [], complete: true });
  });

  it('an append made after reading the log orders after what was read, even from a replica whose clock runs 30 s behind', async () => {
    const { replica } = await fixture();
    const ahead = await replica('ra', { clock: () => Date.now() + 30_000 });
    const behind = await replica('rb');
    await ahead.appendLog('l', 'first', LIMITS);
    expect(await values(behind, 'l')).toEqual(['first']);
    await behind.appendLog('l', 'second', LIMITS);
    expect(await values(behind, 'l')).toEqual(['first', 'second']);
  });

  it('a log and a plain value of the same name never meet (no WRONGTYPE)', async () => {
    const { replica } = await fixture();
    const a = await replica('ra');
    await a.set('same', { v: 1 });
    await a.appendLog('same', 'entry', LIMITS);
    expect(await a.get('same')).toEqual({ v: 1 });
    expect(await values(a, 'same')).toEqual(['entry']);
  });

  it('bounded by count: the oldest are trimmed on append, in Redis and in memory', async () => {
    const { replica, client } = await fixture();
    const a = await replica('ra');
    for (let i = 0; i < 8; i++) await a.appendLog('l', `e${i}`, { maxEntries: 5 });
    expect(await client.zcard(logKey('l'))).toBe(5);
    expect(await values(a, 'l')).toEqual(['e3', 'e4', 'e5', 'e6', 'e7']);
    expect(await client.pttl(logKey('l'))).toBe(-1);
  });

  it('bounded by age: entries older than maxAgeMs are trimmed on append and left out of reads; the key expires when idle', async () => {
    let now = Date.now();
    const { replica, client } = await fixture({ clock: () => now, monotonicClock: () => now });
    const a = await replica('ra');
    const limits = { maxEntries: 100, maxAgeMs: 60_000 };
    for (let i = 0; i < 3; i++) await a.appendLog('l', `old${i}`, limits);
    now += 30_000;
    await a.appendLog('l', 'mid', limits);
    now += 40_000;
    // Nothing appended since the first three aged out: reads leave them out anyway.
    expect(await values(a, 'l')).toEqual(['mid']);
    expect(await client.zcard(logKey('l'))).toBe(4);
    await a.appendLog('l', 'new', limits);
    expect(await client.zcard(logKey('l'))).toBe(2);
    expect(await values(a, 'l')).toEqual(['mid', 'new']);
    const ttl = await client.pttl(logKey('l'));
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('a Redis restarted empty is re-seeded with the union of what the replicas hold', async () => {
    const { redis, client, replica } = await fixture();
    const a = await replica('ra');
    const b = await replica('rb');
    const c = await replica('rc');
    for (let i = 0; i < 20; i++) {
      await a.appendLog('l', `A-${i}`, LIMITS);
      await b.appendLog('l', `B-${i}`, LIMITS);
    }
    await c.appendLog('l', 'C-0', LIMITS);
    // A read the whole log once; B and C then leave the fleet: their entries come back from A's copy.
    expect(await values(a, 'l')).toHaveLength(41);
    await c.onApplicationShutdown();
    await b.onApplicationShutdown();
    await redis.kill();
    await waitForMode(a, 'fallback');
    await a.appendLog('l', 'A-outage', LIMITS);
    await redis.restart();
    await settled(a);
    expect(await client.zcard(logKey('l'))).toBe(42);
    const all = await values(a, 'l');
    expect([...all].sort()).toEqual(
      [...Array.from({ length: 20 }, (_, i) => [`A-${i}`, `B-${i}`]).flat(), 'C-0', 'A-outage'].sort(),
    );
    expect(all.filter((v) => v.startsWith('A-'))).toEqual([...Array.from({ length: 20 }, (_, i) => `A-${i}`), 'A-outage']);
    expect(a.getLogStatus().reseeded).toBeGreaterThanOrEqual(40);
  });

  it('while Redis is paused: reads answer from memory within the command timeout (complete: false), an unknown log is unavailable, appends are journaled and merged once', async () => {
    const { redis, client, replica } = await fixture();
    const a = await replica('ra');
    await a.appendLog('known', 'before', LIMITS);
    redis.pause();
    onTestFinished(() => redis.resume());
    const t0 = performance.now();
    const during = await a.appendLog('known', 'during', LIMITS);
    const read = await a.readLog<string>('known');
    const unknown = await a.readLog('unknown');
    expect(performance.now() - t0).toBeLessThan(3 * TIMEOUT + MARGIN);
    expect(during.journaled).toBe(true);
    expect(read).toMatchObject({ state: 'hit', source: 'memory', complete: false });
    expect(read.entries.map((e) => e.value)).toEqual(['during', 'before']);
    expect(unknown).toMatchObject({ state: 'unavailable', source: 'none', entries: [], complete: false });
    redis.resume();
    await settled(a);
    expect(await client.zrange(logKey('known'), '0', '-1')).toHaveLength(2);
    expect(await values(a, 'known')).toEqual(['before', 'during']);
  });

  it('an instance restarted during an outage brings its unconfirmed appends back from the snapshot file', async () => {
    const { redis, client, replica } = await fixture();
    const dir = mkdtempSync(join(tmpdir(), 'applog-snap-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const snapshot = { path: join(dir, 'cache.snap'), key: randomBytes(32).toString('base64'), debounceMs: 20 };
    const first = await replica('one', { snapshot });
    await first.appendLog('l', 'before', LIMITS);
    await redis.kill();
    await waitForMode(first, 'fallback');
    for (let i = 0; i < 5; i++) expect((await first.appendLog('l', `outage-${i}`, LIMITS)).journaled).toBe(true);
    await first.onApplicationShutdown();
    const second = await startCache({ port: redis.port, instanceId: 'two', snapshot, ...FAST });
    onTestFinished(() => second.onApplicationShutdown());
    expect(second.getStatus().journalSize).toBe(5);
    // A Redis back empty gets both: the confirmed entry from the copy, the unconfirmed from the journal.
    await redis.restart();
    await settled(second);
    expect(await client.zcard(logKey('l'))).toBe(6);
    expect(await values(second, 'l')).toEqual(['before', ...Array.from({ length: 5 }, (_, i) => `outage-${i}`)]);
  });

  it('an append Redis refuses for good (NOPERM) is quarantined: counted, dropped from the journal, and the cache does not stay in recovery', async () => {
    const redis = await startRedis({ aclUsers: ['app on >app-pass ~* &* +@all -zadd', 'default off'] });
    onTestFinished(() => redis.stop());
    const cache = await startCache({ redis: { kind: 'standalone', host: '127.0.0.1', port: redis.port, username: 'app', password: 'app-pass' }, ...FAST });
    onTestFinished(() => cache.onApplicationShutdown());
    await waitForMode(cache, 'redis');
    expect((await cache.appendLog('l', 'refused', LIMITS)).journaled).toBe(true);
    await waitUntil(Date.now() + 10_000, 'the refused append quarantined', async () => cache.getLogStatus().quarantined === 1);
    await settled(cache);
    expect(cache.mode).toBe('redis');
    const read = await cache.readLog('l');
    expect(read).toMatchObject({ state: 'miss', source: 'redis' });
  });

  it('without Redis (memory mode) a log is authoritative: miss, then hit', async () => {
    const cache = new CacheService({ redis: null, keyPrefix: 't:' });
    await cache.onModuleInit();
    onTestFinished(() => cache.onApplicationShutdown());
    expect(await cache.readLog('l')).toMatchObject({ state: 'miss', complete: true });
    await cache.appendLog('l', 1, LIMITS);
    expect(await cache.readLog('l')).toMatchObject({ state: 'hit', source: 'memory', complete: true, entries: [{ value: 1 }] });
  });

  it('rejects bad limits, keys and values with a validation error', async () => {
    const cache = new CacheService({ redis: null, keyPrefix: 't:' });
    onTestFinished(() => cache.onApplicationShutdown());
    await expect(cache.appendLog('l', 1, { maxEntries: 0 })).rejects.toBeInstanceOf(CacheValidationError);
    await expect(cache.appendLog('l', 1, { maxEntries: 10, maxAgeMs: -1 })).rejects.toBeInstanceOf(CacheValidationError);
    await expect(cache.appendLog('bad\u0000key', 1, LIMITS)).rejects.toBeInstanceOf(CacheValidationError);
    await expect(cache.appendLog('l', undefined, LIMITS)).rejects.toBeInstanceOf(CacheValidationError);
  });
});
