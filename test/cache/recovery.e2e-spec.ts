import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { vi } from 'vitest';
import type { Redis } from 'ioredis';
import { startRedis, type RedisProcess } from '../helpers/redis-server.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { CacheService } from '../../src/cache/cache.service.js';
import { decodeRecord } from '../../src/cache/core/cache-codec.js';
import type { ReadResult, SetOptions } from '../../src/cache/core/cache.types.js';
import { loadLoop, maxOf, sleep, startCache, waitForMode } from './cache-harness.js';

const TIMEOUT = 250;
// Scheduling noise on a loaded 2-core machine; the promise under test is the timeout itself.
const MARGIN = 150;
const FAST = { commandTimeoutMs: TIMEOUT, reconnect: { baseDelayMs: 20, maxDelayMs: 200 } };

/** Waits until the instance is in redis mode with nothing left to replay or re-seed. */
async function settled(svc: CacheService, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const s = svc.getStatus();
    if (s.mode === 'redis' && s.journalSize === 0 && !s.reseeding) return;
    if (Date.now() > deadline) throw new Error(`not settled in ${ms} ms: ${JSON.stringify(s)}`);
    await sleep(25);
  }
}

async function stored(client: Redis, key: string) {
  const raw = await client.get(key);
  return raw === null ? null : decodeRecord(raw);
}

/** Every read of `keys` through `svc` until stopped; anything but a hit is recorded. */
function pollReads(svc: CacheService, keys: string[], label: string) {
  const bad: string[] = [];
  const load = loadLoop(async (i) => {
    const k = keys[i % keys.length];
    const r = await svc.read(k);
    if (r.state !== 'hit') bad.push(`${label} ${k}: ${r.state} (mode ${svc.mode})`);
  }, 2);
  return { bad, load };
}

