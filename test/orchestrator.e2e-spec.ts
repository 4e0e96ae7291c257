import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { onTestFinished, vi } from 'vitest';
import { CacheService } from '../src/cache/cache.service.js';
import { PremarketCheckService } from '../src/orchestrator/premarket-check.service.js';
import { TokenClock } from '../src/sharekhan/tokens/token-clock.js';
import type { AppConfig } from '../src/config/load-config.js';
import { ShareKhanTokenStore } from '../src/sharekhan/tokens/token-store.service.js';
import { CacheThrottlerStorage } from '../src/auth/index.js';
import { createTestApp as createApp, type TestApp } from './helpers/app.js';
import { captureLogs } from './helpers/logs.js';
import { startFakeShareKhan, type FakeShareKhan } from './helpers/fake-sharekhan.js';
import { startRedis, type RedisProcess } from './helpers/redis-server.js';
import { waitUntil } from './helpers/wait.js';

/**
 * The orchestrator end to end: the real app (createTestApp), a real redis-server, the fake
 * ShareKhan server. Every assertion about "sent" or "not sent" is made on the fake's own record
 * of the requests it received.
 */

const ADMIN_KEY = `admin-${randomBytes(12).toString('hex')}`;
const MASTER_KEY = `master-${randomBytes(12).toString('hex')}`;
const SHAREKHAN_API_KEY = `skapi-${randomBytes(8).toString('hex')}`;
const SECRET_KEY = randomBytes(16).toString('hex'); // 32 ASCII bytes
const ENCRYPTION_KEYS = `k1:${randomBytes(32).toString('base64')}`;

const USERS = [
  'PAPER_TRADER_001:paper:P001:PLOGIN1',
  'MASTER_USER_001:live:C100:LOGIN100',
  'LIVE_USER_002:live:C200:LOGIN200',
  'LIVE_USER_003:live:C300:LOGIN300',
].join(',');

const ORDER = {
  scripCode: 2885,
  tradingSymbol: 'RELIANCE',
  exchange: 'NC',
  transactionType: 'B',
  quantity: 2,
  price: '2500.50',
  requestType: 'NEW',
  productType: 'INVESTMENT',
};

function baseEnv(redis: RedisProcess, fake: FakeShareKhan, prefix: string, extra: Record<string, string> = {}) {
  return {
    REDIS_URL: redis.url,
    CACHE_KEY_PREFIX: prefix,
    CACHE_COMMAND_TIMEOUT_MS: '200',
    SHAREKHAN_API_BASE_URL: fake.baseUrl,
    SHAREKHAN_API_KEY,
    SHAREKHAN_SECRET_KEY: SECRET_KEY,
    TOKEN_ENCRYPTION_KEYS: ENCRYPTION_KEYS,
    API_KEYS: `ops:admin:${ADMIN_KEY},master:MASTER_USER_001:${MASTER_KEY}`,
    API_RATE_LIMIT: '100000',
    TRADING_USERS: USERS,
    ...extra,
  };
}

/** Orders hang at most 600 ms here (a module option, no variable); `fanout` 1 serialises a signal. */
const tuned =
  (fanout?: number) =>
  (c: AppConfig): void => {
    c.orchestrator.orderTimeoutMs = 600;
    if (fanout !== undefined) c.orchestrator.fanoutConcurrency = fanout;
  };

/** The app once its cache uses Redis: signals claim under the default `refuse`, which places nothing before that. */
async function createTestApp(env: Record<string, string>, tweak: (c: AppConfig) => void = tuned()): Promise<TestApp> {
  const app = await createApp(env, tweak);
  const cache = app.get(CacheService);
  await waitUntil(Date.now() + 10_000, 'the cache to use Redis', async () => cache.mode === 'redis', 20);
  return app;
}

const byText = (x: string, y: string) => x.localeCompare(y);
const ordersSent = (fake: FakeShareKhan) => fake.requestsTo('POST', '/orders');

/** The fake broker answers orders after `ms` until the returned reset runs (or the test ends). */
function slowOrders(fake: FakeShareKhan, ms: number): () => void {
  const reset = () => fake.setLatency(0, '/orders');
  onTestFinished(reset);
  fake.setLatency(ms, '/orders');
  return reset;
}

async function submitToken(t: TestApp, userId: string, accessToken: string): Promise<void> {
  await request(t.http)
    .put(`/sharekhan/users/${userId}/token`)
    .set('x-api-key', ADMIN_KEY)
    .send({ accessToken })
    .expect((res) => {
      if (res.status >= 300) throw new Error(`token submit for ${userId}: ${res.status} ${JSON.stringify(res.body)}`);
    });
}

function placeOrder(t: TestApp, body: unknown, key = ADMIN_KEY) {
  return request(t.http).post('/orchestrator/orders').set('x-api-key', key).send(body as object);
}

function signal(t: TestApp, body: unknown, key = ADMIN_KEY) {
  return request(t.http).post('/orchestrator/signals').set('x-api-key', key).send(body as object);
}

