import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onTestFinished } from 'vitest';
import { CacheService } from '../../src/cache/cache.service.js';
import { loadConfig } from '../../src/config/load-config.js';
import { resolveShareKhanOptions } from '../../src/sharekhan/sharekhan.options.js';
import { TokenAuditLog } from '../../src/sharekhan/tokens/token-audit.service.js';
import { TokenClock } from '../../src/sharekhan/tokens/token-clock.js';
import { TokenKeyRing } from '../../src/sharekhan/tokens/token-crypto.js';
import { ShareKhanTokenStore } from '../../src/sharekhan/tokens/token-store.service.js';
import type { RedisProcess } from '../helpers/redis-server.js';
import { waitForMode } from './cache-harness.js';
import type { ChildOrder } from './durable-child.js';
import {
  FAST,
  eventually,
  silenceCacheLogs,
  useCache,
  useRedis,
} from './fixtures.js';

/**
 * Issue 19, item 5: what a replica acknowledged survives that replica's SIGKILL right after the
 * acknowledgement, with Redis restarting empty around then. The replica runs in its own process
 * (durable-child.ts) with its snapshot debounced for a minute: only the write-ahead file can keep it.
 */
const CHILD = fileURLToPath(new URL('./durable-child.ts', import.meta.url));
const SNAPSHOT_KEY = randomBytes(32).toString('base64');
const TOKEN_KEYS = `k1:${randomBytes(32).toString('base64')}`;
const USER = 'CRASH_USER_1';
const actor = { who: 'crash-test', source: 'api' };
/** Each crash test boots a replica process (tsx) and restarts Redis: margin for a loaded 2-core machine. */
const CRASH_TEST_MS = 60_000;

describe('a durable write survives the SIGKILL of the replica that acknowledged it (real redis-server, replica in a child process)', () => {
  silenceCacheLogs([]);

  it(
    'a granted claim: after the kill and an empty Redis restart, the same key is refused to every other replica',
    async () => {
      const { redis, path } = await setUp();
      expect(
        await crashAfterAck(redis, path, {
          op: 'claim',
          key: 'signal:s1:USER_1',
          value: 'order-1',
        }),
      ).toMatchObject({ state: 'claimed' });
      expect(existsSync(path)).toBe(false);
      await redis.restart();
      await restartReplica(redis, path);
      const other = await useCache({
        port: redis.port,
        instanceId: 'other',
        ...FAST,
      });
      await waitForMode(other, 'redis');
      expect(
        await other.setIfAbsent('signal:s1:USER_1', 'order-2'),
      ).toMatchObject({
        state: 'exists',
        value: 'order-1',
        authoritative: true,
      });
    },
    CRASH_TEST_MS,
  );

  it(
    'a revoke: the token another replica still holds (and re-seeds into the empty Redis) does not come back',
    async () => {
      const { redis, path } = await setUp();
      const survivor = await tokenReplica(redis);
      await survivor.store.submit(USER, {
        accessToken: 'old-token-1111',
        source: 'manual',
        actor,
      });
      expect(
        await crashAfterAck(redis, path, {
          op: 'revoke',
          key: USER,
          value: '',
        }),
      ).toMatchObject({ revoked: true, confirmed: true });
      await redis.restart();
      await settled(survivor.cache);
      await restartReplica(redis, path);
      const found = await survivor.store.lookup(USER);
      expect(found).toMatchObject({
        kind: 'invalid',
        view: { status: 'revoked' },
      });
    },
    CRASH_TEST_MS,
  );

  it(
    'a submit: the newer token wins over the older one another replica re-seeds',
    async () => {
      const { redis, path } = await setUp();
      const survivor = await tokenReplica(redis);
      await survivor.store.submit(USER, {
        accessToken: 'old-token-1111',
        source: 'manual',
        actor,
      });
      await crashAfterAck(redis, path, {
        op: 'submit',
        key: USER,
        value: 'new-token-2222',
      });
      await redis.restart();
      await settled(survivor.cache);
      await restartReplica(redis, path);
      const found = await survivor.store.lookup(USER);
      expect(found.kind === 'found' && found.accessToken).toBe(
        'new-token-2222',
      );
    },
    CRASH_TEST_MS,
  );

  it('the write-ahead file is emptied once a snapshot covers it, and a clean shutdown leaves none', async () => {
    const { redis, path } = await setUp();
    const cache = await useCache({
      port: redis.port,
      instanceId: 'w',
      snapshot: { path, key: SNAPSHOT_KEY, debounceMs: 30 },
      ...FAST,
    });
    await waitForMode(cache, 'redis');
    for (let i = 0; i < 20; i++) await cache.setIfAbsent(`claim:${i}`, i);
    expect(cache.getStatus().snapshot.durableWrites).toBe(20);
    await eventually(
      'a snapshot after the claims',
      () => cache.getStatus().snapshot.saves > 0 && walFiles(path).length === 0,
    );
    await cache.set('durable', 1, { durable: true });
    expect(walFiles(path)).toEqual(['snap.wal']);
    await cache.onApplicationShutdown();
    expect(walFiles(path)).toEqual([]);
  });
});

