import request from 'supertest';
import { setTimeout as sleep } from 'node:timers/promises';
import { onTestFinished, vi } from 'vitest';
import { CacheService } from '../src/cache/cache.service.js';
import { ShutdownState } from '../src/health/shutdown-state.js';
import type { AppConfig } from '../src/config/load-config.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { captureLogs } from './helpers/logs.js';
import { freePort } from './helpers/ports.js';
import { startRedis, type RedisProcess } from './helpers/redis-server.js';
import { waitUntil } from './helpers/wait.js';

/**
 * Each probe in each cache mode, against a real redis-server that is killed and restarted.
 * Readiness: up (200) in redis and memory, degraded (200) in fallback and recovering, 503 when the
 * cache cannot take a write, when asked to fail in fallback, and while shutting down.
 */

const probe = (t: TestApp, name: 'live' | 'ready' | 'startup') => request(t.http).get(`/health/${name}`);

async function untilMode(t: TestApp, mode: string, ms = 10_000): Promise<void> {
  const cache = t.get(CacheService);
  await waitUntil(Date.now() + ms, `cache mode ${mode} (now ${cache.mode})`, async () => cache.mode === mode, 25);
}

describe('health probes in memory mode (no Redis configured)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({});
  });
  afterAll(() => t.close());

  it('answers live, ready (up) and startup with 200', async () => {
    const live = await probe(t, 'live');
    expect(live.status).toBe(200);
    expect(live.body).toMatchObject({ status: 'ok', info: { process: { status: 'up' } } });

    const ready = await probe(t, 'ready');
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe('ok');
    expect(ready.body.details.cache).toMatchObject({ status: 'up', mode: 'memory', selfTest: 'ok' });
    expect(ready.headers['cache-control']).toContain('no-store');

    const startup = await probe(t, 'startup');
    expect(startup.status).toBe(200);
    expect(startup.body.details.startup).toMatchObject({ status: 'up', mode: 'memory' });
  });

  it('reports down (503) when the memory store cannot take a write, and up again after', async () => {
    const cache = t.get(CacheService);
    const spy = vi.spyOn(cache, 'set').mockRejectedValue(new Error('memory store refused the write'));
    try {
      const res = await probe(t, 'ready');
      expect(res.status).toBe(503);
      expect(res.body.status).toBe('error');
      expect(res.body.error.cache).toMatchObject({ status: 'down', selfTest: 'failed' });
      expect(res.body.error.cache.message).toContain('memory store refused the write');
      // Liveness is about the process only.
      expect((await probe(t, 'live')).status).toBe(200);
    } finally {
      spy.mockRestore();
    }
    expect((await probe(t, 'ready')).status).toBe(200);
  });

  it('reports down when the value read back is not the one written', async () => {
    const cache = t.get(CacheService);
    const spy = vi.spyOn(cache, 'read').mockResolvedValue({ state: 'miss', source: 'memory' });
    try {
      const res = await probe(t, 'ready');
      expect(res.status).toBe(503);
      expect(res.body.error.cache.message).toContain('read back miss');
    } finally {
      spy.mockRestore();
    }
  });
});

