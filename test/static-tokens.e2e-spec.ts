import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { CacheService } from '../src/cache/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { startRedis, waitUntil, type RedisProcess } from './helpers/index.js';

/**
 * Issue 13, one home for tokens: a static `SHAREKHAN_ACCESS_TOKEN_<USER>` token is the ShareKhan
 * module's, so the token endpoint reports a user trading on one, with the same fingerprint the
 * orchestrator shows for the orders it places with it.
 */
const ADMIN_KEY = `admin-${randomBytes(12).toString('hex')}`;
const STATIC_TOKEN = `static-token-${randomBytes(12).toString('hex')}`;
const STORED_TOKEN = `stored-token-${randomBytes(12).toString('hex')}`;

let redis: RedisProcess;
let t: TestApp;
beforeAll(async () => {
  redis = await startRedis();
  t = await createTestApp({
    REDIS_URL: redis.url,
    CACHE_KEY_PREFIX: `st-${randomBytes(3).toString('hex')}:`,
    API_KEYS: `ops:admin:${ADMIN_KEY}`,
    TRADING_USERS: 'PAPER_ENV:paper::,PAPER_STORED:paper::,PAPER_NONE:paper::',
    SHAREKHAN_ACCESS_TOKEN_PAPER_ENV: STATIC_TOKEN,
  });
  const cache = t.get(CacheService);
  await waitUntil(Date.now() + 10_000, 'the cache to use Redis', async () => cache.mode === 'redis', 20);
});
afterAll(async () => {
  await t?.close();
  await redis?.stop();
});

const admin = (r: request.Test) => r.set('x-api-key', ADMIN_KEY);
const ORDER = { scripCode: 2885, tradingSymbol: 'RELIANCE', exchange: 'NC', transactionType: 'B', quantity: 1, price: '2500.50', requestType: 'NEW', productType: 'INVESTMENT' };

describe('static tokens live in the ShareKhan module', () => {
  it('GET /sharekhan/users/:userId/token reports a user trading on a static token', async () => {
    const res = await admin(request(t.http).get('/sharekhan/users/PAPER_ENV/token'));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ userId: 'PAPER_ENV', present: true, usable: true, status: 'active', source: 'env', mask: `****${STATIC_TOKEN.slice(-4)}` });
    expect(res.text).not.toContain(STATIC_TOKEN);
  });

  it('the token endpoint and the orchestrator show one fingerprint for the same token', async () => {
    const status = await admin(request(t.http).get('/sharekhan/users/PAPER_ENV/token'));
    const order = await admin(request(t.http).post('/orchestrator/orders')).send({ userId: 'PAPER_ENV', order: ORDER });
    expect(order.status, order.text).toBeLessThan(300);
    expect(order.body.tokenFingerprint).toBe(status.body.fingerprint);

    const put = await admin(request(t.http).put('/sharekhan/users/PAPER_STORED/token')).send({ accessToken: STORED_TOKEN });
    const stored = await admin(request(t.http).post('/orchestrator/orders')).send({ userId: 'PAPER_STORED', order: ORDER });
    expect(put.status).toBe(200);
    expect(stored.body.tokenFingerprint).toBe(put.body.fingerprint);
  });

  it('a user without any token is still missing', async () => {
    const res = await admin(request(t.http).get('/sharekhan/users/PAPER_NONE/token'));
    expect(res.body).toMatchObject({ present: false, status: 'missing' });
  });
});
