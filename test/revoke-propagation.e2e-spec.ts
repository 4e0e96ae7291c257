import { randomBytes } from 'node:crypto';
import { onTestFinished } from 'vitest';
import request from 'supertest';
import { CacheService } from '../src/cache/cache.service.js';
import { tokenFingerprint } from '../src/sharekhan/tokens/token-crypto.js';
import { SAMPLE_ORDER } from './fixtures/orders.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { startFakeShareKhan } from './helpers/fake-sharekhan.js';
import { startRedis } from './helpers/redis-server.js';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';
import { waitUntil } from './helpers/wait.js';

/**
 * A revoke is fleet-wide only once Redis holds it (issue 11, found by the fleet test): a revoke
 * that could only be journaled answers 503 REVOKE_NOT_CONFIRMED, and a replica cut off from
 * Redis trades with a token only its memory vouches for no longer than `unconfirmedTokenUseMs`.
 */

const ADMIN = `admin-${randomBytes(8).toString('hex')}`;
const SK_API_KEY = 'revoke-propagation-api-key';
const SECRET = randomBytes(16).toString('hex');
const USER = 'REVOKE_USER_1';

interface Fleet {
  /** Reaches Redis through `proxy`, so it can be cut off alone. */
  a: TestApp;
  b: TestApp;
  proxy: TcpProxy;
  fake: Awaited<ReturnType<typeof startFakeShareKhan>>;
}

/** Two replicas of the whole app on one real Redis, replica A behind a fault proxy; all closed after the test. */
async function fleet(unconfirmedTokenUseMs: number): Promise<Fleet> {
  const redis = await startRedis();
  onTestFinished(() => redis.stop());
  const fake = await startFakeShareKhan({ secretKey: SECRET, apiKey: SK_API_KEY });
  onTestFinished(() => fake.close());
  const proxy = await startTcpProxy(redis.port);
  onTestFinished(() => proxy.close());
  const env = {
    CACHE_KEY_PREFIX: `rp-${randomBytes(4).toString('hex')}:`,
    CACHE_COMMAND_TIMEOUT_MS: '200',
    CACHE_L1_ENABLED: 'true',
    SHAREKHAN_API_BASE_URL: fake.baseUrl,
    SHAREKHAN_API_KEY: SK_API_KEY,
    SHAREKHAN_SECRET_KEY: SECRET,
    TOKEN_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    API_KEYS: `ops:admin:${ADMIN}`,
    API_RATE_LIMIT: '100000',
    TRADING_USERS: `${USER}:live:C501:L501`,
  };
  const tweak = (c: TestApp['config']) => {
    c.sharekhan.unconfirmedTokenUseMs = unconfirmedTokenUseMs;
    c.orchestrator.orderTimeoutMs = 1_000;
  };
  const a = await createTestApp({ ...env, REDIS_URL: proxy.url }, tweak);
  onTestFinished(() => a.close());
  const b = await createTestApp({ ...env, REDIS_URL: redis.url }, tweak);
  onTestFinished(() => b.close());
  for (const app of [a, b]) await waitUntil(Date.now() + 10_000, 'the cache to use Redis', async () => app.get(CacheService).mode === 'redis', 20);
  return { a, b, proxy, fake };
}

const api = (t: TestApp, method: 'put' | 'get' | 'delete' | 'post', path: string) => request(t.http)[method](path).set('x-api-key', ADMIN);
const submit = (t: TestApp, accessToken: string) => api(t, 'put', `/sharekhan/users/${USER}/token`).send({ accessToken }).expect(200);
const order = (t: TestApp, id: string) => api(t, 'post', '/orchestrator/orders').send({ userId: USER, order: { ...SAMPLE_ORDER, tradingSymbol: id } });
const cutOff = async (f: Fleet) => {
  f.proxy.cut();
  await waitUntil(Date.now() + 10_000, 'replica A in fallback', async () => f.a.get(CacheService).mode === 'fallback', 20);
};
const reconnect = async (f: Fleet) => {
  f.proxy.restore();
  await waitUntil(Date.now() + 15_000, 'replica A back on Redis', async () => f.a.get(CacheService).mode === 'redis' && f.a.get(CacheService).getStatus().journalSize === 0, 20);
};