describe('OrchestratorModule (e2e)', () => {
  let redis: RedisProcess;
  let fake: FakeShareKhan;
  let t: TestApp;
  let masterToken: string;

  beforeAll(async () => {
    redis = await startRedis();
    fake = await startFakeShareKhan({ secretKey: SECRET_KEY, apiKey: SHAREKHAN_API_KEY });
    // Signals claim under the default `refuse`: a claim timing out on a loaded machine would place nothing.
    t = await createTestApp(baseEnv(redis, fake, `orch-${randomBytes(3).toString('hex')}:`, { CACHE_COMMAND_TIMEOUT_MS: '1000' }));
    masterToken = fake.issueAccessToken('C100');
    await submitToken(t, 'MASTER_USER_001', masterToken);
    await submitToken(t, 'PAPER_TRADER_001', `paper-${randomBytes(12).toString('hex')}`);
  });

  afterAll(async () => {
    await t?.close();
    await fake?.close();
    await redis?.stop();
  });

  describe('the token read overlaps the API rate limit count (docs/orchestrator.md, "Order latency")', () => {
    /** Holds the rate limit's count until released; records the count and every token lookup, in order. */
    function holdCount() {
      const storage = t.get(CacheThrottlerStorage);
      const store = t.get(ShareKhanTokenStore);
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const events: string[] = [];
      const increment = storage.increment.bind(storage);
      vi.spyOn(storage, 'increment').mockImplementation(async (...args) => {
        events.push('count');
        await gate;
        return increment(...args);
      });
      const lookup = store.lookup.bind(store);
      vi.spyOn(store, 'lookup').mockImplementation((userId) => {
        events.push(`lookup ${userId}`);
        return lookup(userId);
      });
      onTestFinished(() => {
        release();
        vi.restoreAllMocks();
      });
      return { events, release };
    }

    it("starts the user's token read before the count answers, and sends the order only after it", async () => {
      const { events, release } = holdCount();
      const before = ordersSent(fake).length;
      const res = placeOrder(t, { userId: 'MASTER_USER_001', order: ORDER }).then((r) => r);
      await waitUntil(Date.now() + 5_000, 'the count to start', async () => events.includes('count'), 5);
      await new Promise((r) => setTimeout(r, 50));
      expect(events).toEqual(['lookup MASTER_USER_001', 'count']);
      expect(ordersSent(fake).length).toBe(before);
      release();
      expect((await res).status).toBe(201);
      expect(ordersSent(fake).length).toBe(before + 1);
      expect(events).toEqual(['lookup MASTER_USER_001', 'count']);
    });

    it('reads nothing early for a key that may not act on the user', async () => {
      const { events, release } = holdCount();
      release();
      await placeOrder(t, { userId: 'LIVE_USER_002', order: ORDER }, MASTER_KEY).expect(403);
      await placeOrder(t, { userId: 'LIVE_USER_002', order: ORDER }, 'not-a-key').expect(401);
      expect(events.filter((e) => e.startsWith('lookup'))).toEqual([]);
    });
  });

  describe('paper and live users end to end', () => {
    it('fills a paper order locally with a PAPER- id, keeps it per user, and sends nothing to ShareKhan', async () => {
      const before = ordersSent(fake).length;
      const res = await placeOrder(t, { userId: 'PAPER_TRADER_001', order: ORDER }).expect(201);
      expect(res.body).toMatchObject({ userId: 'PAPER_TRADER_001', mode: 'paper', outcome: 'placed', broker: 'paper', orderStatus: 'FILLED' });
      expect(res.body.orderId).toMatch(/^PAPER-/);
      expect(ordersSent(fake).length).toBe(before);

      const book = await request(t.http).get('/orchestrator/users/PAPER_TRADER_001/orders').set('x-api-key', ADMIN_KEY).expect(200);
      expect(book.body.orders).toContainEqual(expect.objectContaining({ orderId: res.body.orderId, broker: 'paper', fillPrice: '2500.50' }));
      const other = await request(t.http).get('/orchestrator/users/MASTER_USER_001/orders').set('x-api-key', ADMIN_KEY).expect(200);
      expect(other.body.orders.map((o: { orderId: string }) => o.orderId)).not.toContain(res.body.orderId);
    });

    it('sends a live order to ShareKhan with the user’s own token, account and login id', async () => {
      const before = ordersSent(fake).length;
      const res = await placeOrder(t, { userId: 'MASTER_USER_001', order: ORDER }).expect(201);
      expect(res.body).toMatchObject({ mode: 'live', outcome: 'placed', broker: 'sharekhan', tokenSource: 'manual' });
      const sent = ordersSent(fake).slice(before);
      expect(sent).toHaveLength(1);
      expect(sent[0].headers['access-token']).toBe(masterToken);
      expect(sent[0].headers['api-key']).toBe(SHAREKHAN_API_KEY);
      expect(sent[0].body).toMatchObject({ customerId: 'C100', channelUser: 'LOGIN100', scripCode: 2885, requestType: 'NEW' });
      expect(fake.orders.find((o) => o.orderId === res.body.orderId)?.customerId).toBe('C100');
      expect(JSON.stringify(res.body)).not.toContain(masterToken);
    });
  });

  describe('token resolution failures: each its own error and status', () => {
    it('a token stored under another id is never used: missing (412) with the endpoint to submit one', async () => {
      // Near-miss ids a buggy frontend might write under; none of them is LIVE_USER_003.
      // (Written straight into the store: the HTTP API refuses ids that are not trading users.)
      const store = t.get(ShareKhanTokenStore);
      for (const id of ['LIVE_USER_03', 'LIVE_USER_0033']) {
        await store.submit(id, { accessToken: fake.issueAccessToken('C300'), source: 'manual', actor: { who: 'test', source: 'test' } });
      }
      const before = fake.requests.length;
      const res = await placeOrder(t, { userId: 'LIVE_USER_003', order: ORDER }).expect(412);
      expect(res.body).toMatchObject({ statusCode: 412, code: 'TOKEN_MISSING', outcome: 'not_placed', userId: 'LIVE_USER_003' });
      expect(res.body.action).toContain('PUT /sharekhan/users/LIVE_USER_003/token');
      expect(fake.requests.length).toBe(before);
    });

    it('an unknown user id is a 404, never a guess', async () => {
      const before = fake.requests.length;
      const res = await placeOrder(t, { userId: 'MASTER_USER_002', order: ORDER }).expect(404);
      expect(res.body).toMatchObject({ code: 'USER_UNKNOWN' });
      // The operator of this app sets TRADING_USERS: the app names it (a library user reads the option name).
      expect(res.body.action).toBe('Use the exact id of a user in TRADING_USERS.');
      const book = await request(t.http).get('/orchestrator/users/MASTER_USER_002/orders').set('x-api-key', ADMIN_KEY).expect(404);
      expect(book.body.message).toMatch(/No trading user MASTER_USER_002 is configured \(use the exact id of a user in TRADING_USERS\)/);
      const aimed = await placeOrder(t, { userId: 'MASTER_USER_001', order: { ...ORDER, customerId: 'C999' } }).expect(400);
      expect(JSON.stringify(aimed.body)).toMatch(/customerId and channelUser come from the trading user's configuration, not from the request/);
      expect(JSON.stringify([res.body, book.body, aimed.body])).not.toMatch(/OrchestratorModule|option/);
      expect(fake.requests.length).toBe(before);
    });

    it('an expired token gives 409 TOKEN_EXPIRED and sends nothing', async () => {
      await submitToken(t, 'LIVE_USER_002', fake.issueAccessToken('C200'));
      const clock = t.get(TokenClock);
      const spy = vi.spyOn(clock, 'now').mockReturnValue(Date.now() + 48 * 3600_000);
      onTestFinished(() => spy.mockRestore());
      const before = fake.requests.length;
      const res = await placeOrder(t, { userId: 'LIVE_USER_002', order: ORDER }).expect(409);
      expect(res.body).toMatchObject({ code: 'TOKEN_EXPIRED', outcome: 'not_placed' });
      // An operator reads India's time, labelled, not UTC: the default cut-off is 06:00 IST.
      expect(res.body.message).toMatch(/expired at \d{4}-\d\d-\d\d 06:00:00 IST\./);
      expect(fake.requests.length).toBe(before);

      const ready = await request(t.http).get('/orchestrator/readiness').set('x-api-key', ADMIN_KEY).expect(200);
      expect(ready.body.users).toContainEqual(expect.objectContaining({ userId: 'LIVE_USER_002', status: 'expired', canTrade: false }));
    });

    it('a broker 403 marks the token invalid (audit event) and refuses the next orders (424) until a new token arrives', async () => {
      const token = fake.issueAccessToken('C200');
      await submitToken(t, 'LIVE_USER_002', token);
      fake.revoke(token);
      const before = ordersSent(fake).length;

      const first = await placeOrder(t, { userId: 'LIVE_USER_002', order: ORDER }).expect(424);
      expect(first.body).toMatchObject({ code: 'BROKER_TOKEN_REJECTED', outcome: 'not_placed', brokerStatus: 403 });
      const status = await request(t.http).get('/sharekhan/users/LIVE_USER_002/token').set('x-api-key', ADMIN_KEY).expect(200);
      expect(JSON.stringify(status.body)).toContain('invalid');
      const audit = await request(t.http).get('/sharekhan/users/LIVE_USER_002/audit').set('x-api-key', ADMIN_KEY).expect(200);
      expect(JSON.stringify(audit.body)).toMatch(/invalidated|rejected_by_broker/);

      const second = await placeOrder(t, { userId: 'LIVE_USER_002', order: ORDER }).expect(424);
      expect(second.body).toMatchObject({ code: 'TOKEN_INVALID', outcome: 'not_placed' });
      expect(ordersSent(fake).length).toBe(before + 1);

      await submitToken(t, 'LIVE_USER_002', fake.issueAccessToken('C200'));
      await placeOrder(t, { userId: 'LIVE_USER_002', order: ORDER }).expect(201);
      expect(ordersSent(fake).length).toBe(before + 2);
    });

    it('a slow 403 for an old token leaves a token submitted meanwhile usable; only the refused one is marked', async () => {
      const t1 = fake.issueAccessToken('C200');
      await submitToken(t, 'LIVE_USER_002', t1);
      fake.revoke(t1);
      const fastOrders = slowOrders(fake, 300);
      const before = ordersSent(fake).length;
      const t2 = fake.issueAccessToken('C200');
      const pending = placeOrder(t, { userId: 'LIVE_USER_002', order: ORDER }).then((r) => r);
      await waitUntil(Date.now() + 5_000, 'the order at the fake broker', async () => ordersSent(fake).length > before, 10);
      // While the broker thinks about T1, the user submits a valid T2.
      await submitToken(t, 'LIVE_USER_002', t2);
      const first = await pending;
      fastOrders();
      expect(first.status).toBe(424);
      expect(first.body).toMatchObject({ code: 'BROKER_TOKEN_REJECTED' });

      const status = await request(t.http).get('/sharekhan/users/LIVE_USER_002/token').set('x-api-key', ADMIN_KEY).expect(200);
      expect(status.body).toMatchObject({ status: 'active', usable: true, source: 'manual' });
      expect(status.body.fingerprint).not.toBe(first.body.tokenFingerprint);
      const audit = await request(t.http).get('/sharekhan/users/LIVE_USER_002/audit').set('x-api-key', ADMIN_KEY).expect(200);
      const invalidated = audit.body.events.find((e: { action: string }) => e.action === 'invalidated');
      expect(invalidated.fingerprint).toBe(first.body.tokenFingerprint);
      expect(invalidated.detail).toMatch(/newer one/);

      const next = await placeOrder(t, { userId: 'LIVE_USER_002', order: ORDER }).expect(201);
      expect(ordersSent(fake).at(-1)!.headers['access-token']).toBe(t2);
      expect(next.body.tokenFingerprint).toBe(status.body.fingerprint);
    });

    it('a revoked token is reported as revoked, by whom and when, not as a broker refusal', async () => {
      await submitToken(t, 'LIVE_USER_002', fake.issueAccessToken('C200'));
      await request(t.http).delete('/sharekhan/users/LIVE_USER_002/token').set('x-api-key', ADMIN_KEY).expect(200);
      const before = fake.requests.length;
      const res = await placeOrder(t, { userId: 'LIVE_USER_002', order: ORDER }).expect(424);
      expect(res.body).toMatchObject({ code: 'TOKEN_REVOKED', outcome: 'not_placed' });
      expect(res.body.message).toMatch(/was revoked \(revoked by ops at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d IST\)/);
      expect(res.body.message).not.toMatch(/rejected by the broker|403/);
      expect(fake.requests.length).toBe(before);
      const ready = await request(t.http).get('/orchestrator/readiness').set('x-api-key', ADMIN_KEY).expect(200);
      expect(ready.body.users).toContainEqual(expect.objectContaining({ userId: 'LIVE_USER_002', status: 'revoked', canTrade: false }));
      await submitToken(t, 'LIVE_USER_002', fake.issueAccessToken('C200'));
    });

    it('a token for a user id that is not a trading user is refused (404 naming the option, listing no other user), nothing stored', async () => {
      const res = await request(t.http).put('/sharekhan/users/LIVE_USER_004/token').set('x-api-key', ADMIN_KEY).send({ accessToken: fake.issueAccessToken('C400') });
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ code: 'NOT_A_TRADING_USER' });
      expect(res.body.message).toMatch(/LIVE_USER_004 is not a trading user.*add LIVE_USER_004 to TRADING_USERS and restart/);
      expect(res.body.message).not.toMatch(/PAPER_TRADER_001|MASTER_USER_001|LIVE_USER_002/);
      const st = await request(t.http).get('/sharekhan/users/LIVE_USER_004/token').set('x-api-key', ADMIN_KEY).expect(200);
      expect(st.body).toMatchObject({ present: false, status: 'missing' });
    });
  });

  describe('broker failures', () => {
    it('a timed-out order is reported unknown (504), recorded, and sent exactly once', async () => {
      slowOrders(fake, 1_500);
      const before = ordersSent(fake).length;
      const res = await placeOrder(t, { userId: 'MASTER_USER_001', order: ORDER }).expect(504);
      expect(res.body).toMatchObject({ code: 'ORDER_OUTCOME_UNKNOWN', outcome: 'unknown', mode: 'live' });
      expect(res.body.action).toMatch(/not resent/);
      // Give any (wrong) retry time to show up at the fake.
      await new Promise((r) => setTimeout(r, 1_800));
      expect(ordersSent(fake).length).toBe(before + 1);

      const book = await request(t.http).get('/orchestrator/users/MASTER_USER_001/orders').set('x-api-key', ADMIN_KEY).expect(200);
      expect(book.body.orders.at(-1)).toMatchObject({ outcome: 'unknown', code: 'ORDER_OUTCOME_UNKNOWN' });
    });

    it('429 and 5xx are reported with the broker status and message, and not retried', async () => {
      const before = ordersSent(fake).length;
      fake.failNext({ status: 429, path: '/orders' });
      const limited = await placeOrder(t, { userId: 'MASTER_USER_001', order: ORDER }).expect(429);
      expect(limited.body).toMatchObject({ code: 'BROKER_RATE_LIMITED', outcome: 'not_placed', brokerStatus: 429, retryAfterMs: 1000 });
      expect(limited.body.message).toMatch(/429/);
      expect(limited.body.message).toContain('Too Many Requests');

      fake.failNext({ status: 502, path: '/orders' });
      const down = await placeOrder(t, { userId: 'MASTER_USER_001', order: ORDER }).expect(502);
      expect(down.body).toMatchObject({ code: 'BROKER_SERVER_ERROR', outcome: 'unknown', brokerStatus: 502 });
      expect(down.body.message).toMatch(/502/);
      expect(down.body.message).toContain('Bad Gateway');
      expect(ordersSent(fake).length).toBe(before + 2);
    });

    it('a broker rejection (data.errormsg) is 422 with the broker’s reason', async () => {
      onTestFinished(() => fake.rejectOrdersWith(null));
      fake.rejectOrdersWith('Insufficient margin');
      const res = await placeOrder(t, { userId: 'MASTER_USER_001', order: ORDER }).expect(422);
      expect(res.body).toMatchObject({ code: 'BROKER_REJECTED', outcome: 'not_placed' });
      expect(res.body.message).toContain('Insufficient margin');
    });
  });

  describe('signals', () => {
    it('fans out: one user fails, the others succeed, each with its own result', async () => {
      const before = ordersSent(fake).length;
      const res = await signal(t, {
        signalId: `sig-${randomBytes(4).toString('hex')}`,
        users: ['PAPER_TRADER_001', 'MASTER_USER_001', 'LIVE_USER_003'],
        order: ORDER,
      }).expect(200);
      const byUser = Object.fromEntries(res.body.results.map((r: { userId: string }) => [r.userId, r]));
      expect(byUser.PAPER_TRADER_001).toMatchObject({ outcome: 'placed', broker: 'paper' });
      expect(byUser.MASTER_USER_001).toMatchObject({ outcome: 'placed', broker: 'sharekhan' });
      expect(byUser.LIVE_USER_003).toMatchObject({ outcome: 'not_placed', code: 'TOKEN_MISSING', httpStatus: 412 });
      expect(res.body.summary).toMatchObject({ total: 3, placed: 2, notPlaced: 1, unknown: 0 });
      const sent = ordersSent(fake).slice(before);
      expect(sent.map((r) => (r.body as { customerId: string }).customerId)).toEqual(['C100']);
    });

    it('a retried signal places nothing twice, also when the retries are concurrent', async () => {
      const body = { signalId: `sig-${randomBytes(4).toString('hex')}`, users: ['PAPER_TRADER_001', 'MASTER_USER_001'], order: ORDER };
      const fastOrders = slowOrders(fake, 200);
      const before = ordersSent(fake).length;
      const [first, second] = await Promise.all([signal(t, body).expect(200), signal(t, body).expect(200)]);
      fastOrders();
      const all = [...first.body.results, ...second.body.results];
      // Each user placed by exactly one of the two; the other got "in progress" or the replay.
      expect(all.filter((r) => r.outcome === 'placed' && !r.replayed).map((r) => r.userId).sort(byText)).toEqual(['MASTER_USER_001', 'PAPER_TRADER_001']);
      expect(ordersSent(fake).length).toBe(before + 1);

      const retry = await signal(t, body).expect(200);
      expect(retry.body.summary).toMatchObject({ placed: 2, replayed: 2 });
      const placedIds = [...new Set<string>(all.filter((r) => r.outcome === 'placed').map((r) => r.orderId))].sort(byText);
      expect(retry.body.results.map((r: { orderId: string }) => r.orderId).sort(byText)).toEqual(placedIds);
      expect(ordersSent(fake).length).toBe(before + 1);
      const paperBook = await request(t.http).get('/orchestrator/users/PAPER_TRADER_001/orders').set('x-api-key', ADMIN_KEY).expect(200);
      expect(paperBook.body.orders.filter((o: { signalId: string }) => o.signalId === body.signalId)).toHaveLength(1);
    });

    it('"all" fans out to every configured user', async () => {
      const res = await signal(t, { signalId: `sig-${randomBytes(4).toString('hex')}`, users: 'all', order: ORDER }).expect(200);
      expect(res.body.results.map((r: { userId: string }) => r.userId)).toEqual(['PAPER_TRADER_001', 'MASTER_USER_001', 'LIVE_USER_002', 'LIVE_USER_003']);
    });
  });

  describe('bad requests and access', () => {
    it.each([
      ['no userId', { order: ORDER }, /body.userId/],
      ['a non-canonical user id', { userId: 'master_user_001', order: ORDER }, /body.userId/],
      ['no order', { userId: 'MASTER_USER_001' }, /body.order/],
      ['an account field in the order', { userId: 'MASTER_USER_001', order: { ...ORDER, customerId: 'C999' } }, /customerId/],
      ['quantity 0', { userId: 'MASTER_USER_001', order: { ...ORDER, quantity: 0 } }, /quantity must be greater than 0/],
      ['a bad exchange', { userId: 'MASTER_USER_001', order: { ...ORDER, exchange: 'NSE' } }, /exchange must be one of/],
      ['price as a number', { userId: 'MASTER_USER_001', order: { ...ORDER, price: 2500 } }, /price must be a decimal string/],
      ['F&O without contract fields', { userId: 'MASTER_USER_001', order: { ...ORDER, exchange: 'NF' } }, /instrumentType is required/],
    ])('order with %s is a 400 saying what is wrong, and nothing is sent', async (_name, body, message) => {
      const before = fake.requests.length;
      const res = await placeOrder(t, body).expect(400);
      expect(JSON.stringify(res.body.details)).toMatch(message);
      expect(fake.requests.length).toBe(before);
    });

    it('malformed JSON and bad signals are 400', async () => {
      await request(t.http).post('/orchestrator/orders').set('x-api-key', ADMIN_KEY).set('content-type', 'application/json').send('{"userId":').expect(400);
      const noId = await signal(t, { users: 'all', order: ORDER }).expect(400);
      expect(noId.body.details).toContainEqual({ field: 'body.signalId', problem: expect.any(String) });
      await signal(t, { signalId: 'x', users: 'everyone', order: ORDER }).expect(400);
      await signal(t, { signalId: 'x', users: [], order: ORDER }).expect(400);
      await signal(t, { signalId: 'x', users: 'all', order: { ...ORDER, quantity: -1 } }).expect(400);
    });

    it('needs an API key; a user-scoped key acts only on its own user', async () => {
      await request(t.http).post('/orchestrator/orders').send({ userId: 'MASTER_USER_001', order: ORDER }).expect(401);
      await request(t.http).get('/orchestrator/readiness').expect(401);
      const before = fake.requests.length;
      await placeOrder(t, { userId: 'LIVE_USER_002', order: ORDER }, MASTER_KEY).expect(403);
      await signal(t, { signalId: 'scoped-1', users: 'all', order: ORDER }, MASTER_KEY).expect(403);
      await signal(t, { signalId: 'scoped-1', users: ['MASTER_USER_001', 'LIVE_USER_002'], order: ORDER }, MASTER_KEY).expect(403);
      await request(t.http).get('/orchestrator/users/LIVE_USER_002/orders').set('x-api-key', MASTER_KEY).expect(403);
      await request(t.http).post('/orchestrator/premarket-check').set('x-api-key', MASTER_KEY).expect(403);
      expect(fake.requests.length).toBe(before);

      await placeOrder(t, { userId: 'MASTER_USER_001', order: ORDER }, MASTER_KEY).expect(201);
      const ready = await request(t.http).get('/orchestrator/readiness').set('x-api-key', MASTER_KEY).expect(200);
      expect(ready.body.users.map((u: { userId: string }) => u.userId)).toEqual(['MASTER_USER_001']);
    });
  });

  describe('readiness and the pre-market check', () => {
    it('reports each user: ready with seconds left, or missing with what to do', async () => {
      await submitToken(t, 'LIVE_USER_002', fake.issueAccessToken('C200'));
      const ready = await request(t.http).get('/orchestrator/readiness').set('x-api-key', ADMIN_KEY).expect(200);
      const byUser = Object.fromEntries(ready.body.users.map((u: { userId: string }) => [u.userId, u]));
      expect(byUser.MASTER_USER_001).toMatchObject({ status: 'ready', canTrade: true, source: 'manual' });
      expect(byUser.MASTER_USER_001.secondsLeft).toBeGreaterThan(0);
      expect(byUser.LIVE_USER_003).toMatchObject({ status: 'missing', canTrade: false, secondsLeft: null });
      expect(byUser.LIVE_USER_003.action).toContain('PUT /sharekhan/users/LIVE_USER_003/token');
      expect(ready.body.premarket.schedule).toMatchObject({ timeZone: 'Asia/Kolkata', timesIst: ['08:45', '09:10'] });
      expect(JSON.stringify(ready.body)).not.toContain(masterToken);
    });

    it('the scheduled check (called directly) logs and exposes the users without a valid token', async () => {
      const report = await t.get(PremarketCheckService).run('schedule');
      expect(report.lacking.map((l) => l.userId)).toEqual(['LIVE_USER_003']);
      const ready = await request(t.http).get('/orchestrator/readiness').set('x-api-key', ADMIN_KEY).expect(200);
      expect(ready.body.premarket.last).toMatchObject({ trigger: 'schedule', lacking: [expect.objectContaining({ userId: 'LIVE_USER_003', status: 'missing' })] });

      const manual = await request(t.http).post('/orchestrator/premarket-check').set('x-api-key', ADMIN_KEY).expect(200);
      expect(manual.body).toMatchObject({ trigger: 'manual', summary: { notReady: ['LIVE_USER_003'] } });
    });
  });
});

