import { randomBytes } from 'node:crypto';
import { PRODUCTION_ESSENTIALS } from '../../test/fixtures/production-env.js';
import { ConfigError, loadConfig } from './load-config.js';
import { instanceIdFor } from './cache.section.js';

const KEY = randomBytes(32).toString('base64');

function problem(env: Record<string, string>): string {
  try {
    loadConfig({ NODE_ENV: 'development', ...env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('cache config section: the variables an operator sets', () => {
  it('defaults: L1 off, no snapshot; tuning is left to the module defaults', () => {
    const { cache } = loadConfig({ NODE_ENV: 'development' });
    expect(cache).toMatchObject({ keyPrefix: 'tb:', commandTimeoutMs: 250, l1: { enabled: false }, snapshot: null });
    expect(cache).not.toHaveProperty('requireRedisOnStartup');
    expect(cache).not.toHaveProperty('journal');
    expect(cache).not.toHaveProperty('breaker');
  });

  it('maps every variable to the module options', () => {
    const { cache } = loadConfig({
      NODE_ENV: 'development',
      CACHE_L1_ENABLED: 'true',
      CACHE_SNAPSHOT_PATH: '/var/lib/app/cache.snap',
      CACHE_SNAPSHOT_KEY: KEY,
    });
    expect(cache).toMatchObject({ l1: { enabled: true }, snapshot: { path: '/var/lib/app/cache.snap', key: KEY } });
  });

  it('the instance id starts with the pod name suffix and stays unique per process', () => {
    const a = instanceIdFor('trading-api-7d9f8b6c5-x2k4p');
    const b = instanceIdFor('trading-api-7d9f8b6c5-x2k4p');
    expect(a.startsWith('2k4p')).toBe(true);
    expect(a).toHaveLength(8);
    expect(a).not.toBe(b);
    expect(instanceIdFor(undefined)).toMatch(/^[a-f0-9]{8}$/);
  });

  it('a snapshot path without a key is refused, naming the missing variable', () => {
    expect(problem({ CACHE_SNAPSHOT_PATH: '/tmp/x.snap' })).toMatch(/CACHE_SNAPSHOT_KEY=\(unset\) \(wants base64 of 32 bytes, required when CACHE_SNAPSHOT_PATH is set\)/);
  });

  it('a key of the wrong size is refused without echoing it', () => {
    const short = randomBytes(16).toString('base64');
    const msg = problem({ CACHE_SNAPSHOT_PATH: '/tmp/x.snap', CACHE_SNAPSHOT_KEY: short });
    expect(msg).toMatch(/CACHE_SNAPSHOT_KEY=\(hidden, \d+ characters\) \(wants base64 of exactly 32 bytes/);
    expect(msg).not.toContain(short);
  });

  it.each(['redis://:supersecret@localhost:99999', 'http://:supersecret@localhost:6379', 'redis://:supersecret@'])(
    'REDIS_URL %s is refused without echoing it',
    (url) => {
      const msg = problem({ REDIS_URL: url });
      expect(msg).toMatch(/REDIS_URL=\(hidden, \d+ characters\) \(wants a redis:\/\/ or rediss:\/\/ URL/);
      expect(msg).not.toContain('supersecret');
    },
  );

  it('a valid REDIS_URL with a password is taken as is', () => {
    expect(loadConfig({ NODE_ENV: 'development', REDIS_URL: 'rediss://app:pw@redis.internal:6380/2' }).cache.redis).toMatchObject({
      kind: 'standalone',
      url: 'rediss://app:pw@redis.internal:6380/2',
    });
  });

  it('out-of-range numbers and non-booleans are refused', () => {
    expect(problem({ CACHE_COMMAND_TIMEOUT_MS: '5' })).toMatch(/CACHE_COMMAND_TIMEOUT_MS="5"/);
    expect(problem({ CACHE_L1_ENABLED: 'maybe' })).toMatch(/CACHE_L1_ENABLED="maybe" \(wants true or false\)/);
  });
});

describe('cache config section: production needs Redis', () => {
  it('refuses production without any Redis, in one line saying what to set', () => {
    expect(problem({ NODE_ENV: 'production', ...PRODUCTION_ESSENTIALS, TOKEN_ENCRYPTION_KEYS: `k1:${KEY}` })).toBe(
      'Invalid configuration: REDIS_URL=(unset) (wants a Redis in production (REDIS_URL, REDIS_HOST, REDIS_SENTINELS or REDIS_CLUSTER_NODES): without one each replica keeps its own tokens; for a single replica on the memory store set ALLOW_MEMORY_ONLY_IN_PRODUCTION=true)',
    );
  });

  it('starts in production on memory only when explicitly allowed, and with any Redis target', () => {
    const base = { NODE_ENV: 'production', ...PRODUCTION_ESSENTIALS, TOKEN_ENCRYPTION_KEYS: `k1:${KEY}` };
    expect(loadConfig({ ...base, ALLOW_MEMORY_ONLY_IN_PRODUCTION: 'true' }).cache.redis).toBeNull();
    expect(loadConfig({ ...base, REDIS_HOST: 'redis' }).cache.redis).toMatchObject({ kind: 'standalone', host: 'redis' });
    expect(loadConfig({ ...base, REDIS_SENTINELS: 'a:26379' }).cache.redis).toMatchObject({ kind: 'sentinel' });
    // Outside production memory mode needs no permission.
    expect(loadConfig({ NODE_ENV: 'development' }).cache.redis).toBeNull();
  });
});
