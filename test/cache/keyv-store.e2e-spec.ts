import { CACHE_MANAGER, CacheModule as NestCacheModule } from '@nestjs/cache-manager';
import { Test } from '@nestjs/testing';
import keyvTestSuite, { keyvIteratorTests } from '@keyv/test-suite';
import type { Cache } from 'cache-manager';
import { createCache } from 'cache-manager';
import Keyv from 'keyv';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vitest from 'vitest';
import { vi } from 'vitest';
import { CacheKeyvStore } from '../../src/cache/api/keyv-store.js';
import { CacheModule } from '../../src/cache/cache.module.js';
import { CacheService } from '../../src/cache/cache.service.js';
import { startRedis, type RedisProcess } from '../helpers/redis-server.js';
import { startCache, waitForMode } from './cache-harness.js';

/** One cache per describe block, closed after it; each store() call is a fresh adapter on it, as Keyv's suite expects. */
function suiteOn(name: string, open: () => Promise<CacheService>) {
  describe(name, () => {
    let cache: CacheService;
    beforeAll(async () => {
      cache = await open();
    });
    afterAll(() => cache.onApplicationShutdown());
    keyvTestSuite(vitest, Keyv, () => new CacheKeyvStore(cache));
    keyvIteratorTests(vitest, Keyv, () => new CacheKeyvStore(cache));
  });
}

suiteOn("Keyv's store test suite, memory mode", () => startCache({ redis: null }));

let redis: RedisProcess;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis?.stop());

suiteOn("Keyv's store test suite, real Redis", async () => {
  const cache = await startCache({ port: redis.port, keyPrefix: 'kv:' });
  await waitForMode(cache, 'redis');
  return cache;
});

describe('cache-manager over the Keyv store', () => {
  it('keeps Keyv namespaces apart in Redis, each in its own space under the store prefix', async () => {
    const cache = await startCache({ port: redis.port, keyPrefix: 'ns:' });
    onTestFinished(() => cache.onApplicationShutdown());
    await waitForMode(cache, 'redis');
    const a = new Keyv({ store: new CacheKeyvStore(cache), namespace: 'a' });
    const b = new Keyv({ store: new CacheKeyvStore(cache), namespace: 'b' });
    await a.set('k', 1);
    await b.set('k', 2);
    await a.clear();
    expect(await a.get('k')).toBeUndefined();
    expect(await b.get('k')).toBe(2);
    const keys = await redis.client().keys('ns:*');
    // keyv 5 prefixes the key with its namespace and the store puts it in that namespace's space.
    expect(keys.filter((k) => !k.includes('__')).sort()).toContain('ns:keyv:b:b:k');
  });

  it("namespaces that share a prefix (a, a:b, none) never see each other's keys, in get, iterator or clear", async () => {
    const cache = await startCache({ port: redis.port, keyPrefix: 'nx:' });
    onTestFinished(() => cache.onApplicationShutdown());
    await waitForMode(cache, 'redis');
    const a = new Keyv({ store: new CacheKeyvStore(cache), namespace: 'a' });
    const ab = new Keyv({ store: new CacheKeyvStore(cache), namespace: 'a:b' });
    const none = new Keyv({ store: new CacheKeyvStore(cache), namespace: undefined });
    await a.set('b:c', 'from a');
    await ab.set('c', 'from a:b');
    await none.set('a:b:c', 'from none');
    expect([await a.get('b:c'), await ab.get('c'), await none.get('a:b:c')]).toEqual(['from a', 'from a:b', 'from none']);
    const listed = async (kv: Keyv) => {
      const out: unknown[] = [];
      for await (const [, value] of kv.iterator!(undefined)) out.push(value);
      return out;
    };
    expect(await listed(a)).toEqual(['from a']);
    expect(await listed(ab)).toEqual(['from a:b']);
    await a.clear();
    expect([await a.get('b:c'), await ab.get('c'), await none.get('a:b:c')]).toEqual([undefined, 'from a:b', 'from none']);
  });

  it('iterator() walks a namespace larger than one SCAN step, skips expired keys, and a stop ends the scan', async () => {
    const cache = await startCache({ port: redis.port, keyPrefix: 'it:' });
    onTestFinished(() => cache.onApplicationShutdown());
    await waitForMode(cache, 'redis');
    const kv = new Keyv({ store: new CacheKeyvStore(cache), namespace: 'big' });
    const other = new Keyv({ store: new CacheKeyvStore(cache), namespace: 'other' });
    await Promise.all(Array.from({ length: 700 }, (_, i) => kv.set(`k${i}`, i)));
    await Promise.all(Array.from({ length: 50 }, (_, i) => kv.set(`short${i}`, i, 150)));
    await other.set('k1', 'other');
    // A second instance holds nothing in memory: every key comes from SCAN.
    const reader = await startCache({ port: redis.port, keyPrefix: 'it:' });
    onTestFinished(() => reader.onApplicationShutdown());
    await waitForMode(reader, 'redis');
    await new Promise((r) => setTimeout(r, 300));
    const seen = new Map<string, unknown>();
    for await (const [key, value] of new Keyv({ store: new CacheKeyvStore(reader), namespace: 'big' }).iterator!(undefined)) seen.set(key as string, value);
    expect(seen.size).toBe(700);
    expect(seen.get('k1')).toBe(1);
    expect([...seen.keys()].some((k) => k.startsWith('short'))).toBe(false);

    let taken = 0;
    for await (const _ of kv.iterator!(undefined)) if (++taken === 3) break;
    expect(taken).toBe(3);
    // The store is still usable after a stopped iteration.
    expect(await kv.get('k699')).toBe(699);
  });

  it('iterator() while Redis is down: the keys memory holds, then CacheUnavailableError (never a silently short list)', async () => {
    const server = await startRedis();
    onTestFinished(() => server.stop());
    const cache = await startCache({ port: server.port, keyPrefix: 'down:' });
    onTestFinished(() => cache.onApplicationShutdown());
    await waitForMode(cache, 'redis');
    const kv = new Keyv({ store: new CacheKeyvStore(cache), namespace: 'n' });
    await kv.set('held', 1);
    await server.kill();
    await waitForMode(cache, 'fallback');
    const seen: unknown[] = [];
    const walk = async () => {
      for await (const [key] of kv.iterator!(undefined)) seen.push(key);
    };
    await expect(walk()).rejects.toMatchObject({ name: 'CacheUnavailableError', code: 'CACHE_UNAVAILABLE' });
    expect(seen).toEqual(['held']);
  });

  it('cache.wrap rides through a Redis SIGKILL: no error, the value stays, the factory is not called again', async () => {
    const server = await startRedis();
    onTestFinished(() => server.stop());
    const cache = await startCache({ port: server.port, keyPrefix: 'w:' });
    onTestFinished(() => cache.onApplicationShutdown());
    await waitForMode(cache, 'redis');
    const manager = createCache({ stores: [new Keyv({ store: new CacheKeyvStore(cache) })] });

    let calls = 0;
    const factory = async () => ({ quote: 101.5, n: ++calls });
    expect(await manager.wrap('quote:INFY', factory, 60_000)).toEqual({ quote: 101.5, n: 1 });

    await server.kill();
    await waitForMode(cache, 'fallback');
    expect(await manager.wrap('quote:INFY', factory, 60_000)).toEqual({ quote: 101.5, n: 1 });
    // A new key during the outage: the factory runs once, the value is served from memory.
    expect(await manager.wrap('quote:TCS', factory, 60_000)).toEqual({ quote: 101.5, n: 2 });
    expect(await manager.wrap('quote:TCS', factory, 60_000)).toEqual({ quote: 101.5, n: 2 });
    expect(calls).toBe(2);

    // Back up: the outage write is replayed into Redis.
    await server.restart();
    await waitForMode(cache, 'redis', 15_000);
    const fresh = await startCache({ port: server.port, keyPrefix: 'w:' });
    onTestFinished(() => fresh.onApplicationShutdown());
    await waitForMode(fresh, 'redis');
    const other = createCache({ stores: [new Keyv({ store: new CacheKeyvStore(fresh) })] });
    expect(await other.get('quote:TCS')).toEqual({ quote: 101.5, n: 2 });
  });
});