describe('OrchestratorModule with Redis killed in the middle of a fan-out (e2e)', () => {
  let redis: RedisProcess;
  let fake: FakeShareKhan;
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    redis = await startRedis();
    fake = await startFakeShareKhan({ secretKey: SECRET_KEY, apiKey: SHAREKHAN_API_KEY });
    const prefix = `orch-kill-${randomBytes(3).toString('hex')}:`;
    // Two instances on one Redis: A trades; B is "another pod" whose writes A never read.
    // `proceed`: users whose claims cannot be checked still trade (the default `refuse` would not).
    a = await createTestApp(baseEnv(redis, fake, prefix, { ORCHESTRATOR_IDEMPOTENCY_WHEN_UNAVAILABLE: 'proceed' }), tuned(1));
    b = await createTestApp(baseEnv(redis, fake, prefix, { ORCHESTRATOR_IDEMPOTENCY_WHEN_UNAVAILABLE: 'proceed' }));
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await fake?.close();
    await redis?.stop();
  });

  it('users whose tokens are in memory still trade; a token only in Redis is "unavailable" (503), not "missing"', async () => {
    await submitToken(a, 'MASTER_USER_001', fake.issueAccessToken('C100'));
    await submitToken(a, 'LIVE_USER_002', fake.issueAccessToken('C200'));
    await submitToken(a, 'PAPER_TRADER_001', `paper-${randomBytes(12).toString('hex')}`);
    await submitToken(b, 'LIVE_USER_003', fake.issueAccessToken('C300'));

    fake.setLatency(400, '/orders');
    const before = ordersSent(fake).length;
    const pending = signal(a, {
      signalId: 'kill-1',
      users: ['MASTER_USER_001', 'LIVE_USER_002', 'LIVE_USER_003', 'PAPER_TRADER_001'],
      order: ORDER,
    });
    const done = pending.then((r) => r);
    // Kill Redis while the first user's order is at the broker.
    await waitUntil(Date.now() + 5_000, 'the first order at the fake broker', async () => ordersSent(fake).length > before, 10);
    await redis.kill();
    const res = await done;
    fake.setLatency(0, '/orders');

    expect(res.status).toBe(200);
    const byUser = Object.fromEntries(res.body.results.map((r: { userId: string }) => [r.userId, r]));
    expect(byUser.MASTER_USER_001).toMatchObject({ outcome: 'placed' });
    expect(byUser.LIVE_USER_002).toMatchObject({ outcome: 'placed' });
    expect(byUser.PAPER_TRADER_001).toMatchObject({ outcome: 'placed' });
    expect(byUser.LIVE_USER_003).toMatchObject({ outcome: 'not_placed', code: 'TOKEN_STORE_UNAVAILABLE', httpStatus: 503 });
    const sent = ordersSent(fake).slice(before).map((r) => (r.body as { customerId: string }).customerId);
    expect(sent).toEqual(['C100', 'C200']);

    const single = await placeOrder(a, { userId: 'LIVE_USER_003', order: ORDER }).expect(503);
    expect(single.body).toMatchObject({ code: 'TOKEN_STORE_UNAVAILABLE' });
    expect(single.body.message).toMatch(/cannot be read/);

    const ready = await request(a.http).get('/orchestrator/readiness').set('x-api-key', ADMIN_KEY).expect(200);
    expect(ready.body.users).toContainEqual(expect.objectContaining({ userId: 'LIVE_USER_003', status: 'unknown', canTrade: false }));
    expect(ready.body.users).toContainEqual(expect.objectContaining({ userId: 'LIVE_USER_002', status: 'ready' }));

    // The retry during the outage is answered from memory: nothing placed twice.
    const retry = await signal(a, { signalId: 'kill-1', users: ['MASTER_USER_001', 'LIVE_USER_002', 'PAPER_TRADER_001'], order: ORDER }).expect(200);
    expect(retry.body.summary).toMatchObject({ replayed: 3 });
    expect(ordersSent(fake).length).toBe(before + 2);
  });
});

