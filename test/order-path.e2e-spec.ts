import { randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { rejectedKey, tokenKey } from '../src/sharekhan/tokens/token-store.service.js';
import { tokenFingerprint } from '../src/sharekhan/index.js';
import { startRedis, type RedisProcess } from './helpers/index.js';
import { useTokenStoreReplica } from './helpers/token-store-replica.js';

/**
 * The reads before a live order leaves (issue 20): the token lookup asks Redis for the record and
 * for the refusal marker of the token it expects together, never one after the other, and a
 * refusal is still seen whichever token the record turns out to hold (real Redis, two replicas).
 */
const KEY = randomBytes(32).toString('base64');
const T1 = `token-one-${randomBytes(8).toString('hex')}`;
const T2 = `token-two-${randomBytes(8).toString('hex')}`;
const actor = { who: 'ops', source: 'api' };
const orchestrator = { who: 'orchestrator', source: 'broker' };

let redis: RedisProcess;
beforeAll(async () => {
  Logger.overrideLogger(false);
  redis = await startRedis();
});
afterAll(async () => {
  Logger.overrideLogger(['log', 'error', 'warn']);
  await redis?.stop();
});

const replica = (prefix: string, instanceId: string) => useTokenStoreReplica(redis.url, prefix, instanceId, KEY);

describe('token lookup before a live order', () => {
  it("reads the refusal marker of the user's known token while the record read is still in flight", async () => {
    const { store, cache } = await replica(`path-${randomBytes(3).toString('hex')}:`, 'a');
    await store.submit('LIVE_1', { accessToken: T1, source: 'manual', actor });
    expect((await store.lookup('LIVE_1')).kind).toBe('found');

    // The record read answers only when released; meanwhile note which reads were asked for.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const asked: string[] = [];
    const read = cache.read.bind(cache);
    vi.spyOn(cache, 'read').mockImplementation(<T>(key: string) => {
      asked.push(key);
      return key === tokenKey('LIVE_1') ? gate.then(() => read<T>(key)) : read<T>(key);
    });
    onTestFinished(() => {
      vi.restoreAllMocks();
    });
    const found = store.lookup('LIVE_1');
    await new Promise((r) => setTimeout(r, 20));
    expect(asked).toEqual([tokenKey('LIVE_1'), rejectedKey('LIVE_1', tokenFingerprint(T1))]);
    release();
    const r = await found;
    expect(r.kind === 'found' && r.accessToken).toBe(T1);
    expect(asked).toHaveLength(2);
  });

  it('a refusal recorded on another replica is seen for the known token, and for a new token the record names', async () => {
    const prefix = `path-${randomBytes(3).toString('hex')}:`;
    const a = await replica(prefix, 'a');
    const b = await replica(prefix, 'b');
    await a.store.submit('LIVE_1', { accessToken: T1, source: 'manual', actor });
    expect((await a.store.lookup('LIVE_1')).kind).toBe('found');

    await b.store.markInvalid('LIVE_1', tokenFingerprint(T1), 'broker said 403', orchestrator);
    expect((await a.store.lookup('LIVE_1')).kind).toBe('invalid');

    // A new token, already refused elsewhere: A expects T1's marker but must read T2's.
    await b.store.submit('LIVE_1', { accessToken: T2, source: 'manual', actor });
    await b.store.markInvalid('LIVE_1', tokenFingerprint(T2), 'broker said 403 again', orchestrator);
    const r = await a.store.lookup('LIVE_1');
    expect(r.kind).toBe('invalid');
    expect(r.kind === 'invalid' && r.view.statusReason).toBe('broker said 403 again');
  });
});