describe('a revoke reaches every replica, or the answer says it has not (real redis-server)', () => {
  it('a revoke only journaled (Redis unreachable) answers 503 REVOKE_NOT_CONFIRMED, takes effect here at once, and answers 200 once Redis has it', async () => {
    const f = await fleet(30_000);
    const token = f.fake.issueAccessToken('C501');
    await submit(f.b, token);
    expect((await api(f.a, 'get', `/sharekhan/users/${USER}/token`)).body.status).toBe('active');
    await cutOff(f);

    const res = await api(f.a, 'delete', `/sharekhan/users/${USER}/token`);
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ code: 'REVOKE_NOT_CONFIRMED', message: expect.stringMatching(/other replicas may still trade with it.*Retry the DELETE until it answers 200/) });
    // A retry while still cut off is not an acknowledgement either.
    expect((await api(f.a, 'delete', `/sharekhan/users/${USER}/token`)).status).toBe(503);
    // In effect on A at once: nothing reaches the broker from here.
    expect((await order(f.a, 'rp-a-1')).body).toMatchObject({ code: 'TOKEN_REVOKED' });

    await reconnect(f);
    const again = await api(f.a, 'delete', `/sharekhan/users/${USER}/token`);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ revoked: false, alreadyRevoked: true });
    expect((await order(f.b, 'rp-b-1')).body).toMatchObject({ code: 'TOKEN_REVOKED' });
    expect(f.fake.orderAttempts.filter((o) => tokenFingerprint(o.accessToken) === tokenFingerprint(token))).toEqual([]);
  });

  it('a replica cut off from Redis trades with its memory copy only for unconfirmedTokenUseMs, then refuses with TOKEN_UNCONFIRMED', async () => {
    const f = await fleet(4_000);
    const token = f.fake.issueAccessToken('C501');
    await submit(f.b, token);
    // A reads the token from Redis: confirmed now.
    expect((await order(f.a, 'rp-a-before')).body).toMatchObject({ outcome: 'placed' });
    await cutOff(f);
    // B revokes; Redis confirms it (200), but A cannot hear it.
    expect((await api(f.b, 'delete', `/sharekhan/users/${USER}/token`)).status).toBe(200);

    // Within the bound a Redis outage does not stop trading: A still has a token it knows.
    expect((await order(f.a, 'rp-a-within')).body).toMatchObject({ outcome: 'placed' });
    await new Promise((r) => setTimeout(r, 4_100));
    const past = await order(f.a, 'rp-a-past');
    expect(past.status).toBe(503);
    expect(past.body).toMatchObject({ code: 'TOKEN_UNCONFIRMED', message: expect.stringMatching(/memory only and Redis has not confirmed it/) });
    expect(f.fake.orderAttempts.map((o) => o.tradingSymbol)).not.toContain('rp-a-past');
    // The status says why, and after reconnecting A sees the revoke.
    expect((await api(f.a, 'get', `/sharekhan/users/${USER}/token`)).body.reason).toMatch(/Redis has not confirmed it for \d+ s/);
    await reconnect(f);
    expect((await order(f.a, 'rp-a-after')).body).toMatchObject({ code: 'TOKEN_REVOKED' });
  });

  it('a revoke that finds the token already revoked still wins over an earlier submit a cut-off replica replays (fleet seed 302)', async () => {
    const f = await fleet(30_000);
    await submit(f.b, f.fake.issueAccessToken('C501'));
    expect((await api(f.b, 'delete', `/sharekhan/users/${USER}/token`)).status).toBe(200);
    await cutOff(f);
    // A, cut off, acknowledges a new token (held in its memory and journal only).
    const newer = f.fake.issueAccessToken('C501');
    expect((await submit(f.a, newer)).body).toMatchObject({ storedIn: 'memory' });
    // Then B is asked to revoke: Redis holds the old, revoked token, so "already revoked" (200).
    const res = await api(f.b, 'delete', `/sharekhan/users/${USER}/token`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ alreadyRevoked: true });

    // A's earlier submit replays; the later revoke must win on every replica.
    await reconnect(f);
    for (const [name, t] of [['a', f.a], ['b', f.b]] as const) {
      const body = (await order(t, `rp-after-${name}`)).body as { code?: string };
      expect(body.code, JSON.stringify(body)).toBe('TOKEN_REVOKED');
    }
    expect(f.fake.orderAttempts.filter((o) => tokenFingerprint(o.accessToken) === tokenFingerprint(newer))).toEqual([]);
  });
});
