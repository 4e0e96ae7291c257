import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { onTestFinished } from 'vitest';
import { CacheService } from '../src/cache/index.js';
import type { Env } from '../src/config/load-config.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { freePort, startRedis, waitUntil, type RedisProcess } from './helpers/index.js';

/**
 * Issue 11 item 6: one request budget per API key across every route and every replica (kept in
 * Redis), requests without a valid key counted per client address (the ingress hop trusted as
 * configured), IPv6 clients per /64.
 */
const ADMIN_KEY = `admin-${randomBytes(12).toString('hex')}`;
const USER_KEY = `user-a-${randomBytes(12).toString('hex')}`;
const WRONG_KEY = `wrong-${randomBytes(12).toString('hex')}`;
const LIMIT = 3;

/** Seven key-protected routes a caller can reach with one key. */
const ROUTES: ['get' | 'post', string][] = [
  ['get', '/sharekhan/users/USER_A/token'],
  ['get', '/sharekhan/tokens'],
  ['get', '/sharekhan/users/USER_A/audit'],
  ['get', '/sharekhan/users/USER_A/login-url'],
  ['get', '/orchestrator/readiness'],
  ['post', '/orchestrator/premarket-check'],
  ['get', '/orchestrator/users/USER_A/orders'],
];

let redis: RedisProcess;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis?.stop());

/** An app instance on the suite's Redis (or `redisUrl`), closed when the test ends. */
async function app(prefix: string, env: Env = {}, redisUrl = redis.url): Promise<TestApp> {
  const t = await createTestApp({
    REDIS_URL: redisUrl,
    CACHE_KEY_PREFIX: prefix,
    API_KEYS: `ops:admin:${ADMIN_KEY},ua:USER_A:${USER_KEY}`,
    TRADING_USERS: 'USER_A:paper::',
    API_RATE_LIMIT: String(LIMIT),
    ORCHESTRATOR_PREMARKET_CHECK_IST: '',
    ...env,
  });
  onTestFinished(() => t.close());
  if (redisUrl === redis.url) {
    const cache = t.get(CacheService);
    await waitUntil(Date.now() + 10_000, 'the cache to use Redis', async () => cache.mode === 'redis', 20);
  }
  return t;
}

const prefix = () => `rl-${randomBytes(4).toString('hex')}:`;

function hit(t: TestApp, method: 'get' | 'post', path: string, headers: Record<string, string> = {}) {
  const r = request(t.http)[method](path);
  for (const [k, v] of Object.entries(headers)) r.set(k, v);
  return r;
}

/** The login callback: no API key, so counted per client address. */
const callback = (t: TestApp, headers: Record<string, string> = {}) => hit(t, 'get', '/sharekhan/callback?request_token=junk&state=junk', headers);

