import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { onTestFinished } from 'vitest';
import { CacheService } from '../src/cache/cache.service.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { startFakeShareKhan } from './helpers/fake-sharekhan.js';
import { startRedis } from './helpers/redis-server.js';
import { waitUntil } from './helpers/wait.js';
import { SAMPLE_ORDER } from './fixtures/orders.js';

/**
 * The broker rate limit (docs/orchestrator.md, "Broker rate limit") holds across replicas: two apps
 * on one Redis, each fanning a signal out to every live user at once; the fake broker's own record
 * of arrivals is the evidence.
 */

const ADMIN_KEY = `admin-${randomBytes(12).toString('hex')}`;
const SHAREKHAN_API_KEY = `skapi-${randomBytes(8).toString('hex')}`;
const SECRET_KEY = randomBytes(16).toString('hex');
const ENCRYPTION_KEYS = `k1:${randomBytes(32).toString('base64')}`;
const LIMIT = 5;
const USERS = Array.from({ length: 8 }, (_, i) => ({
  id: `LIVE_U${i}`,
  customer: `C${100 + i}`,
}));
const ORDER = SAMPLE_ORDER;

/** The most arrivals within any `windowMs` (each arrival starts a window). */
function busiestWindow(times: number[], windowMs: number): number {
  const t = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < t.length; i++) {
    while (t[i] - t[j] >= windowMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

describe('broker rate limit across replicas', () => {
  it(`two replicas, ${LIMIT}/s: the broker never sees more than ${LIMIT} in any second, every order placed or answered rate-limited`, async () => {
    const redis = await startRedis();
    onTestFinished(() => redis.stop());
    const fake = await startFakeShareKhan({
      secretKey: SECRET_KEY,
      apiKey: SHAREKHAN_API_KEY,
    });
    onTestFinished(() => fake.close());
    const env = {
      REDIS_URL: redis.url,
      CACHE_KEY_PREFIX: `brl-${randomBytes(3).toString('hex')}:`,
      SHAREKHAN_API_BASE_URL: fake.baseUrl,
      SHAREKHAN_API_KEY,
      SHAREKHAN_SECRET_KEY: SECRET_KEY,
      TOKEN_ENCRYPTION_KEYS: ENCRYPTION_KEYS,
      API_KEYS: `ops:admin:${ADMIN_KEY}`,
      API_RATE_LIMIT: '100000',
      TRADING_USERS: USERS.map(
        (u) => `${u.id}:live:${u.customer}:L${u.customer}`,
      ).join(','),
    };
    const apps: TestApp[] = [];
    for (let i = 0; i < 2; i++) {
      const app = await createTestApp(env, (c) => {
        c.orchestrator.brokerOrdersPerSecond = LIMIT;
        // The apps, the fake broker and the test share one loaded event loop: up to ~230 ms was
        // seen between granting an order and the fake receiving it.
        c.orchestrator.brokerTransitMarginMs = 400;
      });
      onTestFinished(() => app.close());
      const cache = app.get(CacheService);
      await waitUntil(
        Date.now() + 10_000,
        'the cache to use Redis',
        async () => cache.mode === 'redis',
        20,
      );
      apps.push(app);
    }
    for (const u of USERS) {
      await request(apps[0].http)
        .put(`/sharekhan/users/${u.id}/token`)
        .set('x-api-key', ADMIN_KEY)
        .send({ accessToken: fake.issueAccessToken(u.customer) })
        .expect(200);
    }

    // One 429 from the broker mid-way: its Retry-After (1 s) pauses both replicas.
    setTimeout(() => fake.failNext({ status: 429, path: '/orders' }), 1_200);
    const answers = await Promise.all(
      apps.map((app, i) =>
        request(app.http)
          .post('/orchestrator/signals')
          .set('x-api-key', ADMIN_KEY)
          .send({ signalId: `burst-${i}`, users: 'all', order: ORDER }),
      ),
    );

    const results = answers.flatMap(
      (a) =>
        a.body.results as {
          outcome: string;
          code?: string;
          orderId?: string;
        }[],
    );
    expect(results).toHaveLength(2 * USERS.length);
    for (const r of results) {
      if (r.outcome !== 'placed')
        expect(r).toMatchObject({
          outcome: 'not_placed',
          code: 'BROKER_RATE_LIMITED',
        });
    }
    const attempts = fake.orderAttempts;
    const placed = results.filter((r) => r.outcome === 'placed');
    expect(
      attempts
        .filter((a) => a.status === 200)
        .map((a) => a.orderId)
        .sort(),
    ).toEqual(placed.map((r) => r.orderId).sort());
    expect(attempts.filter((a) => a.status === 429)).toHaveLength(1);
    expect(
      busiestWindow(
        attempts.map((a) => a.at),
        1_000,
      ),
    ).toBeLessThanOrEqual(LIMIT);
    // Paced, not refused: most of the 16 orders fit in the default 5 s wait.
    expect(placed.length).toBeGreaterThanOrEqual(10);
  });
});
