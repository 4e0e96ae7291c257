import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { vi } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import type { CacheService } from '../../src/cache/cache.service.js';
import { decodeRecord } from '../../src/cache/core/cache-codec.js';
import { startRedis, type RedisProcess } from '../helpers/redis-server.js';
import { makeTlsMaterial, type TlsMaterial } from '../helpers/tls.js';
import { loadLoop, sleep, startCache, waitForMode } from './cache-harness.js';

const TIMEOUT = 250;
const MARGIN = 150;
const PREFIX = 'tb:';
const USER = 'tbcache';
const PASSWORD = 'Sup3r-Secret-Cache-Pass';
const ADMIN_PASSWORD = 'admin-only-for-the-test';

/**
 * The service user of docs/topologies.md: its key prefix, the L1 channel, and only the commands
 * the cache sends (GET/SET plain and inside the compare-and-set script, the script itself, PING
 * for the breaker probe, INFO for the ready check, PUBLISH/SUBSCRIBE for L1, connection names).
 */
const SERVICE_ACL = `${USER} on >${PASSWORD} ~${PREFIX}* resetchannels &${PREFIX}cache:l1 -@all +get +mget +set +evalsha +eval +zadd +zrange +zcard +zremrangebylex +zremrangebyrank +hset +hget +hgetall +hdel +hincrby +pexpire +ping +time +info +publish +subscribe +client|setname`;

/** The env an operator would write; the target comes from the real config layer. */
function cacheOptionsFromEnv(env: Record<string, string>) {
  const config = loadConfig({ CACHE_KEY_PREFIX: PREFIX, CACHE_COMMAND_TIMEOUT_MS: String(TIMEOUT), ...env });
  return config.cache;
}

async function aclDenials(admin: Redis): Promise<string[]> {
  const log = (await admin.call('ACL', 'LOG')) as unknown[][];
  return log.map((entry) => {
    const o: Record<string, unknown> = {};
    for (let i = 0; i < entry.length; i += 2) o[String(entry[i])] = entry[i + 1];
    return `${String(o.reason)} ${String(o.object)}`;
  });
}

