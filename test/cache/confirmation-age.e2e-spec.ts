import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { waitForMode } from './cache-harness.js';
import { FAST, silenceCacheLogs, useCache, useRedis } from './fixtures.js';

/**
 * `ReadResult.confirmedAgoMs`: a copy served from memory while Redis cannot be asked says how long
 * ago it was last known to be the newest, so a caller (the token store) bounds how long it acts on it
 * without keeping its own record of confirmations.
 */
describe('confirmation age of a fallback read (real redis-server)', () => {
  silenceCacheLogs([]);

  it('counts from the last Redis answer; a write made in the outage counts from the write; a vouched read has none', async () => {
    const redis = await useRedis();
    const cache = await useCache({ port: redis.port, instanceId: 'a', ...FAST });
    await waitForMode(cache, 'redis');
    await cache.set('read-in-time', 1);
    await cache.set('never-read', 2);
    await cache.set('updated', { n: 1 });
    await new Promise((r) => setTimeout(r, 400));
    // A conditional write Redis took (update) and a granted claim count as confirmations too.
    await cache.update<{ n: number }>('updated', (cur) => ({ n: (cur?.n ?? 0) + 1 }), { requireRedis: true });
    expect((await cache.setIfAbsent('claimed', 'mine')).state).toBe('claimed');
    const vouched = await cache.read('read-in-time');
    expect(vouched).toMatchObject({ state: 'hit', source: 'redis', value: 1 });
    expect(vouched.fallback).toBeUndefined();
    expect(vouched.confirmedAgoMs).toBeUndefined();

    await redis.kill();
    await waitForMode(cache, 'fallback');
    await cache.set('written-in-outage', 3);
    await new Promise((r) => setTimeout(r, 300));
    const [read, acked, own] = await Promise.all([cache.read('read-in-time'), cache.read('never-read'), cache.read('written-in-outage')]);
    expect(read).toMatchObject({ state: 'hit', value: 1, fallback: true });
    expect(acked).toMatchObject({ state: 'hit', value: 2, fallback: true });
    expect(own).toMatchObject({ state: 'hit', value: 3, fallback: true });
    // Acknowledged by Redis ~400 ms before the vouched read of the other key: older by about that much
    // (timers may fire a millisecond early, hence the margins below the sleeps).
    expect(acked.confirmedAgoMs! - read.confirmedAgoMs!).toBeGreaterThanOrEqual(300);
    expect(read.confirmedAgoMs!).toBeGreaterThanOrEqual(250);
    expect(own.confirmedAgoMs!).toBeGreaterThanOrEqual(250);
    expect(own.confirmedAgoMs!).toBeLessThan(read.confirmedAgoMs!);
    const [updated, claimed] = await Promise.all([cache.read('updated'), cache.read('claimed')]);
    expect(updated).toMatchObject({ state: 'hit', value: { n: 2 }, fallback: true });
    expect(claimed).toMatchObject({ state: 'hit', value: 'mine', fallback: true });
    for (const r of [updated, claimed]) {
      expect(r.confirmedAgoMs).toBeGreaterThanOrEqual(250);
      expect(r.confirmedAgoMs!).toBeLessThan(acked.confirmedAgoMs!);
    }
  });

  it('a copy loaded from the snapshot file at start-up was never confirmed: no age', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'confirmation-age-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const snapshot = { path: join(dir, 'snap'), key: randomBytes(32).toString('base64'), debounceMs: 0 };
    const first = await useCache({ redis: null, snapshot, instanceId: 'a' });
    await first.set('k', 'kept');
    await first.onApplicationShutdown();

    const redis = await useRedis();
    await redis.kill();
    const second = await useCache({ port: redis.port, snapshot, instanceId: 'a', ...FAST, connectTimeoutMs: 300 });
    const r = await second.read('k');
    expect(r).toMatchObject({ state: 'hit', value: 'kept', source: 'memory', fallback: true });
    expect(r.confirmedAgoMs).toBeUndefined();
  });
});
