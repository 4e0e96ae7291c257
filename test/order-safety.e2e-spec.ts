import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { CacheService } from '../src/cache/cache.service.js';
import { PremarketCheckService } from '../src/orchestrator/premarket-check.service.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import {
  startFakeShareKhan,
  type FakeShareKhan,
} from './helpers/fake-sharekhan.js';
import { startRedis, type RedisProcess } from './helpers/redis-server.js';
import { waitUntil } from './helpers/wait.js';
import { SAMPLE_ORDER } from './fixtures/orders.js';

/**
 * What keeps a real desk safe before an order leaves: readiness that answers "would the next order
 * leave?" (not only "is there a token?"), and per-order fat-finger limits. "Sent" and "not sent"
 * are read from the fake broker's own record.
 */

const ADMIN_KEY = `admin-${randomBytes(12).toString('hex')}`;
const SK_API_KEY = `skapi-${randomBytes(8).toString('hex')}`;
const SECRET_KEY = randomBytes(16).toString('hex');
const ENCRYPTION_KEYS = `k1:${randomBytes(32).toString('base64')}`;
// SMALL_USER has its own limits (TRADING_USERS fields 5 and 6); the others take the defaults.
const USERS =
  'PAPER_P:paper::,LIVE_A:live:C100:LOGIN100,SMALL_USER:live:C200:LOGIN200:10:30000';

let redis: RedisProcess;
let fake: FakeShareKhan;

beforeAll(async () => {
  redis = await startRedis();
  fake = await startFakeShareKhan({
    secretKey: SECRET_KEY,
    apiKey: SK_API_KEY,
  });
});
afterAll(async () => {
  await fake?.close();
  await redis?.stop();
});

async function start(extra: Record<string, string> = {}): Promise<TestApp> {
  const app = await createTestApp({
    REDIS_URL: redis.url,
    CACHE_KEY_PREFIX: `safety-${randomBytes(3).toString('hex')}:`,
    SHAREKHAN_API_BASE_URL: fake.baseUrl,
    SHAREKHAN_API_KEY: SK_API_KEY,
    SHAREKHAN_SECRET_KEY: SECRET_KEY,
    TOKEN_ENCRYPTION_KEYS: ENCRYPTION_KEYS,
    API_KEYS: `ops:admin:${ADMIN_KEY}`,
    API_RATE_LIMIT: '100000',
    TRADING_USERS: USERS,
    ...extra,
  });
  const cache = app.get(CacheService);
  await waitUntil(
    Date.now() + 10_000,
    'the cache to use Redis',
    async () => cache.mode === 'redis',
    20,
  );
  return app;
}

const admin = (t: TestApp, method: 'get' | 'put' | 'post', path: string) =>
  request(t.http)[method](path).set('x-api-key', ADMIN_KEY);

async function submitToken(
  t: TestApp,
  userId: string,
  accessToken: string,
): Promise<void> {
  const res = await admin(t, 'put', `/sharekhan/users/${userId}/token`).send({
    accessToken,
  });
  expect(res.status, res.text).toBe(200);
}

const byUser = (body: { users: { userId: string }[] }) =>
  Object.fromEntries(
    body.users.map((u) => [u.userId, u as Record<string, unknown>]),
  );

describe('readiness with ShareKhan unconfigured (no SHAREKHAN_API_KEY)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await start({ SHAREKHAN_API_KEY: '' });
    await submitToken(t, 'LIVE_A', fake.issueAccessToken('C100'));
    await submitToken(t, 'PAPER_P', `paper-${randomBytes(12).toString('hex')}`);
  });
  afterAll(() => t?.close());

  it('says every live user cannot trade, naming the variable to set; paper users still can', async () => {
    const res = await admin(t, 'get', '/orchestrator/readiness').expect(200);
    const users = byUser(res.body);
    // LIVE_A has a valid token, and still no live order of its could leave.
    expect(users.LIVE_A).toMatchObject({
      status: 'not_configured',
      canTrade: false,
      source: 'manual',
    });
    expect(users.LIVE_A.message).toMatch(/ShareKhan is not configured/);
    expect(users.LIVE_A.action).toMatch(/SHAREKHAN_API_KEY/);
    expect(users.SMALL_USER).toMatchObject({
      status: 'not_configured',
      canTrade: false,
    });
    expect(users.SMALL_USER.message).toMatch(/not usable either \(missing\)/);
    expect(users.PAPER_P).toMatchObject({ status: 'ready', canTrade: true });
    expect(res.body.summary).toEqual({
      total: 3,
      ready: 1,
      notReady: ['LIVE_A', 'SMALL_USER'],
    });

    // What readiness promised is what an order gets.
    const order = await admin(t, 'post', '/orchestrator/orders').send({
      userId: 'LIVE_A',
      order: SAMPLE_ORDER,
    });
    expect(order.status).toBe(503);
    expect(order.body.code).toBe('BROKER_NOT_CONFIGURED');
  });

  it('the pre-market check reports the live users as lacking, with the variable to set', async () => {
    const report = await t.get(PremarketCheckService).run('manual');
    expect(report.lacking).toEqual([
      {
        userId: 'LIVE_A',
        status: 'not_configured',
        action: expect.stringContaining('SHAREKHAN_API_KEY'),
      },
      {
        userId: 'SMALL_USER',
        status: 'not_configured',
        action: expect.stringContaining('SHAREKHAN_API_KEY'),
      },
    ]);
  });
});