describe('Recovery after Redis outages (real redis-server)', () => {
  let redis: RedisProcess;
  let client: Redis;
  const warnings: string[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    client = redis.client();
    // Keep the output readable and let tests assert on the one-line reports.
    vi.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    vi.spyOn(Logger.prototype, 'warn').mockImplementation((message: unknown) => {
      warnings.push(String(message));
    });
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await redis.stop();
  });
  beforeEach(async () => {
    if (!redis.running) await redis.restart();
    await client.flushall();
    warnings.length = 0;
  });

  it('kill Redis, write N keys, restart it: all N are in Redis with the right values and expiries', async () => {
    const cache = await startCache({ port: redis.port, ...FAST });
    try {
      await waitForMode(cache, 'redis');
      await redis.kill();
      await waitForMode(cache, 'fallback');
      const N = 300;
      const expected = new Map<string, { json: string; expiresAt: number | null }>();
      for (let i = 0; i < N; i++) {
        const opts: SetOptions = i % 3 === 0 ? {} : i % 3 === 1 ? { ttlMs: 60_000 + i } : { expiresAt: Date.now() + 120_000 + i };
        const w = await cache.set(`n:${i}`, { i, s: `v${i}` }, opts);
        expect(w).toMatchObject({ store: 'memory', journaled: true });
        const r = await cache.read(`n:${i}`);
        expected.set(`t:n:${i}`, { json: JSON.stringify({ i, s: `v${i}` }), expiresAt: r.expiresAt ?? null });
      }
      expect(cache.getStatus().journalSize).toBe(N);
      await redis.restart();
      await waitForMode(cache, 'redis');
      await settled(cache);
      for (const [k, want] of expected) {
        const rec = await stored(client, k);
        expect(rec?.json, k).toBe(want.json);
        expect(rec?.expiresAt, k).toBe(want.expiresAt);
        const pexpiretime = await client.call('PEXPIRETIME', k);
        expect(pexpiretime, k).toBe(want.expiresAt ?? -1);
      }
      expect(cache.getStatus()).toMatchObject({ journalSize: 0, replayed: N, journalDropped: 0 });
    } finally {
      await cache.onApplicationShutdown();
    }
  });

  it('Redis restarted empty: keys written before the kill are re-seeded, and no read of them ever missed', async () => {
    const proxy: TcpProxy = await startTcpProxy(redis.port);
    const a = await startCache({ port: redis.port, instanceId: 'a', ...FAST });
    const b = await startCache({ url: proxy.url, instanceId: 'b', ...FAST });
    try {
      await Promise.all([waitForMode(a, 'redis'), waitForMode(b, 'redis')]);
      const aKeys = Array.from({ length: 40 }, (_, i) => `a:${i}`);
      const bKeys = Array.from({ length: 40 }, (_, i) => `b:${i}`);
      for (const k of aKeys) await a.set(k, `${k}-value`, { ttlMs: 600_000 });
      for (const k of bKeys) await b.set(k, `${k}-value`);
      await a.delete('a:0'); // a tombstone is re-seeded too
      for (const k of aKeys) await b.get(k); // B now knows A's keys as well
      const polls = [pollReads(a, aKeys.slice(1), 'A'), pollReads(b, [...bKeys, ...aKeys.slice(1)], 'B')];

      // B is cut off across the restart, so it comes back to a Redis whose marker A already re-created.
      proxy.cut();
      await waitForMode(b, 'fallback');
      await redis.kill();
      await waitForMode(a, 'fallback');
      await sleep(300);
      await redis.restart();
      await settled(a);
      expect(a.getStatus().emptyRedisDetections).toBe(1);
      await sleep(300);
      proxy.restore();
      await settled(b);
      expect(b.getStatus().emptyRedisDetections).toBe(1);
      await sleep(200);
      for (const p of polls) await p.load.stop();

      expect([...polls[0].bad, ...polls[1].bad]).toEqual([]);
      expect(polls[0].load.count + polls[1].load.count).toBeGreaterThan(500);
      for (const k of [...aKeys.slice(1), ...bKeys]) expect((await stored(client, `t:${k}`))?.json, k).toBe(JSON.stringify(`${k}-value`));
      expect((await stored(client, 't:a:0'))?.tombstone).toBe(true);
      expect(Number(await client.call('PEXPIRETIME', 't:a:1'))).toBeGreaterThan(Date.now() + 500_000);
      expect(warnings.filter((w) => /without this deployment's data/.test(w))).toHaveLength(2);
    } finally {
      await a.onApplicationShutdown();
      await b.onApplicationShutdown();
      await proxy.close();
    }
  });

  it('a write that timed out during SIGSTOP loses to a newer write made by another instance after it', async () => {
    const a = await startCache({ port: redis.port, instanceId: 'a', ...FAST });
    const b = await startCache({ port: redis.port, instanceId: 'b', ...FAST });
    try {
      await Promise.all([waitForMode(a, 'redis'), waitForMode(b, 'redis')]);
      await a.set('race', 'before');
      redis.pause();
      const timedOut = await a.set('race', 'a-timed-out');
      expect(timedOut.journaled).toBe(true);
      await sleep(50);
      redis.resume();
      // The timed-out command was still queued in the socket and lands now; B writes after it.
      await waitForMode(b, 'redis');
      await sleep(20);
      const newer = await b.set('race', 'b-newer');
      expect(newer.store).toBe('redis');
      expect(newer.version > timedOut.version).toBe(true);
      await settled(a);
      expect((await stored(client, 't:race'))?.json).toBe('"b-newer"');
      expect(await a.get('race')).toBe('b-newer');
      expect(await b.get('race')).toBe('b-newer');
    } finally {
      redis.resume();
      await a.onApplicationShutdown();
      await b.onApplicationShutdown();
    }
  });

  it('Redis dropping again mid-replay, and writes arriving mid-replay: every key ends at its newest write, reads never miss', async () => {
    const cache = await startCache({ port: redis.port, ...FAST });
    try {
      await waitForMode(cache, 'redis');
      await redis.kill();
      await waitForMode(cache, 'fallback');
      const N = 4_000;
      const want = new Map<string, string>();
      for (let i = 0; i < N; i++) {
        await cache.set(`m:${i}`, `old-${i}`);
        want.set(`m:${i}`, `old-${i}`);
      }
      const poll = pollReads(cache, [...want.keys()].filter((_, i) => i % 97 === 0), 'poll');
      const recovering = waitForMode(cache, 'recovering');
      await redis.restart();
      await recovering;
      // Live writes while the journal is replaying (they go straight to Redis with CAS) ...
      const mid = Array.from({ length: 50 }, (_, i) => cache.set(`m:${i}`, `mid-${i}`));
      for (let i = 0; i < 50; i++) want.set(`m:${i}`, `mid-${i}`);
      // ... and Redis gone again before the replay is through.
      expect(cache.getStatus().journalSize).toBeGreaterThan(0);
      await redis.kill();
      await Promise.all(mid);
      await waitForMode(cache, 'fallback');
      for (let i = 50; i < 100; i++) {
        await cache.set(`m:${i}`, `again-${i}`);
        want.set(`m:${i}`, `again-${i}`);
      }
      await redis.restart();
      await settled(cache);
      await poll.load.stop();
      expect(poll.bad).toEqual([]);
      const raws = await client.mget(...[...want.keys()].map((k) => `t:${k}`));
      const wrong = [...want].filter(([, v], i) => decodeRecord(raws[i] ?? '')?.json !== JSON.stringify(v));
      expect(wrong.slice(0, 5)).toEqual([]);
      for (const i of [0, 49, 50, 99, 100, N - 1]) expect(await cache.get(`m:${i}`)).toBe(want.get(`m:${i}`));
    } finally {
      await cache.onApplicationShutdown();
    }
  });

  it('a full journal drops the oldest writes by its stated policy, reports it in status, and warns once per outage', async () => {
    // Cut off by a proxy rather than killed: Redis keeps its data, so no re-seed rescues the drops.
    const proxy = await startTcpProxy(redis.port);
    const cache = await startCache({ url: proxy.url, journal: { maxEntries: 5 }, ...FAST });
    try {
      await waitForMode(cache, 'redis');
      for (const outage of [1, 2]) {
        proxy.cut();
        await waitForMode(cache, 'fallback');
        for (let i = 0; i < 8; i++) await cache.set(`j${outage}:${i}`, i);
        expect(cache.getStatus().journalSize).toBe(5);
        proxy.restore();
        await settled(cache);
      }
      expect(cache.getStatus()).toMatchObject({ journalCapacity: 5, journalPolicy: 'drop-oldest', journalDropped: 6, emptyRedisDetections: 0 });
      expect(warnings.filter((w) => /journal full/i.test(w))).toHaveLength(2);
      // The newest five of each outage reached Redis; the three oldest did not.
      for (const outage of [1, 2]) {
        expect(await client.exists(`t:j${outage}:0`, `t:j${outage}:1`, `t:j${outage}:2`)).toBe(0);
        expect(await client.exists(...[3, 4, 5, 6, 7].map((i) => `t:j${outage}:${i}`))).toBe(5);
      }
    } finally {
      await cache.onApplicationShutdown();
      await proxy.close();
    }
  });

  describe('snapshot', () => {
    let dir: string;
    const key = randomBytes(32).toString('base64');
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'cache-snap-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('app restarted during an outage: values come back from the snapshot and reach Redis once it returns', async () => {
      const path = join(dir, 'cache.snap');
      const snapshot = { path, key, debounceMs: 50 };
      const first = await startCache({ port: redis.port, instanceId: 'one', snapshot, ...FAST });
      await waitForMode(first, 'redis');
      await first.set('before', 'in-redis-before-outage', { ttlMs: 600_000 });
      await redis.kill();
      await waitForMode(first, 'fallback');
      for (let i = 0; i < 20; i++) await first.set(`during:${i}`, i);
      await first.delete('before-deleted');
      // The debounced save alone (no shutdown hook): copy it away as a crash would leave it.
      await sleep(400);
      expect(first.getStatus().snapshot.saves).toBeGreaterThan(0);
      const crashCopy = join(dir, 'crash.snap');
      copyFileSync(path, crashCopy);
      await first.onApplicationShutdown();

      const second = await startCache({ port: redis.port, instanceId: 'two', snapshot: { ...snapshot, path: crashCopy }, ...FAST });
      try {
        expect(second.mode).toBe('fallback');
        expect(second.getStatus().snapshot).toMatchObject({ load: 'ok', loadedJournal: 21 });
        expect(await second.read('before')).toMatchObject({ state: 'hit', value: 'in-redis-before-outage', source: 'memory' });
        for (let i = 0; i < 20; i++) expect(await second.get(`during:${i}`)).toBe(i);
        // A write after the restart orders after everything loaded from the snapshot.
        const w = await second.set('during:0', 'after-restart');
        expect(w.journaled).toBe(true);

        await redis.restart(); // empty, as without persistence
        await settled(second);
        expect((await stored(client, 't:during:0'))?.json).toBe('"after-restart"');
        for (let i = 1; i < 20; i++) expect((await stored(client, `t:during:${i}`))?.json).toBe(String(i));
        expect((await stored(client, 't:before-deleted'))?.tombstone).toBe(true);
        // Not journaled (it was in Redis before the outage) but Redis came back empty: re-seeded.
        expect((await stored(client, 't:before'))?.json).toBe('"in-redis-before-outage"');
      } finally {
        await second.onApplicationShutdown();
      }
    });

    it('memory mode (no Redis): a restart keeps the data through the snapshot', async () => {
      const snapshot = { path: join(dir, 'mem.snap'), key };
      const first = await startCache({ redis: null, snapshot });
      await first.set('kept', { a: 1 }, { ttlMs: 60_000 });
      await first.set('gone', 1, { ttlMs: 60_000 });
      await first.delete('gone');
      await first.onApplicationShutdown();
      const second = await startCache({ redis: null, snapshot });
      try {
        expect(second.getStatus().snapshot).toMatchObject({ load: 'ok', loadedEntries: 2, loadedJournal: 0 });
        expect(await second.read('kept')).toMatchObject({ state: 'hit', value: { a: 1 } });
        expect(await second.read('gone')).toMatchObject({ state: 'miss' });
      } finally {
        await second.onApplicationShutdown();
      }
    });

    it('a corrupt or undecryptable snapshot: the app starts anyway and says so once', async () => {
      const path = join(dir, 'cache.snap');
      writeFileSync(path, 'definitely not a snapshot');
      const cache = await startCache({ port: redis.port, snapshot: { path, key }, ...FAST });
      try {
        await waitForMode(cache, 'redis');
        expect(cache.getStatus().snapshot).toMatchObject({ enabled: true, load: 'corrupt' });
        expect(warnings.filter((w) => w.includes('snapshot'))).toHaveLength(1);
        await cache.set('k', 'v');
      } finally {
        await cache.onApplicationShutdown();
      }
      // Shutdown wrote a good one; another key cannot read it.
      warnings.length = 0;
      const other = await startCache({ port: redis.port, snapshot: { path, key: randomBytes(32).toString('base64') }, ...FAST });
      try {
        await waitForMode(other, 'redis');
        expect(other.getStatus().snapshot).toMatchObject({ load: 'undecryptable', loadedEntries: 0 });
        expect(warnings.filter((w) => w.includes('snapshot'))).toHaveLength(1);
        expect(warnings.join('\n')).not.toContain(key);
      } finally {
        await other.onApplicationShutdown();
      }
    });
  });

  it('flapping: Redis killed and restarted every 0.5-1 s for 20 s under steady writes: nothing lost, nothing stale, all bounded', async () => {
    const proxy = await startTcpProxy(redis.port);
    const instances = [
      await startCache({ port: redis.port, instanceId: 'fa', ...FAST }),
      await startCache({ url: proxy.url, instanceId: 'fb', ...FAST }),
    ];
    try {
      await Promise.all(instances.map((c) => waitForMode(c, 'redis')));
      const WORKERS = 3;
      const KEYS_PER_WORKER = 4;
      const last = new Map<string, { value: number; version: string }>();
      const stale: string[] = [];
      // Written once, before the flapping: every restart empties Redis, so these come back only
      // by re-seeding, and reading them must never miss meanwhile.
      const COLD = 10;
      for (const [n, cache] of instances.entries()) {
        for (let c = 0; c < COLD; c++) {
          const k = `cold:${n}:${c}`;
          const w = await cache.set(k, c, { ttlMs: 600_000 });
          last.set(k, { value: c, version: w.version });
        }
      }
      // Each worker owns its keys, so "the last write" of a key is well defined.
      const loads = instances.map((cache, n) => {
        let seq = 0;
        let running = true;
        const latencies: number[] = [];
        const failures: unknown[] = [];
        let count = 0;
        const timed = async <T>(op: () => Promise<T>): Promise<T> => {
          const t0 = performance.now();
          try {
            return await op();
          } finally {
            latencies.push(performance.now() - t0);
          }
        };
        const workers = Array.from({ length: WORKERS }, async (_, worker) => {
          for (let j = 0; running; j++) {
            const k = `flap:${n}:${worker}:${j % KEYS_PER_WORKER}`;
            const value = ++seq;
            try {
              const w = await timed(() => cache.set(k, value, { ttlMs: 600_000 }));
              last.set(k, { value, version: w.version });
              const r: ReadResult<number> = await timed(() => cache.read<number>(k));
              if (r.value !== value) stale.push(`${k}: wrote ${value}, read ${r.state} ${String(r.value)} in ${cache.mode}`);
              const cold = j % COLD;
              const rc = await timed(() => cache.read<number>(`cold:${n}:${cold}`));
              if (rc.value !== cold) stale.push(`cold:${n}:${cold}: read ${rc.state} ${String(rc.value)} in ${cache.mode}`);
            } catch (err) {
              failures.push(err);
            }
            count++;
            await new Promise((r) => setImmediate(r));
          }
        });
        return {
          latencies,
          failures,
          get count() {
            return count;
          },
          async stop() {
            running = false;
            await Promise.all(workers);
          },
        };
      });
      const started = Date.now();
      let cycles = 0;
      while (Date.now() - started < 20_000) {
        await sleep(500 + Math.random() * 500);
        await redis.kill();
        await sleep(50 + Math.random() * 300);
        await redis.restart();
        cycles++;
      }
      await sleep(500);
      for (const l of loads) await l.stop();
      await Promise.all(instances.map((c) => settled(c)));

      expect(cycles).toBeGreaterThanOrEqual(12);
      expect(stale).toEqual([]);
      for (const l of loads) {
        expect(l.failures).toEqual([]);
        expect(maxOf(l.latencies)).toBeLessThan(TIMEOUT + MARGIN);
      }
      expect(last.size).toBe(2 * (WORKERS * KEYS_PER_WORKER + COLD));
      for (const [k, want] of last) {
        const rec = await stored(client, `t:${k}`);
        expect(rec?.json, k).toBe(String(want.value));
        expect(rec?.version, k).toBe(want.version);
      }
      const total = loads.reduce((n, l) => n + l.count, 0);
      console.info(
        `flapping: ${cycles} restarts, ${total} write+read pairs, max latency ${maxOf(loads.flatMap((l) => l.latencies)).toFixed(1)} ms, ` +
          `status ${JSON.stringify(instances.map((c) => ({ replayed: c.getStatus().replayed, reseeded: c.getStatus().reseeded, transitions: c.getStatus().transitions })))}`,
      );
    } finally {
      for (const c of instances) await c.onApplicationShutdown();
      await proxy.close();
    }
  }, 45_000);
});
