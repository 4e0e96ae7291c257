import { Logger } from '@nestjs/common';
import { vi } from 'vitest';
import type { Redis } from 'ioredis';
import { startRedis, type RedisProcess } from '../helpers/redis-server.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import type { CacheService } from '../../src/cache/cache.service.js';
import type { CacheModuleOptions } from '../../src/cache/core/cache.options.js';
import { decodeRecord } from '../../src/cache/core/cache-codec.js';
import { sleep, startCache, waitForMode } from './cache-harness.js';

const FAST = { commandTimeoutMs: 250, reconnect: { baseDelayMs: 20, maxDelayMs: 200 } };
const L1 = { l1: { enabled: true, heartbeatMs: 200 } };

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

async function settled(svc: CacheService): Promise<void> {
  await until(`settled (${JSON.stringify(svc.getStatus())})`, () => {
    const s = svc.getStatus();
    return s.mode === 'redis' && s.journalSize === 0 && !s.reseeding;
  }, 10_000);
}

describe('Coherence across instances (real redis-server, one instance behind a cuttable proxy)', () => {
  let redis: RedisProcess;
  let client: Redis;
  let proxy: TcpProxy;
  let a: CacheService; // behind the proxy: the one that gets cut off
  let b: CacheService; // always connected

  const stored = async (key: string) => {
    const raw = await client.get(`t:${key}`);
    return raw === null ? null : decodeRecord(raw);
  };

  async function start(extra: Partial<CacheModuleOptions> = {}): Promise<void> {
    a = await startCache({ url: proxy.url, instanceId: 'a', ...FAST, ...extra });
    b = await startCache({ port: redis.port, instanceId: 'b', ...FAST, ...extra });
    await Promise.all([waitForMode(a, 'redis'), waitForMode(b, 'redis')]);
  }

  beforeAll(async () => {
    redis = await startRedis();
    client = redis.client();
    vi.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await redis.stop();
  });
  beforeEach(async () => {
    proxy = await startTcpProxy(redis.port);
  });
  afterEach(async () => {
    await a?.onApplicationShutdown();
    await b?.onApplicationShutdown();
    await proxy.close();
  });

  describe('split brain', () => {
    it('A cut off writes v1, B (connected) then writes v2: Redis, A and B all end with v2', async () => {
      await start(L1);
      await a.set('sb1', 'before');
      await b.get('sb1');
      proxy.cut();
      await waitForMode(a, 'fallback');
      expect((await a.set('sb1', 'v1-from-a')).journaled).toBe(true);
      await sleep(5);
      expect((await b.set('sb1', 'v2-from-b')).store).toBe('redis');
      proxy.restore();
      await settled(a);
      expect((await stored('sb1'))?.json).toBe('"v2-from-b"');
      expect(await a.get('sb1')).toBe('v2-from-b');
      expect(await b.get('sb1')).toBe('v2-from-b');
      expect(a.getStatus().replayRejected).toBe(1);
    });

    it('reverse order: B writes v1, A cut off then writes v2: Redis, A and B all end with A’s v2', async () => {
      await start(L1);
      await a.set('sb2', 'before');
      proxy.cut();
      await waitForMode(a, 'fallback');
      expect((await b.set('sb2', 'v1-from-b')).store).toBe('redis');
      expect(await b.get('sb2')).toBe('v1-from-b'); // B's L1 now holds v1
      await sleep(5);
      expect((await a.set('sb2', 'v2-from-a')).journaled).toBe(true);
      proxy.restore();
      await settled(a);
      expect((await stored('sb2'))?.json).toBe('"v2-from-a"');
      expect(await a.get('sb2')).toBe('v2-from-a');
      // The replay's invalidation reaches B's L1 (pub/sub is asynchronous, hence the short wait).
      await until('B to see A’s replayed write', async () => (await b.get('sb2')) === 'v2-from-a', 1_000);
      expect(a.getStatus().replayed).toBe(1);
    });

    it('a delete made during the outage, of a key the deleting instance never touched, holds after recovery', async () => {
      await start({ tombstoneTtlMs: 5_000 });
      await b.set('del', 'b-wrote-this');
      proxy.cut();
      await waitForMode(a, 'fallback');
      expect(await a.read('del')).toEqual({ state: 'unavailable', source: 'none' });
      expect((await a.delete('del')).journaled).toBe(true);
      expect(await a.read('del')).toMatchObject({ state: 'miss', source: 'memory' });
      proxy.restore();
      await settled(a);
      const rec = await stored('del');
      expect(rec?.tombstone).toBe(true);
      // The configured tombstone lifetime, at the same absolute instant as in memory.
      const pexpiretime = Number(await client.call('PEXPIRETIME', 't:del'));
      expect(pexpiretime).toBe(rec?.expiresAt);
      expect(pexpiretime - Date.now()).toBeGreaterThan(3_000);
      expect(pexpiretime - Date.now()).toBeLessThanOrEqual(5_000);
      expect(await b.read('del')).toMatchObject({ state: 'miss' });
      expect(await a.read('del')).toMatchObject({ state: 'miss' });
    });
  });

  describe('L1 near-cache', () => {
    it('serves repeat reads from L1 and sees another instance’s write after the invalidation arrives', async () => {
      await start(L1);
      await until('both subscribers live', () => a.getStatus().l1.live && b.getStatus().l1.live);
      await b.set('l1', { n: 1 });
      // B's invalidation reaches A first: a read it overlaps is not kept in L1, by design.
      await sleep(100);
      expect(await a.read('l1')).toMatchObject({
        source: 'redis',
        value: { n: 1 },
      });
      const hits = a.getStatus().l1.hits;
      expect(await a.read('l1')).toMatchObject({ source: 'memory', value: { n: 1 } });
      expect(a.getStatus().l1.hits).toBe(hits + 1);

      await b.set('l1', { n: 2 });
      await until('A to receive the invalidation', () => a.getStatus().l1.invalidations > 0, 1_000);
      expect(await a.read('l1')).toMatchObject({ source: 'redis', value: { n: 2 } });
      await b.delete('l1');
      await until('A to drop the key', async () => (await a.read('l1')).state === 'miss', 1_000);
    });

    it('an L1 hit is a lookup: the same frozen object each time, no JSON.parse, no Redis', async () => {
      await start(L1);
      await until('A subscriber live', () => a.getStatus().l1.live);
      await a.set('hot', { list: [1, 2, 3], nested: { s: 'x'.repeat(200) } });
      const first = await a.read('hot');
      const parse = vi.spyOn(JSON, 'parse');
      const N = 10_000;
      let last = first;
      for (let i = 0; i < N; i++) last = await a.read('hot');
      const parses = parse.mock.calls.length;
      parse.mockRestore();
      expect(parses).toBe(0);
      expect(last.value).toBe(first.value);
      expect(Object.isFrozen(last.value)).toBe(true);
      expect(a.getStatus().l1.hits).toBeGreaterThanOrEqual(N);
      // Its speed is measured in bench/ (tests assert behaviour, benchmarks measure).
    });

    it('invalidations carry key and version only, never the value', async () => {
      await start(L1);
      const spy = redis.client();
      const messages: string[] = [];
      spy.on('message', (_c: string, m: string) => messages.push(m));
      await spy.subscribe('t:cache:l1');
      const w = await b.set('secret', { token: 'TOPSECRET-VALUE' });
      await until('the invalidation', () => messages.length > 0, 1_000);
      expect(messages).toEqual([`${w.version}t:secret`]);
      spy.disconnect();
    });

    it('after A’s subscriber is killed and reconnects, A serves nothing stale (missed invalidations are flushed)', async () => {
      await start(L1);
      await until('both subscribers live', () => a.getStatus().l1.live && b.getStatus().l1.live);
      await b.set('sub', 'v1');
      await sleep(100); // as above: B's invalidation first
      expect(await a.get('sub')).toBe('v1');
      expect(await a.read('sub')).toMatchObject({ source: 'memory' }); // an L1 hit
      const before = a.getStatus().l1;
      await client.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      await b.set('sub', 'v2'); // published while A's subscriber is gone
      await until('A to notice the lost subscription', () => !a.getStatus().l1.live || a.getStatus().l1.flushes > before.flushes, 2_000);
      expect(await a.get('sub')).toBe('v2');
      await until('A to resubscribe', () => a.getStatus().l1.live && a.getStatus().l1.flushes > before.flushes, 3_000);
      expect(a.getStatus().l1.invalidations).toBe(before.invalidations); // the message was indeed missed
      expect(await a.read('sub')).toMatchObject({ value: 'v2', source: 'redis' });
      expect(await a.read('sub')).toMatchObject({ value: 'v2', source: 'memory' });
      // And coherence works again on the new subscription.
      await b.set('sub', 'v3');
      await until('A to see v3', async () => (await a.get('sub')) === 'v3', 1_000);
    });

    it('back from a black-holed link (fallback), A flushes L1 and serves what B wrote meanwhile', async () => {
      await start(L1);
      await until('A subscriber live', () => a.getStatus().l1.live);
      await a.set('bh', 'v1');
      expect(await a.read('bh')).toMatchObject({ source: 'memory', value: 'v1' });
      proxy.blackhole();
      await b.set('bh', 'v2'); // the invalidation is swallowed by the black hole
      // The silent subscriber fails its heartbeat; reads then hit the timeout and open the breaker.
      await until('A heartbeat to fail', () => !a.getStatus().l1.live, 2_000);
      for (let i = 0; i < 4 && a.mode === 'redis'; i++) await a.read('other');
      await waitForMode(a, 'fallback', 3_000);
      proxy.restore();
      await settled(a);
      expect(await a.get('bh')).toBe('v2');
      await until('A subscriber live again', () => a.getStatus().l1.live, 3_000);
      expect(await a.get('bh')).toBe('v2');
    });
  });
});