describe('Keyv deletes during an outage', () => {
  it('a delete of a key this instance never read, during a Redis SIGKILL, is replayed: the value is gone after recovery', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyv-del-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const server = await startRedis({ dir });
    onTestFinished(() => server.stop());
    const writer = await startCache({ port: server.port, keyPrefix: 'd:' });
    onTestFinished(() => writer.onApplicationShutdown());
    const cache = await startCache({ port: server.port, keyPrefix: 'd:' });
    onTestFinished(() => cache.onApplicationShutdown());
    await Promise.all([waitForMode(writer, 'redis'), waitForMode(cache, 'redis')]);
    await new Keyv({ store: new CacheKeyvStore(writer) }).setMany([
      { key: 'one', value: 1 },
      { key: 'two', value: 2 },
      { key: 'three', value: 3 },
    ]);
    const store = new Keyv({ store: new CacheKeyvStore(cache) });
    await server.client().save(); // Redis comes back with the values: only the replayed deletes remove them

    await server.kill();
    await waitForMode(cache, 'fallback');
    await store.delete('one');
    await store.deleteMany(['two', 'three']);

    await server.restart();
    await waitForMode(cache, 'redis', 15_000);
    await vi.waitFor(() => expect(cache.getStatus().journalSize).toBe(0), { timeout: 10_000 });
    const fresh = await startCache({ port: server.port, keyPrefix: 'd:' });
    onTestFinished(() => fresh.onApplicationShutdown());
    await waitForMode(fresh, 'redis');
    const other = new Keyv({ store: new CacheKeyvStore(fresh) });
    expect(await other.getMany(['one', 'two', 'three'])).toEqual([undefined, undefined, undefined]);
  });
});

describe('@nestjs/cache-manager with the Keyv store', () => {
  it("an app's CACHE_MANAGER keeps answering through a Redis SIGKILL", async () => {
    const server = await startRedis();
    onTestFinished(() => server.stop());
    const moduleRef = await Test.createTestingModule({
      imports: [
        CacheModule.forRoot({ redis: { kind: 'standalone', host: '127.0.0.1', port: server.port }, keyPrefix: 'nest:', commandTimeoutMs: 250, isGlobal: true }),
        NestCacheModule.registerAsync({
          inject: [CacheService],
          useFactory: (cache: CacheService) => ({ stores: [new Keyv({ store: new CacheKeyvStore(cache) })] }),
        }),
      ],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    onTestFinished(() => app.close());
    const cache = app.get(CacheService);
    await waitForMode(cache, 'redis');
    const manager = app.get<Cache>(CACHE_MANAGER);

    await manager.set('session:42', { user: 'PAPER_TRADER_001' }, 60_000);
    expect(await server.client().keys('nest:keyv:*')).toContain('nest:keyv:keyv:keyv:session:42');
    await server.kill();
    await waitForMode(cache, 'fallback');
    expect(await manager.get('session:42')).toEqual({ user: 'PAPER_TRADER_001' });
    await manager.set('session:43', { user: 'LIVE_TRADER_002' }, 60_000);
    expect(await manager.get('session:43')).toEqual({ user: 'LIVE_TRADER_002' });
  });
});
