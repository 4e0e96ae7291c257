import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { CacheService } from '../src/cache/cache.service.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import {
  startFakeShareKhan,
  type FakeShareKhan,
} from './helpers/fake-sharekhan.js';
import { startRedis, type RedisProcess } from './helpers/redis-server.js';
import { waitUntil } from './helpers/wait.js';

/**
 * A ShareKhan login stores a live broker token under a trading user; the account that logged in
 * must be that user's own. A user with no configured customer id has no account to check the
 * login against, so its login is refused (not trusted on first use): at login-url, and again at
 * the callback for a state started where the user did have one.
 */
const SECRET = randomBytes(16).toString('hex');
const SK_API_KEY = `skapi-${randomBytes(8).toString('hex')}`;
const ADMIN_KEY = `admin-${randomBytes(12).toString('hex')}`;
const PAPER_KEY = `paper-${randomBytes(12).toString('hex')}`;
const ENCRYPTION_KEYS = `k1:${randomBytes(32).toString('base64')}`;
const REDIRECT = 'https://app.example.test/sharekhan/callback';
const PREFIX = `bind-${randomBytes(3).toString('hex')}:`;

let redis: RedisProcess;
let fake: FakeShareKhan;
/** PAPER_P without a customer id, as in the issue. */
let unbound: TestApp;
/** Another replica (same Redis, same prefix) mid-rollout, where PAPER_P still had customer C300. */
let bound: TestApp;

async function start(users: string): Promise<TestApp> {
  const app = await createTestApp({
    REDIS_URL: redis.url,
    CACHE_KEY_PREFIX: PREFIX,
    SHAREKHAN_API_BASE_URL: fake.baseUrl,
    SHAREKHAN_API_KEY: SK_API_KEY,
    SHAREKHAN_SECRET_KEY: SECRET,
    SHAREKHAN_REDIRECT_URL: REDIRECT,
    TOKEN_ENCRYPTION_KEYS: ENCRYPTION_KEYS,
    API_KEYS: `ops:admin:${ADMIN_KEY},paper:PAPER_P:${PAPER_KEY}`,
    API_RATE_LIMIT: '100000',
    TRADING_USERS: users,
  });
  await waitUntil(
    Date.now() + 10_000,
    'the cache to use Redis',
    async () => app.get(CacheService).mode === 'redis',
    20,
  );
  return app;
}

beforeAll(async () => {
  redis = await startRedis();
  fake = await startFakeShareKhan({
    secretKey: SECRET,
    apiKey: SK_API_KEY,
    redirectUri: REDIRECT,
  });
  unbound = await start('PAPER_P:paper::,LIVE_A:live:C100:LOGIN100');
  bound = await start('PAPER_P:paper:C300:LOGIN300,LIVE_A:live:C100:LOGIN100');
});
afterAll(async () => {
  await unbound?.close();
  await bound?.close();
  await fake?.close();
  await redis?.stop();
});

const tokenStatus = async (app: TestApp, userId: string) =>
  (
    await request(app.http)
      .get(`/sharekhan/users/${userId}/token`)
      .set('x-api-key', ADMIN_KEY)
  ).body;
const auditActions = async (app: TestApp, userId: string) =>
  (
    await request(app.http)
      .get(`/sharekhan/users/${userId}/audit`)
      .set('x-api-key', ADMIN_KEY)
  ).body.events.map((e: { action: string }) => e.action);

describe('a trading user with no configured customer id', () => {
  it('gets no login URL (409 CUSTOMER_NOT_CONFIGURED saying what to configure)', async () => {
    const res = await request(unbound.http)
      .get('/sharekhan/users/PAPER_P/login-url')
      .set('x-api-key', PAPER_KEY);
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ code: 'CUSTOMER_NOT_CONFIGURED' });
    expect(res.body.message).toMatch(
      /PAPER_P has no ShareKhan customer id configured.*refused; nothing was stored. Add the customer id/,
    );
  });

  it('a login completed as another customer (C200) is refused at the callback and audited; nothing stored, validate has nothing', async () => {
    // The state was started on the replica where PAPER_P still had a customer id.
    const lu = await request(bound.http)
      .get('/sharekhan/users/PAPER_P/login-url')
      .set('x-api-key', PAPER_KEY)
      .expect(200);
    const page = new URL(lu.body.loginUrl);
    page.searchParams.set('customer_id', 'C200');
    const redirect = await fetch(page, { redirect: 'manual' });
    const location = new URL(redirect.headers.get('location')!);
    const exchanges = fake.requestsTo('POST', '/access/token').length;

    const cb = await request(unbound.http).get(
      `/sharekhan/callback${location.search}`,
    );
    expect(cb.status).toBe(409);
    expect(cb.body).toMatchObject({ code: 'CUSTOMER_NOT_CONFIGURED' });
    expect(fake.requestsTo('POST', '/access/token').length).toBe(exchanges);
    expect(await tokenStatus(unbound, 'PAPER_P')).toMatchObject({
      present: false,
      status: 'missing',
    });
    expect((await auditActions(unbound, 'PAPER_P'))[0]).toBe(
      'customer_refused',
    );
    await request(unbound.http)
      .post('/sharekhan/users/PAPER_P/token/validate')
      .set('x-api-key', PAPER_KEY)
      .expect(404);
  });

  it('a user with a configured customer id still logs in as that customer', async () => {
    const lu = await request(unbound.http)
      .get('/sharekhan/users/LIVE_A/login-url')
      .set('x-api-key', ADMIN_KEY)
      .expect(200);
    const redirect = await fetch(lu.body.loginUrl, { redirect: 'manual' });
    const location = new URL(redirect.headers.get('location')!);
    const cb = await request(unbound.http).get(
      `/sharekhan/callback${location.search}`,
    );
    expect(cb.status, cb.text).toBe(200);
    expect(cb.body).toMatchObject({
      userId: 'LIVE_A',
      customerId: 'C100',
      source: 'login',
    });
  });
});
