import { randomBytes } from 'node:crypto';
import { onTestFinished } from 'vitest';
import request from 'supertest';
import { CacheService } from '../src/cache/cache.service.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { startRedis, type RedisProcess } from './helpers/redis-server.js';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';
import { waitUntil } from './helpers/wait.js';

/**
 * Issue 19, item 6: a replica that has not read Redis' clock since it started does not version
 * token writes by its own clock. Replica A starts cut off from Redis with its clock 60 s ahead: its
 * submit and revoke answer 503 CACHE_CLOCK_NOT_SYNCED; once connected (clock measured) its submit
 * is versioned by the fleet's clock, so a revoke made on replica B a moment later wins.
 */
const ADMIN = `admin-${randomBytes(8).toString('hex')}`;
const USER = 'CLOCK_USER_1';

async function replicas(): Promise<{
  a: TestApp;
  b: TestApp;
  proxy: TcpProxy;
  redis: RedisProcess;
}> {
  const redis = await startRedis();
  onTestFinished(() => redis.stop());
  const proxy = await startTcpProxy(redis.port);
  onTestFinished(() => proxy.close());
  const env = {
    CACHE_KEY_PREFIX: `fc-${randomBytes(4).toString('hex')}:`,
    CACHE_COMMAND_TIMEOUT_MS: '200',
    TOKEN_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    API_KEYS: `ops:admin:${ADMIN}`,
    API_RATE_LIMIT: '100000',
  };
  proxy.cut();
  const a = await createTestApp({ ...env, REDIS_URL: proxy.url }, (c) => {
    c.cache.clock = () => Date.now() + 60_000;
  });
  onTestFinished(() => a.close());
  const b = await createTestApp({ ...env, REDIS_URL: redis.url });
  onTestFinished(() => b.close());
  await waitUntil(
    Date.now() + 10_000,
    'replica B on Redis',
    async () => b.get(CacheService).mode === 'redis',
    20,
  );
  return { a, b, proxy, redis };
}

const api = (t: TestApp, method: 'put' | 'get' | 'delete', path: string) =>
  request(t.http)[method](path).set('x-api-key', ADMIN);
const submit = (t: TestApp, accessToken: string) =>
  api(t, 'put', `/sharekhan/users/${USER}/token`).send({ accessToken });

describe('token writes wait for the fleet clock (real redis-server, two Nest apps)', () => {
  it('cut off since start with a clock 60 s ahead: submit and revoke answer 503 CACHE_CLOCK_NOT_SYNCED; once connected, its submit loses to a later revoke', async () => {
    const { a, b, proxy } = await replicas();
    expect(a.get(CacheService).mode).not.toBe('redis');
    const refused = await submit(a, 'token-from-a-1111');
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({
      statusCode: 503,
      code: 'CACHE_CLOCK_NOT_SYNCED',
    });
    expect(refused.body.message).toMatch(
      /has not read Redis' clock since it started/,
    );
    expect(JSON.stringify(refused.body)).not.toContain('token-from-a-1111');
    const revoke = await api(a, 'delete', `/sharekhan/users/${USER}/token`);
    expect(revoke.status).toBe(503);
    expect(revoke.body.code).toBe('CACHE_CLOCK_NOT_SYNCED');
    expect(a.get(CacheService).getStatus().journalSize).toBe(0);

    proxy.restore();
    await waitUntil(
      Date.now() + 10_000,
      'replica A on Redis',
      async () => a.get(CacheService).mode === 'redis',
      20,
    );
    expect(a.get(CacheService).getStatus().clock.measuredAt).not.toBeNull();
    expect((await submit(a, 'token-from-a-1111')).status).toBe(200);
    // B revokes after A's submit (in real time): the revoke is the newer write on every replica.
    await new Promise((r) => setTimeout(r, 50));
    expect(
      (await api(b, 'delete', `/sharekhan/users/${USER}/token`)).status,
    ).toBe(200);
    for (const t of [a, b]) {
      const status = await api(t, 'get', `/sharekhan/users/${USER}/token`);
      expect(status.body).toMatchObject({ status: 'revoked' });
    }
  });
});
