import { CacheValidationError } from './cache.errors.js';
import { CacheKeys } from './cache-keys.js';

describe('CacheKeys', () => {
  const keys = new CacheKeys('p:', 512, () => 1_000);

  it('refuses C0 controls and DEL anywhere in a key, and nothing else', () => {
    for (const bad of ['\u0000', 'a\u001f', '\u007fz', 'k\n', 'k\r\nv']) expect(() => keys.full(bad), JSON.stringify(bad)).toThrow(CacheValidationError);
    for (const good of [' ', '~', 'a\u0080b', 'ключ', 'user:42/ä']) expect(keys.full(good)).toBe(`p:${good}`);
  });
});
