import { startCluster, type RedisCluster } from '../helpers/redis-cluster.js';
import type { RedisProcess } from '../helpers/redis-server.js';
import type { CacheService } from '../../src/cache/cache.service.js';
import type { ModeTransition } from '../../src/cache/core/cache.types.js';
import { maxOf, sleep, startCache, waitForMode } from './cache-harness.js';
import { clusterLoad, keysOn, plainClient, storedValue, waitFor } from './cluster-load.js';

const TIMEOUT = 250;
// Scheduling noise on a loaded 2-core machine; the promise under test is the timeout itself.
const MARGIN = 150;
const KEYS = 60;
const PREFIX = 't:';
// Without this a cluster refuses every key, on every node, while one slot range has no master.
const PARTIAL_COVERAGE = ['--cluster-require-full-coverage', 'no'];

async function keysByMaster(cluster: RedisCluster, count: number): Promise<Map<number, string[]>> {
  const byPort = new Map<number, string[]>();
  for (let i = 0; i < count; i++) {
    const key = `c:${i}`;
    const node = await cluster.nodeForKey(PREFIX + key);
    byPort.set(node.port, [...(byPort.get(node.port) ?? []), key]);
  }
  return byPort;
}

/**
 * The node a (single) L1 subscriber connection is on; only the near-cache instance subscribes.
 * Killed nodes are skipped and each probe is bounded: a default ioredis client queues a command
 * to a dead port and retries forever, so asking the killed node hung the test past its timeout.
 */
async function nodeWithSubscriber(cluster: RedisCluster): Promise<RedisProcess> {
  for (const node of cluster.nodes.filter((n) => n.running && !n.paused)) {
    const probe = node.client({ maxRetriesPerRequest: 0, enableOfflineQueue: true, connectTimeout: 1_000, commandTimeout: 1_000, retryStrategy: () => null });
    try {
      const clients = String(await probe.call('CLIENT', 'LIST'));
      if (/ sub=1 /.test(clients)) return node;
    } finally {
      probe.disconnect();
    }
  }
  throw new Error('no running node has a subscriber connection');
}

interface Scenario {
  cluster: RedisCluster;
  cache: CacheService;
  /** What brings the victim's slots back: a replica's promotion, or the node's restart. */
  bringBack(victim: RedisProcess): Promise<void>;
}

/**
 * Kill one master under load; check its slots fall back while the others stay on Redis, bring the
 * slots back, and check every journaled write (including keys written only during the outage)
 * lands, with the mode never leaving `redis`.
 */
async function killOneMaster({ cluster, cache, bringBack }: Scenario) {
  await waitForMode(cache, 'redis');
  const transitions: ModeTransition[] = [];
  cache.transitions$.subscribe((t) => transitions.push(t));

  const byMaster = await keysByMaster(cluster, KEYS);
  expect([...byMaster.keys()].sort()).toEqual(cluster.masters.map((m) => m.port).sort());
  const victim = cluster.masters[0];
  const victimKeys = new Set(byMaster.get(victim.port));
  const keys = [...byMaster.values()].flat();
  for (const k of keys) await cache.set(k, { n: -1 });

  // Written once, during the outage, on the dead master's slots: only the journal can bring them.
  const outageOnly = await keysOn(cluster, victim, 10, 'once-', PREFIX);
  const run = clusterLoad(cache, keys, (k) => victimKeys.has(k));
  await sleep(300);
  run.record();
  const killedAt = Date.now();
  await victim.kill();
  await sleep(300);
  const outageWrites = await Promise.all(outageOnly.map((k) => cache.set(k, { once: k })));
  await bringBack(victim);
  const backAfterMs = Date.now() - killedAt;
  run.pause();
  const outage = { ...run.stats };
  // The journal drains once the slots are served again, without a mode change (and when the
  // restarted node held the deployment's marker key, memory re-seeds it first).
  const backAt = Date.now();
  await waitFor('the journal to drain', 10_000, () => cache.getStatus().journalSize === 0 && !cache.getStatus().reseeding);
  const drainedAfterMs = Date.now() - backAt;
  run.record();
  await sleep(400);
  await run.load.stop();
  const after = { ...run.stats };

  expect(run.load.failures).toEqual([]);
  expect(maxOf(outage.victim.latencies)).toBeLessThan(TIMEOUT + MARGIN);
  expect(maxOf(outage.others.latencies)).toBeLessThan(TIMEOUT + MARGIN);
  expect(maxOf(after.victim.latencies)).toBeLessThan(TIMEOUT + MARGIN);
  // During the outage the dead master's keys were served from memory, the others from Redis.
  expect(outage.victim.fromMemory, 'dead-master keys from memory during the outage').toBeGreaterThan(0);
  expect(outage.others.fromRedis, 'other keys from Redis during the outage').toBeGreaterThan(0);
  expect(outage.others.fromMemory, 'other keys from memory during the outage').toBe(0);
  expect(outageWrites.map((w) => `${w.store}${w.journaled ? " journaled" : ""}`)).toEqual(outageOnly.map(() => "memory journaled"));
  // Afterwards everything is on Redis again, and the mode never left redis.
  expect(after.victim.fromMemory, 'dead-master keys from memory after').toBe(0);
  expect(after.victim.fromRedis, 'dead-master keys from Redis after').toBeGreaterThan(0);
  expect(transitions.map((t) => `${t.to}: ${t.reason}`)).toEqual([]);
  expect(cache.mode).toBe('redis');
  // A redirect is an answer, not a failure: it must never surface as an operation's error.
  expect(cache.getStatus().lastError ?? '').not.toMatch(/^(MOVED|ASK) /);
  expect(cache.getStatus().replayed).toBeGreaterThanOrEqual(outageOnly.length);

  const reader = plainClient(cluster);
  try {
    for (const key of keys) {
      const expected = { n: run.lastIssued.get(key) ?? -1 };
      expect(await storedValue(reader, PREFIX + key), key).toEqual(expected);
      expect(await cache.get(key), key).toEqual(expected);
    }
    for (const key of outageOnly) expect(await storedValue(reader, PREFIX + key), key).toEqual({ once: key });
  } finally {
    reader.disconnect();
  }
  const slowest = maxOf([...outage.victim.latencies, ...outage.others.latencies, ...after.victim.latencies, ...after.others.latencies]);
  console.info(
    `cluster: ${run.load.count} ops; slots back ${backAfterMs} ms after the kill, journal drained ${drainedAfterMs} ms later; meanwhile dead-master keys ${outage.victim.fromMemory} ops from memory, other keys ${outage.others.fromRedis} ops on Redis; ${cache.getStatus().replayed} replayed; slowest op ${slowest.toFixed(0)} ms`,
  );
}

