import { randomBytes } from 'node:crypto';
import { ModuleOptionsError } from '../../common/module-options.js';
import { CacheService } from '../cache.service.js';
import { resolveCacheOptions, type CacheModuleOptions } from './cache.options.js';

const resolve = (o: unknown) => resolveCacheOptions(o as CacheModuleOptions, () => 'rand0001');

function problemsOf(o: unknown): string[] {
  try {
    resolve(o);
  } catch (err) {
    expect(err).toBeInstanceOf(ModuleOptionsError);
    expect((err as ModuleOptionsError).code).toBe('INVALID_MODULE_OPTIONS');
    return (err as ModuleOptionsError).problems;
  }
  throw new Error('options were accepted');
}

describe('CacheModule options (zod, like the other modules)', () => {
  it('fills every default, including the ones derived from other options', () => {
    const o = resolve({ redis: null, memory: { maxEntries: 10 }, reconnect: { maxDelayMs: 1_000 }, l1: { enabled: true } });
    expect(o).toMatchObject({ keyPrefix: 'tb:', commandTimeoutMs: 250, instanceId: 'rand0001', snapshot: null });
    expect(o.journal.maxEntries).toBe(10);
    expect(o.l1.publish).toBe(true);
    expect(o.breaker).toEqual({ failureThreshold: 3, halfOpenAfterMs: 500, halfOpenAfterMaxMs: 5_000, silenceFloorMs: 25 });
    expect(o.reseedWindowMs).toBe(15_000);
    expect(o.clock()).toBeGreaterThan(1.7e12);
  });

  it('names every bad option with what it wants, never its value', () => {
    const problems = problemsOf({
      redis: { kind: 'sentinel', sentinels: [], masterName: 'm' },
      commandTimeoutMs: -1,
      memory: { maxEntries: 'many' },
      snapshot: { path: '/tmp/s', key: 'c2VjcmV0LWJ1dC1zaG9ydA==' },
      surprise: true,
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^redis\.sentinels \(wants at least one sentinel\)/),
        expect.stringMatching(/^commandTimeoutMs \(wants a whole number of milliseconds, at least 1\)/),
        expect.stringMatching(/^memory\.maxEntries \(wants a whole number of at least 1\)/),
        expect.stringMatching(/^snapshot\.key \(wants 32 bytes/),
        expect.stringMatching(/surprise/),
      ]),
    );
    expect(problems.join(' ')).not.toContain('c2VjcmV0');
  });

  it('no redis at all is memory mode; an instance id must be what versions can carry', () => {
    expect(resolve({}).redis).toBeNull();
    expect(problemsOf({ redis: null, instanceId: 'Pod-A' })).toEqual([expect.stringMatching(/^instanceId \(wants 1-8 of \[a-z0-9\]\)/)]);
  });

  it('a 32-byte snapshot key is accepted as base64 or a Buffer', () => {
    const key = randomBytes(32);
    expect(resolve({ redis: null, snapshot: { path: '/tmp/s', key } }).snapshot?.key).toEqual(key);
    expect(resolve({ redis: null, snapshot: { path: '/tmp/s', key: key.toString('base64') } }).snapshot?.key).toEqual(key);
  });
});

describe('CacheModule options: redis.url is checked before ioredis sees it', () => {
  it.each(['redis://:supersecret@localhost:99999', 'http://:supersecret@localhost:6379', 'not a url supersecret'])(
    '%s is refused without echoing the URL',
    (url) => {
      let err: unknown;
      try {
        new CacheService({ redis: { kind: 'standalone', url } });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ModuleOptionsError);
      expect((err as Error).message).toMatch(/redis\.url \(wants a redis:\/\/ or rediss:\/\/ URL/);
      expect((err as Error).message).not.toContain('supersecret');
    },
  );

  it('a valid URL with credentials and a db is accepted', () => {
    expect(() => new CacheService({ redis: { kind: 'standalone', url: 'rediss://app:pw@redis.internal:6380/2' } })).not.toThrow();
  });
});