/** HH:MM in India, `ms` from now: a cut-off that cannot fall inside the test. */
function istClock(ms: number): string {
  return new Date(Date.now() + ms + 330 * 60_000).toISOString().slice(11, 16);
}

describe('OrchestratorModule: what an operator is told on the first day (e2e)', () => {
  let redis: RedisProcess;
  let fake: FakeShareKhan;
  let t: TestApp;

  beforeAll(async () => {
    redis = await startRedis();
    fake = await startFakeShareKhan({ secretKey: SECRET_KEY, apiKey: SHAREKHAN_API_KEY });
    const env: Record<string, string> = {
      ...baseEnv(redis, fake, `orch-day1-${randomBytes(3).toString('hex')}:`),
      SHAREKHAN_TOKEN_CUTOFF_IST: istClock(12 * 3600_000),
    };
    delete env.SHAREKHAN_API_KEY;
    delete env.SHAREKHAN_SECRET_KEY;
    t = await createTestApp(env, (c) => {
      tuned()(c);
      c.sharekhan.maxLifetimeMs = 3_600_000;
    });
  });

  afterAll(async () => {
    await t?.close();
    await fake?.close();
    await redis?.stop();
  });

  it('a token past its expiry is expired (409) with one audit event, not missing, also after Redis dropped its TTL', async () => {
    // Issued "59 minutes 58 seconds ago" with a 1 h lifetime: it expires, in Redis too, in 2 s.
    const clock = t.get(TokenClock);
    const spy = vi.spyOn(clock, 'now').mockImplementation(() => Date.now() - 3_600_000 + 2_000);
    onTestFinished(() => spy.mockRestore());
    await submitToken(t, 'LIVE_USER_002', fake.issueAccessToken('C200'));
    spy.mockRestore(); // from here on the clock is real: the token expires in 2 s
    await new Promise((r) => setTimeout(r, 2_500));

    for (let i = 0; i < 2; i++) {
      const res = await placeOrder(t, { userId: 'LIVE_USER_002', order: ORDER }).expect(409);
      expect(res.body).toMatchObject({ code: 'TOKEN_EXPIRED', outcome: 'not_placed' });
      expect(res.body.message).toMatch(/expired at/);
    }
    const st = await request(t.http).get('/sharekhan/users/LIVE_USER_002/token').set('x-api-key', ADMIN_KEY).expect(200);
    expect(st.body).toMatchObject({ present: true, usable: false, status: 'expired' });
    const audit = await request(t.http).get('/sharekhan/users/LIVE_USER_002/audit').set('x-api-key', ADMIN_KEY).expect(200);
    expect(audit.body.events.filter((e: { action: string }) => e.action === 'expired')).toHaveLength(1);
    expect(fake.requests).toHaveLength(0);
  });

  it('the start-up warning without SHAREKHAN_API_KEY names the variable, not the module option', async () => {
    const logs = captureLogs();
    const env: Record<string, string> = { ...baseEnv(redis, fake, `orch-day1w-${randomBytes(3).toString('hex')}:`), LOG_LEVEL: 'info' };
    delete env.SHAREKHAN_API_KEY;
    const other = await createTestApp(env);
    onTestFinished(() => other.close());
    const warned = logs.matching('every live order is refused');
    expect(warned.map((l) => l.msg)).toEqual(['SHAREKHAN_API_KEY is not set: every live order is refused (BROKER_NOT_CONFIGURED) until it is set']);
  });

  it('a live order without SHAREKHAN_API_KEY names the setting (503 BROKER_NOT_CONFIGURED), nothing sent', async () => {
    await submitToken(t, 'MASTER_USER_001', fake.issueAccessToken('C100'));
    const res = await placeOrder(t, { userId: 'MASTER_USER_001', order: ORDER }).expect(503);
    expect(res.body).toMatchObject({ code: 'BROKER_NOT_CONFIGURED', outcome: 'not_placed' });
    // The operator sets a variable, not a module option: the app names it.
    expect(res.body.message).toContain('set SHAREKHAN_API_KEY');
    expect(res.body.action).toBe('Set SHAREKHAN_API_KEY and restart; nothing was sent.');
    expect(JSON.stringify(res.body)).not.toMatch(/ShareKhanAuthModule|option/);
    expect(res.body.action).not.toMatch(/reachable/);
    expect(fake.requests).toHaveLength(0);
  });
});

