import { startCluster, type RedisCluster } from '../helpers/redis-cluster.js';
import type { RedisProcess } from '../helpers/redis-server.js';
import type { CacheService } from '../../src/cache/cache.service.js';
import type { ModeTransition } from '../../src/cache/core/cache.types.js';
import { maxOf, sleep, startCache, waitForMode } from './cache-harness.js';
import { clusterLoad, keysOn, plainClient, storedValue, waitFor } from './cluster-load.js';

const TIMEOUT = 250;
// Scheduling noise on a loaded 2-core machine; the promise under test is the timeout itself.
const MARGIN = 150;
const PREFIX = 't:';
const PAUSED_MS = 2_000;
// Short probe waits: the test waits for the breaker to close after SIGCONT.
const BREAKER = { halfOpenAfterMs: 200, halfOpenAfterMaxMs: 1_000 };
// Without this a cluster refuses every key, on every node, while one slot range has no master.
const PARTIAL_COVERAGE = ['--cluster-require-full-coverage', 'no'];

/**
 * Pause one master under load (SIGSTOP: its connections stay open, its commands time out), check
 * only its slots are served from memory with the mode staying `redis`, let `bringBack` end the
 * outage, and check its breaker is gone and the journal landed with the values last written.
 */
async function pauseOneMaster(
  cluster: RedisCluster,
  cache: CacheService,
  bringBack: (victim: RedisProcess) => Promise<void>,
  /** After SIGCONT, before the "afterwards" window: what the cluster needs to settle. */
  settle?: (victim: RedisProcess) => Promise<void>,
) {
  await waitForMode(cache, 'redis');
  const transitions: ModeTransition[] = [];
  cache.transitions$.subscribe((t) => transitions.push(t));

  const victim = cluster.masters[0];
  const keys: string[] = [];
  const victimKeys = new Set<string>();
  for (let i = 0; i < 60; i++) {
    const key = `p:${i}`;
    keys.push(key);
    if ((await cluster.nodeForKey(PREFIX + key)).port === victim.port)
      victimKeys.add(key);
  }
  expect(victimKeys.size).toBeGreaterThan(5);
  const outageOnly = await keysOn(cluster, victim, 10, 'once-', PREFIX);
  for (const k of keys) await cache.set(k, { n: -1 });

  const run = clusterLoad(cache, keys, (k) => victimKeys.has(k));
  const load = run.load;

  const openSeen = new Set<string>();
  const breakerStates = new Set<string>();
  const modes = new Set<string>();
  let outage: typeof run.stats;
  let outageWrites: { store: string; journaled: boolean }[];
  try {
    await sleep(300);
    run.record();
    victim.pause();
    const pausedAt = Date.now();
    // Sampled while paused: which nodes' breakers are open, the gateway's state, the mode.
    while (Date.now() - pausedAt < PAUSED_MS) {
      const s = cache.getStatus();
      for (const n of s.breakerOpenNodes ?? []) openSeen.add(n);
      breakerStates.add(s.breakerState);
      modes.add(s.mode);
      await sleep(50);
    }
    outageWrites = await Promise.all(
      outageOnly.map((k) => cache.set(k, { once: k })),
    );
    outage = { ...run.stats };
    run.pause();
    await bringBack(victim);
  } catch (err) {
    victim.resume();
    throw err;
  }
  const resumedAt = Date.now();
  // After a failover the victim is still paused here: the promoted replica alone must drain the journal.
  await waitFor(
    "the paused master's breaker to go and the journal to drain",
    15_000,
    () => {
      const s = cache.getStatus();
      return (s.breakerOpenNodes ?? []).length === 0 && s.journalSize === 0;
    },
  );
  const drainedAfterMs = Date.now() - resumedAt;
  victim.resume();
  await settle?.(victim);
  run.record();
  await sleep(400);
  await load.stop();
  const after = { ...run.stats };

  expect(load.failures).toEqual([]);
  // The paused master's keys: from memory (or journaled), each within the command timeout.
  expect(
    outage.victim.fromMemory,
    'paused-master keys from memory',
  ).toBeGreaterThan(0);
  expect(maxOf(outage.victim.latencies)).toBeLessThan(TIMEOUT + MARGIN);
  expect(
    outageWrites.map((w) => `${w.store}${w.journaled ? ' journaled' : ''}`),
  ).toEqual(outageOnly.map(() => 'memory journaled'));
  // The other masters' keys: all on Redis, and the cache never left redis mode.
  expect(
    outage.others.fromRedis,
    'other keys from Redis while paused',
  ).toBeGreaterThan(0);
  expect(outage.others.fromMemory, 'other keys from memory while paused').toBe(
    0,
  );
  expect(maxOf(outage.others.latencies)).toBeLessThan(TIMEOUT + MARGIN);
  expect(transitions.map((t) => `${t.to}: ${t.reason}`)).toEqual([]);
  expect([...modes]).toEqual(['redis']);
  // Only the paused master's breaker opened; the gateway as a whole stayed closed.
  expect([...openSeen].map((n) => Number(n.split(':').pop()))).toEqual([
    victim.port,
  ]);
  expect([...breakerStates]).toEqual(['closed']);
  // Afterwards: back on Redis, and the journal landed with the values last written.
  expect(after.victim.fromMemory, 'paused-master keys from memory after').toBe(
    0,
  );
  expect(
    after.victim.fromRedis,
    'paused-master keys from Redis after',
  ).toBeGreaterThan(0);
  expect(cache.mode).toBe('redis');
  expect(cache.getStatus().replayed).toBeGreaterThanOrEqual(outageOnly.length);
  const reader = plainClient(cluster);
  try {
    for (const key of keys) {
      const expected = { n: run.lastIssued.get(key) ?? -1 };
      expect(await storedValue(reader, PREFIX + key), key).toEqual(expected);
      expect(await cache.get(key), key).toEqual(expected);
    }
    for (const key of outageOnly)
      expect(await storedValue(reader, PREFIX + key), key).toEqual({
        once: key,
      });
  } finally {
    reader.disconnect();
  }
  console.info(
    `cluster paused master: ${load.count} ops; while paused ${outage.victim.fromMemory} ops of its keys from memory, ${outage.others.fromRedis} of the others on Redis; breaker gone and journal drained ${drainedAfterMs} ms after the outage ended; ${cache.getStatus().replayed} replayed`,
  );
}

