import type { Redis } from 'ioredis';
import { startSentinelTopology, type SentinelTopology } from '../helpers/redis-sentinel.js';
import type { CacheService } from '../../src/cache/cache.service.js';
import type { ModeTransition } from '../../src/cache/core/cache.types.js';
import { decodeRecord } from '../../src/cache/core/cache-codec.js';
import { loadLoop, sleep, startCache, waitForMode } from './cache-harness.js';

const TIMEOUT = 250;
// Scheduling noise on a loaded 2-core machine; the promise under test is the timeout itself.
const MARGIN = 150;
const KEYS = 40;

/**
 * Writes {n} to KEYS keys and reads them back under load, recording per key the newest write
 * issued (its version is taken when set() is called, so the newest issued is the one that must
 * win) and checking that no read returns something older than a write that had already completed.
 */
function writeReadLoad(cache: CacheService, prefix: string, checkStale = true) {
  const lastIssued = new Map<string, number>();
  const lastCompleted = new Map<string, number>();
  const load = loadLoop(async (i) => {
    const key = `${prefix}${Math.floor(i / 2) % KEYS}`;
    if (i % 2 === 0) {
      lastIssued.set(key, i);
      await cache.set(key, { n: i });
      if (i > (lastCompleted.get(key) ?? -1)) lastCompleted.set(key, i);
      return;
    }
    const floor = lastCompleted.get(key) ?? -1;
    const r = await cache.read<{ n: number }>(key);
    if (r.state !== 'hit') throw new Error(`read ${key}: ${r.state} in mode ${cache.mode}`);
    if (checkStale && r.value!.n < floor) throw new Error(`stale read ${key}: ${r.value!.n} < ${floor} (${r.source}, mode ${cache.mode})`);
  }, 8);
  return { load, lastIssued };
}

const maxOf = (values: number[]) => values.reduce((a, b) => Math.max(a, b), 0);

async function storedValue(client: Redis, key: string): Promise<unknown> {
  const raw = await client.get(key);
  const rec = raw === null ? null : decodeRecord(raw);
  return rec && !rec.tombstone ? JSON.parse(rec.json) : undefined;
}

describe('CacheService on Redis Sentinel (master, replica, 3 sentinels)', () => {
  let topo: SentinelTopology;
  let cache: CacheService;
  let nearCache: CacheService;

  beforeAll(async () => {
    topo = await startSentinelTopology();
  });
  afterAll(async () => {
    await nearCache?.onApplicationShutdown();
    await cache?.onApplicationShutdown();
    await topo?.stop();
  });

  it('master killed under write load: rides through in fallback, follows the promoted replica, replays, loses nothing; L1 re-subscribes', async () => {
    const target = { kind: 'sentinel' as const, sentinels: topo.sentinelAddresses, masterName: topo.masterName };
    // `cache` publishes L1 invalidations; `nearCache` is another instance serving reads from L1.
    cache = await startCache({ redis: target, commandTimeoutMs: TIMEOUT, l1: { enabled: false, publish: true } });
    nearCache = await startCache({ redis: target, commandTimeoutMs: TIMEOUT, l1: { enabled: true, heartbeatMs: 200 } });
    await waitForMode(cache, 'redis');
    await waitForMode(nearCache, 'redis');
    await cache.set('l1', 'before');
    await waitUntilTrue(() => nearCache.getStatus().l1.live, 'the L1 subscription');
    // A read racing the invalidation of the write it reads is not kept in L1; the next one is.
    for (let i = 0; i < 5 && nearCache.getStatus().l1.hits === 0; i++) expect(await nearCache.get('l1')).toBe('before');
    expect(nearCache.getStatus().l1.hits).toBeGreaterThan(0);
    const transitions: ModeTransition[] = [];
    cache.transitions$.subscribe((t) => transitions.push(t));
    for (let i = 0; i < KEYS; i++) await cache.set(`s:${i}`, { n: -1 });

    const { load, lastIssued } = writeReadLoad(cache, 's:');
    await sleep(300);
    const oldPort = topo.master.port;
    const killedAt = Date.now();
    await topo.master.kill();
    await waitForMode(cache, 'fallback', 3_000);
    const newMaster = await topo.waitForFailover(oldPort, 20_000);
    await waitForMode(cache, 'redis', 15_000);
    const recoveredAfterMs = Date.now() - killedAt;
    const servedDuringOutage = load.count;
    await sleep(300);
    await load.stop();

    expect(load.failures).toEqual([]);
    expect(maxOf(load.latencies)).toBeLessThan(TIMEOUT + MARGIN);
    expect(newMaster.port).toBe(topo.replica.port);
    expect(transitions.map((t) => t.to)).toEqual(['fallback', 'recovering', 'redis']);
    const status = cache.getStatus();
    expect(status.replayed).toBeGreaterThan(0);
    expect(status.journalSize).toBe(0);

    // Every key's final value in the new master is the last write issued, and so is what the cache serves.
    const promoted = topo.replica.client();
    for (let i = 0; i < KEYS; i++) {
      const key = `s:${i}`;
      const expected = { n: lastIssued.get(key) ?? -1 };
      expect(await storedValue(promoted, `t:${key}`), key).toEqual(expected);
      expect(await cache.get(key), key).toEqual(expected);
    }
    // The near-cache re-subscribed on the new master: a write made after the failover reaches it.
    await waitForMode(nearCache, 'redis', 10_000);
    await waitUntilTrue(() => nearCache.getStatus().l1.live, 'the L1 subscription after the failover');
    await cache.set('l1', 'after');
    await waitUntilTrue(() => nearCache.getStatus().l1.invalidations > 0, 'the invalidation of l1');
    expect(await nearCache.get('l1')).toBe('after');
    console.info(
      `sentinel failover: ${load.count} ops (${servedDuringOutage} before redis mode returned), back in redis mode ${recoveredAfterMs} ms after the kill, ${status.replayed} replayed, slowest op ${maxOf(load.latencies).toFixed(0)} ms`,
    );
  });
});