describe('OrchestratorModule: a retry on the same replica after Redis lost the claims (e2e)', () => {
  // One Redis per app: a flush in one test must not open the other app's re-seed window.
  const redises: Record<string, RedisProcess> = {};
  let fake: FakeShareKhan;
  const apps: Record<string, TestApp> = {};

  beforeAll(async () => {
    fake = await startFakeShareKhan({ secretKey: SECRET_KEY, apiKey: SHAREKHAN_API_KEY });
    for (const policy of ['refuse', 'proceed']) {
      const redis = (redises[policy] = await startRedis());
      apps[policy] = await createTestApp(
        // A generous command timeout: under `refuse` a claim that times out on a loaded machine places nothing.
        baseEnv(redis, fake, `orch-same-${policy}-${randomBytes(3).toString('hex')}:`, {
          ORCHESTRATOR_IDEMPOTENCY_WHEN_UNAVAILABLE: policy,
          CACHE_COMMAND_TIMEOUT_MS: '2000',
        }),
      );
    }
  });

  afterAll(async () => {
    for (const app of Object.values(apps)) await app.close();
    await fake?.close();
    for (const redis of Object.values(redises)) await redis.stop();
  });

  it.each(['refuse', 'proceed'])('policy %s: the retry gets the first result back and nothing is placed twice', async (policy) => {
    const t = apps[policy];
    const redis = redises[policy];
    await submitToken(t, 'MASTER_USER_001', fake.issueAccessToken('C100'));
    const body = { signalId: `same-${policy}-${randomBytes(3).toString('hex')}`, users: ['MASTER_USER_001'], order: ORDER };
    const first = await signal(t, body).expect(200);
    expect(first.body.results[0]).toMatchObject({ outcome: 'placed' });
    const before = ordersSent(fake).length;

    // Redis loses every key without a disconnect (a flush, a failover to an empty replica).
    await redis.client().flushall();
    const retry = await signal(t, body).expect(200);
    expect(retry.body.results[0]).toMatchObject({ outcome: 'placed', replayed: true, orderId: first.body.results[0].orderId });
    expect(ordersSent(fake).length).toBe(before);
  });
});