describe('health probes through a Redis outage', () => {
  let redis: RedisProcess;
  let t: TestApp;
  beforeAll(async () => {
    redis = await startRedis();
    t = await createTestApp({ REDIS_URL: redis.url, CACHE_KEY_PREFIX: 'health:' });
    await untilMode(t, 'redis');
  });
  afterAll(async () => {
    await t?.close();
    await redis?.stop();
  });

  it('redis mode: ready is up, startup passes', async () => {
    const ready = await probe(t, 'ready');
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe('ok');
    expect(ready.body.details.cache).toMatchObject({ status: 'up', mode: 'redis', connected: true, selfTest: 'ok' });
    // The self-test really went through Redis.
    const keys = await redis.client().keys('health:health:selftest:*');
    expect(keys).toHaveLength(1);
    expect((await probe(t, 'startup')).status).toBe(200);
    expect((await probe(t, 'live')).status).toBe(200);
  });

  it('fallback after kill: ready is degraded with HTTP 200, live and startup stay 200', async () => {
    await redis.kill();
    await untilMode(t, 'fallback');
    const ready = await probe(t, 'ready');
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe('degraded');
    expect(ready.body.details.cache).toMatchObject({ status: 'degraded', mode: 'fallback', connected: false, selfTest: 'ok' });
    // Liveness answers all through the outage, repeatedly and fast.
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const live = await probe(t, 'live');
      expect(live.status).toBe(200);
      expect(performance.now() - t0).toBeLessThan(250);
    }
    expect((await probe(t, 'startup')).status).toBe(200);
  });

  it('recovering: ready is degraded with HTTP 200', async () => {
    const cache = t.get(CacheService);
    const real = cache.getStatus.bind(cache);
    // Replay of a small journal finishes in milliseconds; pin the mode to look at the answer.
    const spy = vi.spyOn(cache, 'getStatus').mockImplementation(() => ({ ...real(), mode: 'recovering' }));
    try {
      const ready = await probe(t, 'ready');
      expect(ready.status).toBe(200);
      expect(ready.body.status).toBe('degraded');
      expect(ready.body.details.cache).toMatchObject({ status: 'degraded', mode: 'recovering' });
    } finally {
      spy.mockRestore();
    }
  });

  it('back after restart: ready is up again in redis mode', async () => {
    await redis.restart();
    await untilMode(t, 'redis', 15_000);
    const ready = await probe(t, 'ready');
    expect(ready.status).toBe(200);
    expect(ready.body.details.cache).toMatchObject({ status: 'up', mode: 'redis', connected: true });
  });
});

describe('HEALTH_READY_FAIL_IN_FALLBACK=true', () => {
  let redis: RedisProcess;
  let t: TestApp;
  beforeAll(async () => {
    redis = await startRedis();
    t = await createTestApp({ REDIS_URL: redis.url, HEALTH_READY_FAIL_IN_FALLBACK: 'true' });
    await untilMode(t, 'redis');
  });
  afterAll(async () => {
    await t?.close();
    await redis?.stop();
  });

  it('ready is 503 in fallback, 200 again in redis; live stays 200', async () => {
    expect((await probe(t, 'ready')).status).toBe(200);
    await redis.kill();
    await untilMode(t, 'fallback');
    const ready = await probe(t, 'ready');
    expect(ready.status).toBe(503);
    expect(ready.body.status).toBe('error');
    expect(ready.body.error.cache).toMatchObject({ status: 'down', mode: 'fallback' });
    expect(ready.body.error.cache.message).toContain('HEALTH_READY_FAIL_IN_FALLBACK');
    expect((await probe(t, 'live')).status).toBe(200);

    await redis.restart();
    await untilMode(t, 'redis', 15_000);
    expect((await probe(t, 'ready')).status).toBe(200);
  });
});

describe('startup probe with Redis configured but unreachable', () => {
  it('fails during the grace period, then passes on memory (start-up never needs Redis)', async () => {
    const redis = await startRedis();
    const url = redis.url;
    await redis.stop();
    const t = await createTestApp({ REDIS_URL: url }, (c) => {
      c.observability.health.startupRedisGraceMs = 1_000;
    });
    try {
      const early = await probe(t, 'startup');
      expect(early.status).toBe(503);
      expect(early.body.error.startup.message).toContain('waiting for a first Redis connection');
      expect((await probe(t, 'live')).status).toBe(200);
      // Serving from memory meanwhile is allowed: degraded, not down.
      expect((await probe(t, 'ready')).body.status).toBe('degraded');

      await waitUntil(Date.now() + 1_000 + 1_500, 'startup to pass', async () => (await probe(t, 'startup')).status === 200);
    } finally {
      await t.close();
    }
  });
});

describe('graceful shutdown', () => {
  it('readiness answers 503 shutting_down while draining, liveness 200, then Redis is closed cleanly', async () => {
    const redis = await startRedis();
    const t = await createTestApp({ REDIS_URL: redis.url, HEALTH_SHUTDOWN_DRAIN_MS: '1500' });
    try {
      await untilMode(t, 'redis');
      const admin = redis.client();
      const appClients = async () => ((await admin.call('CLIENT', 'LIST')) as string).trim().split('\n').length - 1;
      expect(await appClients()).toBeGreaterThan(0);
      expect((await probe(t, 'ready')).status).toBe(200);

      const closing = t.close();
      const state = t.get(ShutdownState);
      await waitUntil(Date.now() + 1_000, 'shutdown to start', async () => state.shuttingDown, 10);

      const ready = await probe(t, 'ready');
      expect(ready.status).toBe(503);
      expect(ready.body.status).toBe('shutting_down');
      expect((await probe(t, 'live')).status).toBe(200);

      await closing;
      await waitUntil(Date.now() + 2_000, 'the app to close its Redis connections', async () => (await appClients()) === 0);
    } finally {
      await redis.stop();
    }
  });
});

