import { CacheService } from '../cache.service.js';
import { CacheValidationError } from './cache.errors.js';

describe('CacheModule options: redis.url is checked before ioredis sees it', () => {
  it.each(['redis://:supersecret@localhost:99999', 'http://:supersecret@localhost:6379', 'not a url supersecret'])(
    '%s is a CacheValidationError that does not echo the URL',
    (url) => {
      let err: unknown;
      try {
        new CacheService({ redis: { kind: 'standalone', url } });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CacheValidationError);
      expect((err as CacheValidationError).code).toBe('CACHE_INVALID_INPUT');
      expect((err as Error).message).toMatch(/redis\.url must be a redis:\/\/ or rediss:\/\/ URL/);
      expect((err as Error).message).not.toContain('supersecret');
    },
  );

  it('a valid URL with credentials and a db is accepted', () => {
    expect(() => new CacheService({ redis: { kind: 'standalone', url: 'rediss://app:pw@redis.internal:6380/2' } })).not.toThrow();
  });
});