describe('OrchestratorModule: a slow 403 on one replica while another takes a new token (e2e)', () => {
  let redis: RedisProcess;
  let fake: FakeShareKhan;
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    redis = await startRedis();
    fake = await startFakeShareKhan({ secretKey: SECRET_KEY, apiKey: SHAREKHAN_API_KEY });
    const prefix = `orch-403-${randomBytes(3).toString('hex')}:`;
    a = await createTestApp(baseEnv(redis, fake, prefix));
    b = await createTestApp(baseEnv(redis, fake, prefix));
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await fake?.close();
    await redis?.stop();
  });

  it('the refusal of T1 on A never touches T2 submitted on B; both replicas trade with T2', async () => {
    const t1 = fake.issueAccessToken('C200');
    await submitToken(a, 'LIVE_USER_002', t1);
    fake.revoke(t1);
    const fastOrders = slowOrders(fake, 300);
    const t2 = fake.issueAccessToken('C200');
    const pending = placeOrder(a, { userId: 'LIVE_USER_002', order: ORDER }).then((r) => r);
    await waitUntil(Date.now() + 5_000, 'the order at the fake broker', async () => ordersSent(fake).length > 0, 10);
    await submitToken(b, 'LIVE_USER_002', t2);
    const refused = await pending;
    fastOrders();
    expect(refused.body).toMatchObject({ code: 'BROKER_TOKEN_REJECTED' });

    for (const app of [a, b]) {
      await placeOrder(app, { userId: 'LIVE_USER_002', order: ORDER }).expect(201);
      expect(ordersSent(fake).at(-1)!.headers['access-token']).toBe(t2);
    }
    // And T1 stays refused everywhere if it comes back (e.g. replayed by an old writer).
    const resubmitted = await request(b.http).put('/sharekhan/users/LIVE_USER_002/token').set('x-api-key', ADMIN_KEY).send({ accessToken: t1 }).expect(200);
    expect(resubmitted.body).toMatchObject({ usable: false, status: 'invalid' });
    const again = await placeOrder(b, { userId: 'LIVE_USER_002', order: ORDER }).expect(424);
    expect(again.body).toMatchObject({ code: 'TOKEN_INVALID' });
    expect(again.body.message).toMatch(/HTTP 403/);
  });
});