describe('rate limit: one budget per API key', () => {
  it('a wrong key gets LIMIT tries in all, not LIMIT per route', async () => {
    const t = await app(prefix());
    const statuses: number[] = [];
    for (const [method, path] of ROUTES) statuses.push((await hit(t, method, path, { 'x-api-key': WRONG_KEY })).status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(LIMIT);
    expect(statuses.filter((s) => s === 429)).toHaveLength(ROUTES.length - LIMIT);
  });

  it('a valid key spends one budget across routes; another key has its own', async () => {
    const t = await app(prefix());
    const statuses: number[] = [];
    for (const [method, path] of ROUTES.slice(0, LIMIT + 1)) statuses.push((await hit(t, method, path, { 'x-api-key': ADMIN_KEY })).status);
    expect(statuses.slice(0, LIMIT).every((s) => s < 400)).toBe(true);
    const over = statuses[LIMIT];
    expect(over).toBe(429);
    expect((await hit(t, 'get', '/sharekhan/users/USER_A/token', { 'x-api-key': USER_KEY })).status).toBe(200);
  });

  it('two replicas on one Redis share the budget', async () => {
    const p = prefix();
    const a = await app(p);
    const b = await app(p);
    const key = { 'x-api-key': USER_KEY };
    expect((await hit(a, 'get', '/sharekhan/users/USER_A/token', key)).status).toBe(200);
    expect((await hit(b, 'get', '/sharekhan/users/USER_A/audit', key)).status).toBe(200);
    expect((await hit(a, 'get', '/orchestrator/readiness', key)).status).toBe(200);
    const over = await hit(b, 'get', '/sharekhan/users/USER_A/token', key);
    expect(over.status).toBe(429);
    expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
    expect((await hit(a, 'get', '/sharekhan/users/USER_A/token', key)).status).toBe(429);
  });

  it('while Redis is unreachable each instance still limits on its own', async () => {
    const t = await app(prefix(), {}, `redis://127.0.0.1:${await freePort()}`);
    const statuses: number[] = [];
    for (let i = 0; i <= LIMIT; i++) statuses.push((await hit(t, 'get', '/orchestrator/readiness', { 'x-api-key': ADMIN_KEY })).status);
    expect(statuses.slice(0, LIMIT).every((s) => s !== 429)).toBe(true);
    expect(statuses[LIMIT]).toBe(429);
  });
});

describe('rate limit without Redis (memory mode, counted at once in this process)', () => {
  it('holds per key with the same headers and 429, and counts a wrong key per address', async () => {
    const t = await createTestApp({
      API_KEYS: `ops:admin:${ADMIN_KEY},ua:USER_A:${USER_KEY}`,
      TRADING_USERS: 'USER_A:paper::',
      API_RATE_LIMIT: String(LIMIT),
      ORCHESTRATOR_PREMARKET_CHECK_IST: '',
    });
    onTestFinished(() => t.close());
    expect(t.get(CacheService).mode).toBe('memory');
    const key = { 'x-api-key': USER_KEY };
    for (let i = 1; i <= LIMIT; i++) {
      const ok = await hit(t, 'get', '/sharekhan/users/USER_A/token', key);
      expect(ok.status).toBe(200);
      expect(ok.headers).toMatchObject({ 'x-ratelimit-limit': String(LIMIT), 'x-ratelimit-remaining': String(LIMIT - i), 'cache-control': 'no-store' });
      expect(Number(ok.headers['x-ratelimit-reset'])).toBeGreaterThan(0);
    }
    const over = await hit(t, 'get', '/sharekhan/users/USER_A/audit', key);
    expect(over.status).toBe(429);
    expect(over.body.message).toMatch(/^Too many requests: at most 3 per 60 s/);
    expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
    expect(over.headers['x-ratelimit-limit']).toBeUndefined();
    // The admin key has a budget of its own; a wrong key spends the client address' budget, then gets 429 before any key check.
    expect((await hit(t, 'get', '/sharekhan/users/USER_A/token', { 'x-api-key': ADMIN_KEY })).status).toBe(200);
    const wrong: number[] = [];
    for (let i = 0; i <= LIMIT; i++) wrong.push((await hit(t, 'get', '/sharekhan/tokens', { 'x-api-key': WRONG_KEY })).status);
    expect(wrong).toEqual([...Array(LIMIT).fill(401), 429]);
  });
});

describe('rate limit: requests without a key, per client address', () => {
  it('behind a trusted ingress hop, one client spending its budget does not block another', async () => {
    const t = await app(prefix(), { TRUST_PROXY: '1' });
    for (let i = 0; i < LIMIT; i++) expect((await callback(t, { 'x-forwarded-for': '203.0.113.5' })).status).not.toBe(429);
    expect((await callback(t, { 'x-forwarded-for': '203.0.113.5' })).status).toBe(429);
    expect((await callback(t, { 'x-forwarded-for': '203.0.113.6' })).status).not.toBe(429);
  });

  it('IPv6 clients are grouped by /64', async () => {
    const t = await app(prefix(), { TRUST_PROXY: '1' });
    for (let i = 1; i <= LIMIT; i++) expect((await callback(t, { 'x-forwarded-for': `2001:db8:1:1::${i}` })).status).not.toBe(429);
    expect((await callback(t, { 'x-forwarded-for': '2001:db8:1:1:ffff::9' })).status).toBe(429);
    expect((await callback(t, { 'x-forwarded-for': '2001:db8:1:2::1' })).status).not.toBe(429);
  });

  it('without TRUST_PROXY a forged X-Forwarded-For does not buy a fresh budget', async () => {
    const t = await app(prefix());
    for (let i = 0; i < LIMIT; i++) expect((await callback(t, { 'x-forwarded-for': `198.51.100.${i}` })).status).not.toBe(429);
    expect((await callback(t, { 'x-forwarded-for': '198.51.100.99' })).status).toBe(429);
  });
});