describe('CacheService on Redis Sentinel: a failover without a crash (old master demoted)', () => {
  let topo: SentinelTopology;
  let cache: CacheService;

  beforeAll(async () => {
    topo = await startSentinelTopology();
  });
  afterAll(async () => {
    await cache?.onApplicationShutdown();
    await topo?.stop();
  });

  it('SENTINEL FAILOVER under load: +switch-master moves the client to the new master at once; bounded, no failures, newest writes win', async () => {
    cache = await startCache({
      redis: { kind: 'sentinel', sentinels: topo.sentinelAddresses, masterName: topo.masterName },
      commandTimeoutMs: TIMEOUT,
    });
    await waitForMode(cache, 'redis');
    for (let i = 0; i < KEYS; i++) await cache.set(`f:${i}`, { n: -1 });
    // Writes the old master acknowledged after the replica was promoted are discarded by Redis
    // when it is demoted (asynchronous replication), so reads may briefly go back in time here;
    // what must hold is that the client follows and the newest writes win.
    const { load, lastIssued } = writeReadLoad(cache, 'f:', false);
    await sleep(300);
    const oldPort = topo.master.port;
    const t0 = Date.now();
    await topo.forceFailover();
    await topo.waitForFailover(oldPort, 20_000);
    const promoted = topo.replica.client();
    await waitUntilWritesReach(cache, promoted);
    // Sentinels demote a live old master only on their next INFO round (~10 s): the client must
    // not wait for that, it follows the +switch-master announcement.
    const followedAfterMs = Date.now() - t0;
    expect(followedAfterMs).toBeLessThan(5_000);
    await sleep(300);
    await load.stop();

    expect(load.failures).toEqual([]);
    expect(maxOf(load.latencies)).toBeLessThan(TIMEOUT + MARGIN);
    expect(cache.mode).toBe('redis');
    expect(cache.getStatus().journalSize).toBe(0);
    for (let i = 0; i < KEYS; i++) {
      const key = `f:${i}`;
      const expected = { n: lastIssued.get(key) ?? -1 };
      expect(await storedValue(promoted, `t:${key}`), key).toEqual(expected);
      expect(await cache.get(key), key).toEqual(expected);
    }
  });
});

async function waitUntilTrue(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

async function waitUntilWritesReach(cache: CacheService, target: Redis, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; Date.now() < deadline; i++) {
    const w = await cache.set('probe', i);
    if (w.store === 'redis' && cache.mode === 'redis' && (await storedValue(target, 't:probe')) === i) return;
    await sleep(50);
  }
  throw new Error(`writes did not reach the new master within ${timeoutMs} ms (mode ${cache.mode})`);
}