describe('what an operator can alert on: tokens missing, orders placed and refused (e2e)', () => {
  /** One sample of a Prometheus exposition, 0 when absent. */
  const sample = (text: string, name: string, labels: string) =>
    Number(new RegExp(`^${name}\\{${labels.replace(/[{}]/g, '')}\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  const scrape = async (t: TestApp) => (await request(t.http).get('/metrics').expect(200)).text;

  it('counts configured users without any token as missing, and every order by mode and outcome with one log line', async () => {
    const redis = await startRedis();
    onTestFinished(() => redis.stop());
    const fake = await startFakeShareKhan({ secretKey: SECRET_KEY, apiKey: SHAREKHAN_API_KEY });
    onTestFinished(() => fake.close());
    const logs = captureLogs();
    const t = await createTestApp({ ...baseEnv(redis, fake, `orch-mon-${randomBytes(3).toString('hex')}:`), LOG_LEVEL: 'info' });
    onTestFinished(() => t.close());

    // Nobody has submitted anything yet: all four trading users cannot trade.
    let text = await scrape(t);
    expect(sample(text, 'broker_tokens', 'status="missing"')).toBe(4);
    const paperToken = `paper-${randomBytes(12).toString('hex')}`;
    await submitToken(t, 'PAPER_TRADER_001', paperToken);
    text = await scrape(t);
    expect(sample(text, 'broker_tokens', 'status="missing"')).toBe(3);
    expect(sample(text, 'broker_tokens', 'status="active"')).toBe(1);

    await placeOrder(t, { userId: 'PAPER_TRADER_001', order: ORDER }).expect(201);
    await placeOrder(t, { userId: 'LIVE_USER_002', order: ORDER }).expect(412);
    await placeOrder(t, { userId: 'NOBODY_001', order: ORDER }).expect(404);
    text = await scrape(t);
    expect(sample(text, 'orchestrator_orders_total', 'mode="paper",outcome="placed"')).toBe(1);
    expect(sample(text, 'orchestrator_orders_total', 'mode="live",outcome="not_placed"')).toBe(1);
    expect(sample(text, 'orchestrator_orders_total', 'mode="none",outcome="not_placed"')).toBe(1);

    const lines = logs.json().filter((l) => l.context === 'Orders');
    expect(lines.map((l) => l.msg)).toEqual([
      expect.stringMatching(/^Order placed for PAPER_TRADER_001 \(paper\) B 2 RELIANCE: order id PAPER-/),
      'Order not_placed for LIVE_USER_002 (live) B 2 RELIANCE: TOKEN_MISSING',
      'Order not_placed for NOBODY_001 (none): USER_UNKNOWN',
    ]);
    expect(lines.every((l) => l.level === 'info')).toBe(true);
    expect(logs.lines.join('\n')).not.toContain(paperToken);
  });
});
