import type { Redis } from 'ioredis';
import { CAS_SET_LUA, CAS_SET_MANY_LUA } from '../../src/cache/redis/scripts/cas-script.js';
import { VERSION_LENGTH } from '../../src/cache/core/hlc.js';
import { startRedis, type RedisProcess } from '../helpers/redis-server.js';

type CasRedis = Redis & {
  cas(key: string, version: string, record: string, pxat: string, channel: string): Promise<1 | string>;
  casMany(numKeys: number, ...args: string[]): Promise<(1 | string)[]>;
};

const v = (n: number) => String(n).padStart(VERSION_LENGTH, '0');
const rec = (n: number, json: string) => `${v(n)}|0|v${json}`;

/** The compare-and-set scripts on a real Redis: the single-key one and the batched one must agree. */
describe('compare-and-set scripts', () => {
  let redis: RedisProcess;
  let c: CasRedis;

  beforeAll(async () => {
    redis = await startRedis();
    c = redis.client() as CasRedis;
    c.defineCommand('cas', { numberOfKeys: 1, lua: CAS_SET_LUA });
    c.defineCommand('casMany', { lua: CAS_SET_MANY_LUA });
  });
  afterAll(async () => {
    await redis.stop();
  });

  it('single key: a newer version replaces, an older or equal one is refused with the stored version', async () => {
    expect(await c.cas('s', v(5), rec(5, '"five"'), '0', '')).toBe(1);
    expect(await c.cas('s', v(3), rec(3, '"three"'), '0', '')).toBe(v(5));
    expect(await c.cas('s', v(5), rec(5, '"again"'), '0', '')).toBe(v(5));
    expect(await c.cas('s', v(7), rec(7, '"seven"'), '0', '')).toBe(1);
    expect(await c.get('s')).toBe(rec(7, '"seven"'));
  });

  it('batched: each key decided on its own, in the same way, with its own absolute expiry', async () => {
    await c.set('m:old', rec(9, '"kept"'));
    await c.set('m:stale', rec(2, '"replaced"'));
    const at = Date.now() + 60_000;
    const keys = ['m:old', 'm:stale', 'm:new'];
    const replies = await c.casMany(3, ...keys, '', v(4), rec(4, '"late"'), '0', v(4), rec(4, '"fresh"'), String(at), v(4), rec(4, '"first"'), '0');
    expect(replies).toEqual([v(9), 1, 1]);
    expect(await c.mget(...keys)).toEqual([rec(9, '"kept"'), rec(4, '"fresh"'), rec(4, '"first"')]);
    expect(await c.pexpiretime('m:stale')).toBe(at);
    expect(await c.pttl('m:new')).toBe(-1);
  });

  it('batched: a key twice in one call is decided against what the call already wrote', async () => {
    await c.set('d:1', rec(1, '"one"'));
    // Newer first: the older second occurrence (say, a replayed write) must lose to it.
    expect(await c.casMany(2, 'd:1', 'd:1', '', v(9), rec(9, '"nine"'), '0', v(5), rec(5, '"five"'), '0')).toEqual([1, v(9)]);
    expect(await c.get('d:1')).toBe(rec(9, '"nine"'));
    await c.set('d:2', rec(1, '"one"'));
    expect(await c.casMany(2, 'd:2', 'd:2', '', v(5), rec(5, '"five"'), '0', v(9), rec(9, '"nine"'), '0')).toEqual([1, 1]);
    expect(await c.get('d:2')).toBe(rec(9, '"nine"'));
  });

  it('batched: a successful write publishes its invalidation (version and key, never the value)', async () => {
    const sub = redis.client();
    const got: string[] = [];
    sub.on('message', (_ch: string, m: string) => got.push(m));
    await sub.subscribe('inv');
    await c.set('p:b', rec(8, '"newer"'));
    await c.casMany(2, 'p:a', 'p:b', 'inv', v(6), rec(6, '"a"'), '0', v(6), rec(6, '"b"'), '0');
    await vi.waitFor(() => expect(got.length).toBeGreaterThan(0));
    await sub.ping(); // everything Redis sent before this reply has been read
    expect(got).toEqual([`${v(6)}p:a`]);
    sub.disconnect();
  });
});
