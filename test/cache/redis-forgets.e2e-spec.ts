import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import type { CacheService } from '../../src/cache/cache.service.js';
import { decodeRecord } from '../../src/cache/core/cache-codec.js';
import { waitForMode } from './cache-harness.js';
import { eventually, FAST, silenceCacheLogs, useCache, useProxy, useRedis } from './fixtures.js';

/**
 * Redis that comes back older than the fleet (a restart from its last RDB save, a lagging
 * failover) or empty: nothing acknowledged is lost, no claim is granted twice, no read goes back
 * in time, and claims are granted again as soon as every live replica has re-seeded.
 */

const settled = (svc: CacheService) =>
  eventually(`settled ${svc.getStatus().instanceId}`, () => {
    const s = svc.getStatus();
    return s.mode === 'redis' && s.journalSize === 0 && !s.reseeding && !s.reseedWindowOpen;
  });

/** A Redis whose working dir survives a kill, so a restart loads its last `SAVE`. */
async function useRdbRedis() {
  const dir = mkdtempSync(join(tmpdir(), 'forgets-rdb-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return useRedis({ dir });
}

describe('Redis that forgets (real redis-server)', () => {
  const errors: string[] = [];
  silenceCacheLogs(errors);

  it('restarted from an older RDB save: a claim made after the save is not granted again, a newer value and a delete are not undone', async () => {
    const redis = await useRdbRedis();
    const a = await useCache({ port: redis.port, instanceId: 'a', ...FAST });
    const b = await useCache({ port: redis.port, instanceId: 'b', ...FAST });
    await Promise.all([waitForMode(a, 'redis'), waitForMode(b, 'redis')]);
    await a.set('token', 'v1');
    await a.set('gone', 'still here at the save');
    await redis.client().save();
    // Acknowledged after the save: a newer value B has read, a claim, a delete.
    await a.set('token', 'v2');
    expect(await b.get('token')).toBe('v2');
    expect((await a.setIfAbsent('signal:1', { owner: 'a' })).state).toBe('claimed');
    await b.delete('gone');

    await redis.kill();
    await redis.restart();
    const client = redis.client();
    await Promise.all([settled(a), settled(b)]);

    expect(await b.setIfAbsent('signal:1', { owner: 'b' })).toMatchObject({ state: 'exists', value: { owner: 'a' } });
    expect(await b.get('token')).toBe('v2');
    expect(await b.read('gone')).toMatchObject({ state: 'miss' });
    expect(decodeRecord((await client.get('t:token'))!)?.json).toBe('"v2"');
    expect(decodeRecord((await client.get('t:gone'))!)?.tombstone).toBe(true);
    expect(a.getStatus().emptyRedisDetections + b.getStatus().emptyRedisDetections).toBeGreaterThanOrEqual(1);
  });

  it('a read never goes backwards: Redis answering an older version (or none) gets the newer copy back', async () => {
    const redis = await useRedis();
    const a = await useCache({ port: redis.port, instanceId: 'a', ...FAST });
    await waitForMode(a, 'redis');
    const client = redis.client();
    await a.set('k', 'old');
    const older = await client.get('t:k');
    await a.set('k', 'new');
    await client.set('t:k', older!); // as a lagging replica would hold it
    expect(await a.read('k')).toMatchObject({ state: 'hit', value: 'new', fallback: true });
    await eventually('written back', async () => decodeRecord((await client.get('t:k'))!)?.json === '"new"');

    await client.del('t:k'); // lost, as after an empty restart nobody noticed yet
    expect(await a.read('k')).toMatchObject({ state: 'hit', value: 'new' });
    await eventually('written back again', async () => (await client.get('t:k')) !== null);
    expect(a.getStatus().rewoundReads).toBe(2);

    // A copy Redis may simply have expired a moment before this instance's clock says so is not written back.
    await a.set('brief', 'x', { ttlMs: 500 });
    await client.del('t:brief');
    expect(await a.read('brief')).toMatchObject({ state: 'miss' });
    expect(a.getStatus().rewoundReads).toBe(2);
  });

  it('after an empty restart, claims are granted again once every live replica has re-seeded, not after the full window', async () => {
    const redis = await useRedis();
    const slow = { ...FAST, reseedWindowMs: 20_000 };
    const a = await useCache({ port: redis.port, instanceId: 'a', ...slow });
    const b = await useCache({ port: redis.port, instanceId: 'b', ...slow });
    await Promise.all([waitForMode(a, 'redis'), waitForMode(b, 'redis')]);
    expect(a.getStatus().fleetMembers).toBe(2);
    expect((await a.setIfAbsent('signal:before', 1)).state).toBe('claimed');
    await redis.kill();
    await redis.restart();
    const back = performance.now();
    let granted = false;
    while (!granted && performance.now() - back < 10_000) {
      const r = await b.setIfAbsent(`signal:after:${Math.round(performance.now())}`, 1);
      granted = r.state === 'claimed';
      if (!granted) await new Promise((r2) => setTimeout(r2, 50));
    }
    // Well within the 20 s window: the fleet closed it as soon as both had re-seeded.
    expect(granted).toBe(true);
    expect(await b.setIfAbsent('signal:before', 2)).toMatchObject({ state: 'exists', value: 1 });
  });

  it('while a replica that may hold a claim has not re-seeded, the window stays open and reads from Redis are not the fleet word', async () => {
    const redis = await useRedis();
    const proxyA = await useProxy(redis.port);
    const opts = { ...FAST, reseedWindowMs: 3_000 };
    const a = await useCache({ url: proxyA.url, instanceId: 'a', ...opts });
    const b = await useCache({ port: redis.port, instanceId: 'b', ...opts });
    await Promise.all([waitForMode(a, 'redis'), waitForMode(b, 'redis')]);
    await b.set('token', 'b-holds-it');
    proxyA.cut();
    await waitForMode(a, 'fallback');
    await redis.kill();
    await redis.restart();
    await eventually('B re-seeded', () => b.getStatus().mode === 'redis' && !b.getStatus().reseeding && b.getStatus().reseeded > 0);
    // B's own copy, read back from the Redis B re-seeded while A (alive, cut off) has not: an echo.
    expect(b.getStatus().reseedWindowOpen).toBe(true);
    expect(await b.read('token')).toMatchObject({ value: 'b-holds-it', fallback: true });
    // A miss is no more the fleet's word: A may hold what B never saw (a token revoke must not answer "missing").
    expect(await b.read('only-a-may-know')).toEqual({ state: 'miss', source: 'redis', fallback: true });
    expect(await b.setIfAbsent('signal:new', 1)).toMatchObject({ state: 'unknown', reason: 'reseeding' });
    proxyA.restore();
    await settled(a);
    await settled(b);
    expect(await b.read('token')).not.toHaveProperty('fallback');
    expect((await b.setIfAbsent('signal:new', 1)).state).toBe('claimed');
  });

  it('get follows the read rules of read: no L1 answer while a re-seed window is open, L1 again once it closes', async () => {
    const redis = await useRedis();
    const proxyA = await useProxy(redis.port);
    const opts = { ...FAST, reseedWindowMs: 3_000 };
    const a = await useCache({ url: proxyA.url, instanceId: 'a', ...opts });
    const b = await useCache({ port: redis.port, instanceId: 'b', ...opts, l1: { enabled: true, heartbeatMs: 200 } });
    await Promise.all([waitForMode(a, 'redis'), waitForMode(b, 'redis')]);
    await b.set('token', 'b-holds-it');
    proxyA.cut();
    await waitForMode(a, 'fallback');
    await redis.kill();
    await redis.restart();
    await eventually('B re-seeded, its L1 live', () => b.getStatus().mode === 'redis' && !b.getStatus().reseeding && b.getStatus().reseeded > 0 && b.getStatus().l1.live);
    expect(b.getStatus().reseedWindowOpen).toBe(true);
    // Read from Redis (not the fleet's word yet), and kept in L1 as what Redis holds.
    expect(await b.read('token')).toMatchObject({ value: 'b-holds-it', fallback: true });
    const hits = b.getStatus().l1.hits;
    expect(await b.get('token')).toBe('b-holds-it');
    expect(b.getStatus().l1.hits).toBe(hits);
    proxyA.restore();
    await settled(a);
    await settled(b);
    await b.read('token');
    expect(await b.get('token')).toBe('b-holds-it');
    expect(b.getStatus().l1.hits).toBeGreaterThan(hits);
  });

  it('after a 2 s SIGSTOP, Redis is used again as soon as it answers, not after the probe backoff', async () => {
    const redis = await useRedis();
    const a = await useCache({ port: redis.port, instanceId: 'a', ...FAST, breaker: { failureThreshold: 1, halfOpenAfterMs: 20_000, halfOpenAfterMaxMs: 20_000 } });
    await waitForMode(a, 'redis');
    redis.pause();
    await Promise.all([a.get('k1'), a.get('k2')]); // time out (or fall silent): the breaker opens
    await waitForMode(a, 'fallback');
    await new Promise((r) => setTimeout(r, 2_000));
    redis.resume();
    const resumed = performance.now();
    await waitForMode(a, 'redis');
    // The late answers to what was sent before the stop say Redis is back: probed at once.
    expect(performance.now() - resumed).toBeLessThan(3_000);
    expect((await a.setIfAbsent('signal:after-stop', 1)).state).toBe('claimed');
  });

  it('a newcomer is on every member’s roll call before it leaves fallback (and may hold a claim)', async () => {
    const redis = await useRedis();
    const a = await useCache({ port: redis.port, instanceId: 'a', ...FAST });
    await waitForMode(a, 'redis');
    const b = await useCache({ port: redis.port, instanceId: 'b', ...FAST });
    await waitForMode(b, 'redis');
    expect(a.getStatus().fleetMembers).toBe(2);
    // A clean shutdown leaves the roll call: marked, so an older copy of Redis learns it too.
    await b.onApplicationShutdown();
    const fleet = await redis.client().hgetall('t:\x1ffleet');
    expect(fleet.b).toMatch(/^\d+\|left\|/);
  });
});