describe('per-order fat-finger limits', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await start();
    await submitToken(t, 'LIVE_A', fake.issueAccessToken('C100'));
    await submitToken(t, 'SMALL_USER', fake.issueAccessToken('C200'));
    await submitToken(t, 'PAPER_P', `paper-${randomBytes(12).toString('hex')}`);
  });
  afterAll(() => t?.close());

  const place = (userId: string, order: Record<string, unknown>) =>
    admin(t, 'post', '/orchestrator/orders').send({
      userId,
      order: { ...SAMPLE_ORDER, ...order },
    });
  const sentTo = (customerId: string) =>
    fake.orderAttempts.filter((a) => a.customerId === customerId).length;

  it('a quantity of 1e15 is refused (422 naming maxQuantity) and never reaches the broker', async () => {
    const before = fake.orderAttempts.length;
    const res = await place('LIVE_A', {
      quantity: 1e15,
      tradingSymbol: 'FATFINGER',
    });
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({
      code: 'ORDER_LIMIT_EXCEEDED',
      outcome: 'not_placed',
      limit: { limit: 'maxQuantity', max: 5000, value: 1e15 },
    });
    expect(res.body.message).toMatch(
      /quantity 1000000000000000 is above maxQuantity 5000 for LIVE_A; nothing was sent/,
    );
    expect(fake.orderAttempts.length).toBe(before);
    expect(
      fake.orderAttempts.some((a) => a.tradingSymbol === 'FATFINGER'),
    ).toBe(false);
  });

  it('price x quantity above maxNotional is refused; a market order (price 0) has no notional to check', async () => {
    // 4,000 x 2,500.50 = 1,00,02,000: under maxQuantity, above the 50 lakh notional.
    const res = await place('LIVE_A', {
      quantity: 4000,
      tradingSymbol: 'NOTIONAL',
    });
    expect(res.status).toBe(422);
    expect(res.body.limit).toEqual({
      limit: 'maxNotional',
      max: 5_000_000,
      value: 10_002_000,
    });
    expect(res.body.message).toMatch(
      /notional \(price x quantity\) 10002000 is above maxNotional 5000000/,
    );
    expect(fake.orderAttempts.some((a) => a.tradingSymbol === 'NOTIONAL')).toBe(
      false,
    );

    const market = await place('LIVE_A', {
      quantity: 4000,
      price: '0',
      tradingSymbol: 'MARKET',
    });
    expect(market.status, market.text).toBe(201);
    expect(
      fake.orderAttempts.filter((a) => a.tradingSymbol === 'MARKET'),
    ).toHaveLength(1);
  });

  it("a user's own limits (TRADING_USERS fields 5 and 6) apply to that user only", async () => {
    const before = sentTo('C200');
    const tooMany = await place('SMALL_USER', { quantity: 11 });
    expect(tooMany.status).toBe(422);
    expect(tooMany.body.limit).toEqual({
      limit: 'maxQuantity',
      max: 10,
      value: 11,
    });
    const tooDear = await place('SMALL_USER', {
      quantity: 10,
      price: '3000.01',
    });
    expect(tooDear.body.limit).toMatchObject({
      limit: 'maxNotional',
      max: 30000,
    });
    expect(sentTo('C200')).toBe(before);
    expect(
      (await place('SMALL_USER', { quantity: 10, price: '3000' })).status,
    ).toBe(201);
    expect(sentTo('C200')).toBe(before + 1);
  });

  it('paper orders and every user of a signal are held to the same limits', async () => {
    const paper = await place('PAPER_P', { quantity: 5001 });
    expect(paper.status).toBe(422);
    expect(paper.body).toMatchObject({
      code: 'ORDER_LIMIT_EXCEEDED',
      mode: 'paper',
    });

    const before = fake.orderAttempts.length;
    const sig = await admin(t, 'post', '/orchestrator/signals').send({
      signalId: 'fat-1',
      users: ['LIVE_A', 'SMALL_USER'],
      order: { ...SAMPLE_ORDER, quantity: 100 },
    });
    expect(sig.status).toBe(200);
    const results = Object.fromEntries(
      sig.body.results.map((r: { userId: string }) => [r.userId, r]),
    );
    // 100 x 2,500.50 is fine for LIVE_A, above SMALL_USER's 10 shares.
    expect(results.LIVE_A).toMatchObject({ outcome: 'placed' });
    expect(results.SMALL_USER).toMatchObject({
      code: 'ORDER_LIMIT_EXCEEDED',
      httpStatus: 422,
    });
    expect(fake.orderAttempts.length).toBe(before + 1);
  });

  it("refusals are counted by limit in /metrics, and readiness shows each user's limits", async () => {
    const metrics = (await request(t.http).get('/metrics').expect(200)).text;
    expect(metrics).toMatch(
      /orchestrator_order_limit_refusals_total\{mode="live",limit="maxQuantity"\} [1-9]/,
    );
    expect(metrics).toMatch(
      /orchestrator_order_limit_refusals_total\{mode="live",limit="maxNotional"\} [1-9]/,
    );
    expect(metrics).toMatch(
      /orchestrator_order_limit_refusals_total\{mode="paper",limit="maxQuantity"\} 1/,
    );

    const ready = await admin(t, 'get', '/orchestrator/readiness').expect(200);
    const users = byUser(ready.body);
    expect(users.LIVE_A.limits).toEqual({
      maxQuantity: 5000,
      maxNotional: 5_000_000,
    });
    expect(users.SMALL_USER.limits).toEqual({
      maxQuantity: 10,
      maxNotional: 30000,
    });
    expect(users.LIVE_A).toMatchObject({ status: 'ready', canTrade: true });
  });
});