describe('CacheService on Redis Cluster: 3 masters with replicas, one master killed', () => {
  let cluster: RedisCluster;
  let cache: CacheService;

  beforeAll(async () => {
    cluster = await startCluster({ masters: 3, replicasPerMaster: 1, args: PARTIAL_COVERAGE });
  });
  afterAll(async () => {
    await cache?.onApplicationShutdown();
    await cluster?.stop();
  });

  it('its slots fall back to memory, the others stay on Redis, the promoted replica receives the journal', async () => {
    cache = await startCache({ redis: { kind: 'cluster', nodes: cluster.seeds }, commandTimeoutMs: TIMEOUT, keyPrefix: PREFIX });
    await killOneMaster({ cluster, cache, bringBack: (victim) => cluster.waitForFailover(victim.port, 15_000) });
  });
});

describe('CacheService on Redis Cluster: 3 masters without replicas, one master killed and restarted', () => {
  let cluster: RedisCluster;
  let cache: CacheService;

  beforeAll(async () => {
    cluster = await startCluster({ masters: 3, args: PARTIAL_COVERAGE });
  });
  afterAll(async () => {
    await cache?.onApplicationShutdown();
    await cluster?.stop();
  });

  it('its slots fall back to memory until it is back, then the journal lands on it', async () => {
    cache = await startCache({ redis: { kind: 'cluster', nodes: cluster.seeds }, commandTimeoutMs: TIMEOUT, keyPrefix: PREFIX });
    await killOneMaster({
      cluster,
      cache,
      bringBack: async (victim) => {
        await sleep(1_500);
        await victim.restart();
        await cluster.waitForClusterOk(15_000);
      },
    });
  });
  it('L1 over Cluster pub/sub: invalidations cross nodes, and losing the subscriber node never serves a stale value', async () => {
    const target = { kind: 'cluster' as const, nodes: cluster.seeds };
    const publisher = await startCache({ redis: target, commandTimeoutMs: TIMEOUT, keyPrefix: PREFIX, l1: { enabled: false, publish: true } });
    const near = await startCache({ redis: target, commandTimeoutMs: TIMEOUT, keyPrefix: PREFIX, l1: { enabled: true, heartbeatMs: 200 } });
    const phases: string[] = [];
    const t0 = Date.now();
    const phase = (name: string) => phases.push(`${name} +${Date.now() - t0}ms`);
    let killed: RedisProcess | undefined;
    try {
      await waitForMode(publisher, 'redis');
      await waitForMode(near, 'redis');
      await waitFor('the L1 subscription', 5_000, () => near.getStatus().l1.live);
      const subscriberNode = await nodeWithSubscriber(cluster);
      // A key served by another node than the subscriber's: its invalidation crosses the cluster bus.
      const [key] = (await keysByMaster(cluster, 30)).get(cluster.masters.find((m) => m.port !== subscriberNode.port)!.port)!;
      await publisher.set(key, 'v1');
      for (let i = 0; i < 5 && near.getStatus().l1.hits === 0; i++) expect(await near.get(key)).toBe('v1');
      expect(near.getStatus().l1.hits).toBeGreaterThan(0);
      await publisher.set(key, 'v2');
      await waitFor('the cross-node invalidation', 2_000, () => near.getStatus().l1.invalidations > 0);
      expect(await near.get(key)).toBe('v2');

      phase('cross-node invalidation');
      killed = subscriberNode;
      await subscriberNode.kill();
      await publisher.set(key, 'v3');
      // Within a heartbeat the near-cache has either re-subscribed and flushed, or stopped serving L1.
      await sleep(400);
      expect(await near.get(key)).toBe('v3');
      await publisher.set(key, 'v4');
      await sleep(300);
      expect(await near.get(key)).toBe('v4');
      phase('no stale read after the kill');
      // Re-subscribed on a surviving node (flushing L1 on the way), L1 serves and hears again.
      await waitFor('the L1 subscription on another node', 5_000, () => near.getStatus().l1.live);
      expect((await nodeWithSubscriber(cluster)).port).not.toBe(subscriberNode.port);
      const before = near.getStatus().l1;
      await publisher.set(key, 'v5');
      await waitFor('an invalidation after re-subscribing', 2_000, () => near.getStatus().l1.invalidations > before.invalidations);
      for (let i = 0; i < 5 && near.getStatus().l1.hits === before.hits; i++) expect(await near.get(key)).toBe('v5');
      expect(near.getStatus().l1.hits).toBeGreaterThan(before.hits);
      phase('L1 live again on another node');
    } finally {
      await near.onApplicationShutdown();
      await publisher.onApplicationShutdown();
      phase('shut down');
      if (killed && !killed.running) await killed.restart();
      console.info(`L1 on Cluster: ${phases.join(', ')}`);
    }
  });
});