async function setUp(): Promise<{ redis: RedisProcess; path: string }> {
  const redis = await useRedis();
  const dir = mkdtempSync(join(tmpdir(), 'durable-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return { redis, path: join(dir, 'snap') };
}

function walFiles(path: string): string[] {
  const dir = join(path, '..');
  return readdirSync(dir)
    .filter((f) => f.startsWith('snap.wal'))
    .sort();
}

/** Runs the child replica, SIGKILLs it the moment it prints its acknowledgement, returns what it acknowledged. */
async function crashAfterAck(
  redis: RedisProcess,
  path: string,
  op: Pick<ChildOrder, 'op' | 'key' | 'value'>,
): Promise<unknown> {
  const order: ChildOrder = {
    port: redis.port,
    snapshotPath: path,
    snapshotKey: SNAPSHOT_KEY,
    tokenKeys: TOKEN_KEYS,
    ...op,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    env: { ...process.env, DURABLE_CHILD: JSON.stringify(order) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  onTestFinished(async () => {
    child.kill('SIGKILL');
    await exited;
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const ack = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new Error(
            `no acknowledgement from the child in 20 s: ${err.slice(-2000)}`,
          ),
        ),
      20_000,
    );
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('ACK '));
      if (line === undefined) return;
      child.kill('SIGKILL');
      clearTimeout(timer);
      resolve(line.slice(4));
    });
    child.once('exit', () =>
      reject(
        new Error(`child exited before acknowledging: ${err.slice(-2000)}`),
      ),
    );
  });
  await exited;
  return JSON.parse(ack) as unknown;
}

/** The crashed replica started again on the same snapshot path; returns once what it loaded is in Redis. */
async function restartReplica(
  redis: RedisProcess,
  path: string,
): Promise<CacheService> {
  const cache = await useCache({
    port: redis.port,
    instanceId: 'child',
    snapshot: { path, key: SNAPSHOT_KEY },
    ...FAST,
  });
  await settled(cache);
  return cache;
}

/** Connected, with nothing left to replay or re-seed. */
async function settled(cache: CacheService): Promise<void> {
  await eventually('replayed and re-seeded', () => {
    const s = cache.getStatus();
    return s.mode === 'redis' && s.journalSize === 0 && !s.reseeding;
  });
}

async function tokenReplica(redis: RedisProcess) {
  const cache = await useCache({
    port: redis.port,
    instanceId: 'survivor',
    ...FAST,
  });
  await waitForMode(cache, 'redis');
  const config = resolveShareKhanOptions(
    loadConfig({ NODE_ENV: 'test', TOKEN_ENCRYPTION_KEYS: TOKEN_KEYS })
      .sharekhan,
  );
  const clock = new TokenClock();
  const ring = TokenKeyRing.fromBase64(
    config.encryption.keys,
    config.encryption.activeKeyId,
  );
  return {
    cache,
    store: new ShareKhanTokenStore(
      cache,
      ring,
      clock,
      new TokenAuditLog(cache, clock, config),
      config,
    ),
  };
}
