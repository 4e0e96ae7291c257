import { onTestFinished } from 'vitest';
import { startCluster } from '../helpers/redis-cluster.js';
import { decodeRecord } from '../../src/cache/core/cache-codec.js';
import { startCache, waitForMode } from './cache-harness.js';
import { waitUntil } from '../helpers/wait.js';

describe('clear on a Redis Cluster', () => {
  it('SCANs every master and tombstones the namespace on all of them', async () => {
    const cluster = await startCluster({ masters: 3 });
    onTestFinished(() => cluster.stop());
    const opts = { redis: { kind: 'cluster' as const, nodes: cluster.seeds }, commandTimeoutMs: 1_000 };
    const a = await startCache({ ...opts, instanceId: 'a' });
    const b = await startCache({ ...opts, instanceId: 'b' });
    onTestFinished(async () => {
      await a.onApplicationShutdown();
      await b.onApplicationShutdown();
    });
    await Promise.all([waitForMode(a, 'redis'), waitForMode(b, 'redis')]);
    const ns = b.namespace('c');
    await Promise.all(Array.from({ length: 300 }, (_, i) => ns.set(String(i), i)));
    await b.set('other', 'kept');
    // The first writes to a node whose connection is still opening are journaled and replayed shortly after.
    await waitUntil(Date.now() + 10_000, 'journal replayed', async () => b.getStatus().journalSize === 0);
    // The keys spread over every master (the test is only meaningful if they do).
    const owners = new Set(await Promise.all(Array.from({ length: 300 }, async (_, i) => (await cluster.nodeForKey(`t:c:${i}`)).port)));
    expect(owners.size).toBe(3);
    expect(await a.clear('c')).toEqual({ deleted: 300, complete: true });
    expect(await b.mget(['c:0', 'c:150', 'c:299'])).toEqual([undefined, undefined, undefined]);
    expect(await a.get('other')).toBe('kept');
    const node = await cluster.nodeForKey('t:c:42');
    expect(decodeRecord((await node.client().get('t:c:42'))!)?.tombstone).toBe(true);
  }, 60_000);
});