describe('CacheService over TLS with an ACL user limited to its prefix and commands', () => {
  let dir: string;
  let tls: TlsMaterial;
  let redis: RedisProcess;
  let admin: Redis;
  let cache: CacheService | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cache-tls-acl-'));
    tls = makeTlsMaterial(dir);
    redis = await startRedis({
      tls,
      // The default user is switched off: only the service user and the test's admin exist.
      aclUsers: [SERVICE_ACL, `admin on >${ADMIN_PASSWORD} ~* &* +@all`, 'default off'],
    });
    admin = redis.client({ username: 'admin', password: ADMIN_PASSWORD });
  });
  afterEach(async () => {
    await cache?.onApplicationShutdown();
    cache = undefined;
    vi.restoreAllMocks();
  });
  afterAll(async () => {
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('rediss:// + REDIS_TLS_CA_FILE + ACL user: reads, writes, deletes, L1 and recovery work, and the ACL denies nothing', async () => {
    await admin.call('ACL', 'LOG', 'RESET');
    const options = cacheOptionsFromEnv({
      REDIS_URL: redis.url,
      REDIS_TLS_CA_FILE: tls.caCertPath,
      REDIS_USERNAME: USER,
      REDIS_PASSWORD: PASSWORD,
      CACHE_L1_ENABLED: 'true',
    });
    expect(redis.url).toMatch(/^rediss:\/\//);
    cache = await startCache(options);
    await waitForMode(cache, 'redis');

    expect(await cache.set('k', { v: 1 })).toMatchObject({ store: 'redis', journaled: false });
    expect(await cache.read('k')).toMatchObject({ state: 'hit', value: { v: 1 } });
    expect(decodeRecord((await admin.get(`${PREFIX}k`))!)?.json).toBe('{"v":1}');
    await cache.delete('k');
    expect(await cache.read('k')).toMatchObject({ state: 'miss' });
    // Concurrent operations go out batched (MGET, multi-key script): the ACL must allow those too.
    const keys = Array.from({ length: 48 }, (_, i) => `c${i}`);
    const written = await Promise.all(keys.map((k, i) => cache!.set(k, i)));
    expect(written.every((w) => w.store === 'redis')).toBe(true);
    const reader = await startCache({ ...options, l1: { enabled: false } });
    try {
      await waitForMode(reader, 'redis');
      const reads = await Promise.all(keys.map((k) => reader.read(k)));
      expect(reads.map((r) => [r.value, r.source])).toEqual(keys.map((_, i) => [i, 'redis']));
    } finally {
      await reader.onApplicationShutdown();
    }
    await waitUntil(() => cache!.getStatus().l1.live, 'L1 subscription');

    // Append logs: their script (ZADD, trims, PEXPIRE) and reads (ZRANGE) go through the ACL too.
    const limits = { maxEntries: 10, maxAgeMs: 60_000 };
    expect(await cache.appendLog('log', 'first', limits)).toMatchObject({ store: 'redis', journaled: false });
    expect(await cache.readLog('log')).toMatchObject({ state: 'hit', source: 'redis', entries: [{ value: 'first' }] });

    // Outage and recovery go through the same ACL: marker, journal replay, re-seed.
    await cache.set('kept', 'before');
    await redis.kill();
    await waitForMode(cache, 'fallback', 3_000);
    await cache.set('during', 'outage');
    await cache.appendLog('log', 'during', limits);
    await redis.restart();
    await waitForMode(cache, 'redis', 10_000);
    const adminAfter = redis.client({ username: 'admin', password: ADMIN_PASSWORD });
    expect(decodeRecord((await adminAfter.get(`${PREFIX}during`))!)?.json).toBe('"outage"');
    expect(decodeRecord((await adminAfter.get(`${PREFIX}kept`))!)?.json).toBe('"before"');
    expect(await adminAfter.zcard(`${PREFIX}\x1flog:log`)).toBe(2);
    expect(await aclDenials(adminAfter)).toEqual([]);
    admin = adminAfter;
  });

  it('a client certificate is presented when configured (server requiring one)', async () => {
    const strict = await startRedis({ tls, aclUsers: [SERVICE_ACL, `admin on >${ADMIN_PASSWORD} ~* &* +@all`, 'default off'] });
    try {
      // Required from now on (the helper's readiness probe has no certificate, so not at start-up).
      await strict.client({ username: 'admin', password: ADMIN_PASSWORD }).call('CONFIG', 'SET', 'tls-auth-clients', 'yes');
      const withoutCert = await startCache(
        cacheOptionsFromEnv({
          REDIS_URL: strict.url,
          REDIS_TLS_CA_FILE: tls.caCertPath,
          REDIS_USERNAME: USER,
          REDIS_PASSWORD: PASSWORD,
        }),
      );
      cache = withoutCert;
      await waitUntil(() => (withoutCert.getStatus().lastError ?? '').startsWith('TLS connection failed'), 'a TLS error');
      expect(withoutCert.getStatus().lastError).toMatch(/certificate required/);
      expect(withoutCert.mode).toBe('fallback');
      await withoutCert.onApplicationShutdown();
      const withCert = await startCache(
        cacheOptionsFromEnv({
          REDIS_HOST: strict.host,
          REDIS_PORT: String(strict.port),
          REDIS_SSL: 'true',
          REDIS_TLS_CA_FILE: tls.caCertPath,
          REDIS_TLS_CERT_FILE: tls.clientCertPath,
          REDIS_TLS_KEY_FILE: tls.clientKeyPath,
          REDIS_USERNAME: USER,
          REDIS_PASSWORD: PASSWORD,
        }),
      );
      cache = withCert;
      await waitForMode(withCert, 'redis');
      expect(await withCert.set('mtls', 1)).toMatchObject({ store: 'redis' });
    } finally {
      await cache?.onApplicationShutdown();
      cache = undefined;
      await strict.stop();
    }
  });

  it('a wrong password: lastError says authentication failed, stays in fallback, nothing waits, the password is nowhere', async () => {
    const wrong = 'Wr0ng-Password-Never-Shown';
    const logged: string[] = [];
    for (const level of ['log', 'warn', 'error'] as const) {
      vi.spyOn(Logger.prototype, level).mockImplementation(function (this: Logger, message: unknown) {
        logged.push(String(message));
      });
    }
    cache = await startCache(
      cacheOptionsFromEnv({
        REDIS_URL: redis.url,
        REDIS_TLS_CA_FILE: tls.caCertPath,
        REDIS_USERNAME: USER,
        REDIS_PASSWORD: wrong,
      }),
    );
    await waitUntil(() => /authentication failed/.test(cache!.getStatus().lastError ?? ''), 'an authentication error');
    const load = loadLoop(async (i) => {
      await cache!.set(`w${i % 10}`, i);
      const r = await cache!.read(`w${i % 10}`);
      if (r.state !== 'hit' || r.source !== 'memory') throw new Error(`read ${r.state} from ${r.source}`);
    }, 4);
    await sleep(1_000);
    await load.stop();

    const status = cache.getStatus();
    expect(status.mode).toBe('fallback');
    expect(status.lastError).toMatch(/^authentication failed: Redis rejected the username or password/);
    expect(load.failures).toEqual([]);
    expect(load.latencies.reduce((a, b) => Math.max(a, b), 0)).toBeLessThan(TIMEOUT + MARGIN);
    const t0 = Date.now();
    await cache.onApplicationShutdown();
    cache = undefined;
    expect(Date.now() - t0).toBeLessThan(1_000);

    // One clear line for the operator, naming the user and never the password.
    const authLines = logged.filter((l) => /authentication failed/.test(l));
    expect(authLines).toHaveLength(1);
    expect(authLines[0]).toContain(`user '${USER}'`);
    const everything = [JSON.stringify(status), ...logged].join('\n');
    expect(everything).not.toContain(wrong);
    expect(everything).not.toContain(PASSWORD);
  });

  it('a server certificate from an unknown CA: a clear TLS error, fallback, no hang', async () => {
    cache = await startCache({
      ...cacheOptionsFromEnv({ REDIS_URL: redis.url, REDIS_USERNAME: USER, REDIS_PASSWORD: PASSWORD }),
    });
    await waitUntil(() => (cache!.getStatus().lastError ?? '').startsWith('TLS connection failed'), 'a TLS error');
    expect(cache.getStatus().lastError).toMatch(/certificate/);
    expect(cache.mode).toBe('fallback');
    const t0 = performance.now();
    await cache.set('x', 1);
    expect(await cache.get('x')).toBe(1);
    expect(performance.now() - t0).toBeLessThan(50);
  });
});

async function waitUntil(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}
