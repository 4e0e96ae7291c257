import { randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { tokenKey } from '../src/sharekhan/tokens/token-store.service.js';
import { startRedis, type RedisProcess } from './helpers/index.js';
import { useTokenStoreReplica } from './helpers/token-store-replica.js';

/**
 * Revoke and validate against a write from another replica landing between their read and their
 * write (real Redis, two stores on two caches): neither may undo the other replica's write.
 */
const KEY = randomBytes(32).toString('base64');
const T1 = `token-one-${randomBytes(8).toString('hex')}`;
const T2 = `token-two-${randomBytes(8).toString('hex')}`;
const actor = { who: 'ops', source: 'api' };

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

/** Replicas sharing Redis; `between(fn)` runs fn on B right after A's next read of the user's token record. */
async function twoReplicas() {
  const prefix = `race-${randomBytes(3).toString('hex')}:`;
  const a = await replica(prefix, 'a');
  const b = await replica(prefix, 'b');
  // A third replica that read nothing before: what every instance now sees.
  const fresh = async () => (await replica(prefix, 'c')).store;
  // Whichever way A reads the record (a cache read, or the read inside `cache.update`), fn runs right after.
  const core = (a.cache as unknown as { core: { fetch(k: string): Promise<unknown> } }).core;
  const between = (fn: () => Promise<unknown>) => {
    let fired = false;
    const once = async <R>(key: string, r: R): Promise<R> => {
      if (!fired && key.endsWith(tokenKey('LIVE_1'))) {
        fired = true;
        await fn();
      }
      return r;
    };
    const read = a.cache.read.bind(a.cache);
    const fetch = core.fetch.bind(core);
    vi.spyOn(a.cache, 'read').mockImplementation(async (key: string) => once(key, await read(key)) as never);
    vi.spyOn(core, 'fetch').mockImplementation(async (key: string) => once(key, await fetch(key)));
    onTestFinished(() => {
      vi.restoreAllMocks();
    });
  };
  return { a: a.store, b: b.store, between, fresh };
}

describe('token store writes are conditional on the record they read', () => {
  it('a revoke does not replace a token another replica stored after the revoke read', async () => {
    const { a, b, between, fresh } = await twoReplicas();
    await a.submit('LIVE_1', { accessToken: T1, source: 'manual', actor });
    between(() => b.submit('LIVE_1', { accessToken: T2, source: 'manual', actor }));
    const out = await a.revoke('LIVE_1', actor);
    expect(out.revoked).toBe(false);
    const found = await (await fresh()).lookup('LIVE_1');
    expect(found.kind).toBe('found');
    expect(found.kind === 'found' && found.accessToken).toBe(T2);
  });

  it('a validation does not make a token revoked meanwhile usable again', async () => {
    const { a, b, between, fresh } = await twoReplicas();
    const { view } = await a.submit('LIVE_1', { accessToken: T1, source: 'manual', actor });
    between(() => b.revoke('LIVE_1', actor));
    await a.markValidated('LIVE_1', view.fingerprint, actor);
    const found = await (await fresh()).lookup('LIVE_1');
    expect(found.kind).toBe('invalid');
    expect(found.kind === 'invalid' && found.view.status).toBe('revoked');
  });
});
