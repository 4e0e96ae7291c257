import { Cluster } from 'ioredis';
import type { RedisCluster } from '../helpers/redis-cluster.js';
import type { RedisProcess } from '../helpers/redis-server.js';
import type { CacheService } from '../../src/cache/cache.service.js';
import { decodeRecord } from '../../src/cache/core/cache-codec.js';
import { loadLoop, sleep } from './cache-harness.js';

/** What the Cluster fault tests (cluster.e2e-spec.ts, cluster-breaker.e2e-spec.ts) share. */
export interface KeyStats {
  latencies: number[];
  fromRedis: number;
  fromMemory: number;
}

export function newStats(): KeyStats {
  return { latencies: [], fromRedis: 0, fromMemory: 0 };
}

/**
 * Alternating write and read per key, with per-key statistics split by "victim" (keys whose
 * master is killed or paused) and "others", and the newest write issued per key (it must be the
 * one that wins). A read older than the last completed write of its key fails the load.
 */
export function clusterLoad(cache: CacheService, keys: string[], isVictim: (key: string) => boolean) {
  const lastIssued = new Map<string, number>();
  const lastCompleted = new Map<string, number>();
  const stats = { victim: newStats(), others: newStats() };
  let recording = false;
  const load = loadLoop(async (i) => {
    const key = keys[Math.floor(i / 2) % keys.length];
    const s = isVictim(key) ? stats.victim : stats.others;
    const t0 = performance.now();
    let fromRedis: boolean;
    if (i % 2 === 0) {
      lastIssued.set(key, i);
      const w = await cache.set(key, { n: i });
      if (i > (lastCompleted.get(key) ?? -1)) lastCompleted.set(key, i);
      fromRedis = w.store === 'redis';
    } else {
      const floor = lastCompleted.get(key) ?? -1;
      const r = await cache.read<{ n: number }>(key);
      if (r.state !== 'hit') throw new Error(`read ${key}: ${r.state}`);
      if (r.value!.n < floor) throw new Error(`stale read ${key}: ${r.value!.n} < ${floor} (${r.source})`);
      fromRedis = r.source === 'redis';
    }
    if (!recording) return;
    s.latencies.push(performance.now() - t0);
    if (fromRedis) s.fromRedis++;
    else s.fromMemory++;
  }, 8);
  return {
    load,
    lastIssued,
    stats,
    /** Statistics from now on only. */
    record() {
      stats.victim = newStats();
      stats.others = newStats();
      recording = true;
    },
    pause() {
      recording = false;
    },
  };
}

/** `count` keys `<prefix><i>` whose slot `node` serves (`keyPrefix` is the cache's). */
export async function keysOn(cluster: RedisCluster, node: RedisProcess, count: number, prefix: string, keyPrefix: string): Promise<string[]> {
  const found: string[] = [];
  for (let i = 0; found.length < count; i++) {
    const key = `${prefix}${i}`;
    if ((await cluster.nodeForKey(keyPrefix + key)).port === node.port) found.push(key);
  }
  return found;
}

/** The value Redis holds for a full key, decoded (undefined when absent or a tombstone). */
export async function storedValue(client: Cluster, key: string): Promise<unknown> {
  const raw = await client.get(key);
  const rec = raw === null ? null : decodeRecord(raw);
  return rec && !rec.tombstone ? JSON.parse(rec.json) : undefined;
}

export async function waitFor(what: string, timeoutMs: number, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** A Cluster client of the test's own, to read what Redis holds. */
export function plainClient(cluster: RedisCluster): Cluster {
  const c = new Cluster(cluster.seeds, { redisOptions: { commandTimeout: 2_000 } });
  c.on('error', () => undefined);
  return c;
}
