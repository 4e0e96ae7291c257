import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { HybridLogicalClock } from '../../src/cache/core/hlc.js';
import { SnapshotFile } from '../../src/cache/local/snapshot-store.js';
import type { StoredRecord } from '../../src/cache/core/cache-codec.js';
import { CacheValidationError } from '../../src/cache/core/cache.errors.js';
import { decodeRecord } from '../../src/cache/core/cache-codec.js';
import { waitForMode } from './cache-harness.js';
import { FAST, eventually, silenceCacheLogs, useCache, useProxy, useRedis } from './fixtures.js';

describe('A journal entry Redis rejects for good does not keep the cache recovering (real redis-server)', () => {
  const errors: string[] = [];
  silenceCacheLogs(errors);

  it('an expiry Redis cannot store is refused at the API, in redis mode and during an outage', async () => {
    const redis = await useRedis();
    const proxy = await useProxy(redis.port);
    const cache = await useCache({ url: proxy.url, ...FAST });
    await waitForMode(cache, 'redis');
    await expect(cache.set('huge', 1, { ttlMs: 1e19 })).rejects.toThrow(CacheValidationError);
    await expect(cache.set('huge', 1, { expiresAt: 1e19 })).rejects.toThrow(/expiresAt is too large/);
    proxy.cut();
    await waitForMode(cache, 'fallback');
    await expect(cache.set('huge', 1, { ttlMs: 1e19 })).rejects.toThrow(/ttlMs is too large/);
    await expect(cache.setIfAbsent('huge', 1, { ttlMs: 1e19 })).rejects.toThrow(CacheValidationError);
    expect(cache.getStatus().journalSize).toBe(0);
  });

  it('a WRONGTYPE entry is quarantined: the other writes replay, the mode returns to redis, status counts it, one log line', async () => {
    const redis = await useRedis();
    const proxy = await useProxy(redis.port);
    const cache = await useCache({ url: proxy.url, ...FAST });
    const client = redis.client();
    await waitForMode(cache, 'redis');
    proxy.cut();
    await waitForMode(cache, 'fallback');
    for (let i = 0; i < 10; i++) expect((await cache.set(`ok:${i}`, i)).journaled).toBe(true);
    expect((await cache.set('poison', 'v')).journaled).toBe(true);
    await client.lpush('t:poison', 'someone else wrote a list here');
    proxy.restore();
    await waitForMode(cache, 'redis');
    await eventually('journal empty', () => cache.getStatus().journalSize === 0);
    const raws = await client.mget(...Array.from({ length: 10 }, (_, i) => `t:ok:${i}`));
    expect(raws.map((r) => decodeRecord(r ?? '')?.json)).toEqual(Array.from({ length: 10 }, (_, i) => String(i)));
    expect(cache.getStatus()).toMatchObject({ mode: 'redis', replayQuarantined: 1, journalSize: 0 });
    expect(await client.type('t:poison')).toBe('list');
    expect(errors.filter((e) => e.includes('t:poison') && /quarantined/.test(e))).toHaveLength(1);
  });

  it('an expiry Redis refuses, in a journal from an older snapshot, is quarantined without taking its replay batch down', async () => {
    const redis = await useRedis();
    const dir = mkdtempSync(join(tmpdir(), 'quarantine-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const key = randomBytes(32);
    const path = join(dir, 'cache.snap');
    // Written by a version that accepted any finite ttlMs: 100 good journaled writes and one Redis refuses.
    const clock = new HybridLogicalClock('old');
    const journal: [string, StoredRecord][] = Array.from({ length: 100 }, (_, i) => [`t:ok:${i}`, { version: clock.next(), expiresAt: null, tombstone: false, json: String(i) }]);
    journal.splice(50, 0, ['t:huge', { version: clock.next(), expiresAt: 1e19, tombstone: false, json: '"v"' }]);
    await new SnapshotFile(path, key, 't:').save(null, journal, journal, Date.now());
    const cache = await useCache({ port: redis.port, snapshot: { path, key }, ...FAST });
    await waitForMode(cache, 'redis');
    await eventually('journal empty', () => cache.getStatus().journalSize === 0);
    const client = redis.client();
    const raws = await client.mget(...Array.from({ length: 100 }, (_, i) => `t:ok:${i}`));
    expect(raws.map((r) => decodeRecord(r ?? '')?.json)).toEqual(Array.from({ length: 100 }, (_, i) => String(i)));
    expect(cache.getStatus()).toMatchObject({ mode: 'redis', replayQuarantined: 1 });
    expect(await client.exists('t:huge')).toBe(0);
    expect(await cache.read('huge')).toMatchObject({ state: 'miss' });
  });
});