/** An app that is closed when the current test ends. */
async function appForTest(env: Record<string, string>, tweak?: (c: AppConfig) => void): Promise<TestApp> {
  const t = await createTestApp(env, tweak);
  onTestFinished(() => t.close());
  return t;
}

async function redisForTest(): Promise<RedisProcess> {
  const redis = await startRedis();
  onTestFinished(() => redis.stop());
  return redis;
}

describe('an operator is told why Redis is not in use (real log output)', () => {
  it('Redis unreachable at start-up: one warn line with the cause, lastError in the readiness body, no password', async () => {
    const port = await freePort();
    const logs = captureLogs();
    const t = await appForTest({ REDIS_URL: `redis://:pw-S3CRET-123@127.0.0.1:${port}`, LOG_LEVEL: 'info' }, (c) => {
      c.cache.connectTimeoutMs = 300;
    });
    await waitUntil(Date.now() + 5_000, 'the start-up warning', async () => logs.matching('Redis not reachable at start-up').length > 0);
    await sleep(700);
    const warned = logs.matching('Redis not reachable at start-up');
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ level: 'warn', context: 'CacheService' });
    expect(warned[0].msg).toContain('ECONNREFUSED');
    const ready = await probe(t, 'ready');
    expect(ready.body.details.cache).toMatchObject({ mode: 'fallback', connected: false });
    expect(ready.body.details.cache.lastError).toContain('ECONNREFUSED');
    expect(JSON.stringify(ready.body) + logs.lines.join('\n')).not.toContain('S3CRET');
  });

  it('a healthy start says "connected", a killed Redis gives the closed connection as the cause', async () => {
    const redis = await redisForTest();
    const logs = captureLogs();
    const t = await appForTest({ REDIS_URL: redis.url, LOG_LEVEL: 'info' });
    await untilMode(t, 'redis');
    expect(logs.matching('Cache connected to Redis')).toHaveLength(1);
    expect(logs.matching('fallback -> redis')).toEqual([]);
    expect((await probe(t, 'ready')).body.details.cache.lastError).toBeNull();

    await redis.kill();
    await untilMode(t, 'fallback');
    const [line] = logs.matching('Cache mode redis -> fallback');
    expect(line.level).toBe('warn');
    expect(line.msg).toMatch(/closed/);
    expect(line.msg).not.toMatch(/timed out/i);
    expect((await probe(t, 'ready')).body.details.cache.lastError).toMatch(/closed|ECONNREFUSED/);

    await redis.restart();
    await untilMode(t, 'redis', 15_000);
    // The way back is a recovery and says so (the self-test key was journaled meanwhile).
    expect(logs.json().filter((l) => /^Cache mode (fallback|recovering) -> redis/.test(l.msg))).toHaveLength(1);
  });

  it('a mode change noticed inside a request does not carry that request id', async () => {
    const redis = await redisForTest();
    const logs = captureLogs();
    const t = await appForTest({ REDIS_URL: redis.url, LOG_LEVEL: 'info' }, (c) => {
      c.cache.breaker = { failureThreshold: 1 };
    });
    await untilMode(t, 'redis');
    redis.pause();
    onTestFinished(() => redis.resume());
    // The readiness self-test writes through the cache: its timeout opens the breaker.
    await waitUntil(Date.now() + 10_000, 'fallback', async () => {
      await probe(t, 'ready').set('x-request-id', 'probe-req-42');
      return t.get(CacheService).mode === 'fallback';
    });
    const [line] = logs.matching('Cache mode redis -> fallback');
    expect(line).toBeDefined();
    expect(line.msg).toMatch(/timed out/i);
    expect(line.requestId).toBeUndefined();
  });
});