describe('CacheService on Redis Cluster: 3 masters without replicas, one paused (SIGSTOP) under load', () => {
  let cluster: RedisCluster;
  let cache: CacheService;

  beforeAll(async () => {
    cluster = await startCluster({ masters: 3, args: PARTIAL_COVERAGE });
  });
  afterAll(async () => {
    for (const n of cluster?.nodes ?? []) n.resume();
    await cache?.onApplicationShutdown();
    await cluster?.stop();
  });

  it('only its slots are served from memory and journaled, the mode stays redis; after SIGCONT its breaker closes and the journal drains', async () => {
    cache = await startCache({
      redis: { kind: 'cluster', nodes: cluster.seeds },
      commandTimeoutMs: TIMEOUT,
      keyPrefix: PREFIX,
      breaker: BREAKER,
    });
    await pauseOneMaster(cluster, cache, async (victim) => victim.resume());
  });
});

describe('CacheService on Redis Cluster: 3 masters with replicas, one paused (SIGSTOP) until its replica is promoted', () => {
  let cluster: RedisCluster;
  let cache: CacheService;

  beforeAll(async () => {
    cluster = await startCluster({
      masters: 3,
      replicasPerMaster: 1,
      args: PARTIAL_COVERAGE,
    });
  });
  afterAll(async () => {
    for (const n of cluster?.nodes ?? []) n.resume();
    await cache?.onApplicationShutdown();
    await cluster?.stop();
  });

  it("the paused master's breaker is dropped once it masters no slot, and the journal drains to the promoted replica", async () => {
    cache = await startCache({
      redis: { kind: 'cluster', nodes: cluster.seeds },
      commandTimeoutMs: TIMEOUT,
      keyPrefix: PREFIX,
      breaker: BREAKER,
    });
    await pauseOneMaster(
      cluster,
      cache,
      (victim) => cluster.waitForFailover(victim.port, 15_000),
      // The deposed master still claims its slots until the cluster tells it otherwise: the
      // "afterwards" window starts once it has rejoined as a replica and ioredis has seen that.
      async (victim) => {
        const probe = victim.client({ maxRetriesPerRequest: 0, commandTimeout: 1_000 });
        try {
          await waitFor('the deposed master to rejoin as a replica', 10_000, async () => String(((await probe.call('ROLE')) as unknown[])[0]) === 'slave');
        } finally {
          probe.disconnect();
        }
        await sleep(500);
      },
    );
  });
});
