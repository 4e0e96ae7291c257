import { randomBytes } from 'node:crypto';
import { resolveShareKhanOptions } from '../sharekhan/index.js';
import { PRODUCTION_ESSENTIALS } from '../../test/fixtures/production-env.js';
import { ConfigError, loadConfig } from './load-config.js';

const K1 = randomBytes(32).toString('base64');
const K2 = randomBytes(32).toString('base64');

function problem(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('sharekhan config section', () => {
  it('production without TOKEN_ENCRYPTION_KEYS refuses to start, naming the variable', () => {
    expect(problem({ NODE_ENV: 'production' })).toMatch(/TOKEN_ENCRYPTION_KEYS=\(unset\) \(wants at least one keyId:base64-of-32-bytes key in production/);
  });

  it('outside production a throwaway key is generated', () => {
    const settings = resolveShareKhanOptions(loadConfig({ NODE_ENV: 'development' }).sharekhan);
    expect(settings.encryption.generated).toBe(true);
    expect(Buffer.from(settings.encryption.keys[0].keyBase64, 'base64')).toHaveLength(32);
  });

  it('parses a key ring: the first key seals new tokens, the others only open old ones', () => {
    const settings = resolveShareKhanOptions(loadConfig({ NODE_ENV: 'production', ...PRODUCTION_ESSENTIALS, REDIS_HOST: 'redis', TOKEN_ENCRYPTION_KEYS: `k2:${K2},k1:${K1}` }).sharekhan);
    expect(settings.encryption).toMatchObject({ activeKeyId: 'k2', generated: false });
    expect(settings.encryption.keys.map((k) => k.id)).toEqual(['k2', 'k1']);
  });

  it('takes SHAREKHAN_ACCESS_TOKEN_<USER> by exact user id', () => {
    const { sharekhan } = loadConfig({ SHAREKHAN_ACCESS_TOKEN_MASTER_USER_001: 'secret-token-for-master', SHAREKHAN_ACCESS_TOKEN_lower: 'x' });
    expect(sharekhan.staticTokens).toEqual({ MASTER_USER_001: 'secret-token-for-master' });
  });

  it('refuses bad keys without printing them', () => {
    const short = randomBytes(16).toString('base64');
    const text = problem({ TOKEN_ENCRYPTION_KEYS: `k1:${short}` });
    expect(text).toMatch(/TOKEN_ENCRYPTION_KEYS=\(hidden, \d+ characters\) \(wants entry 1 \(k1\) to be base64 of exactly 32/);
    expect(text).not.toContain(short);
    expect(problem({ TOKEN_ENCRYPTION_KEYS: `k1:${K1},k1:${K2}` })).toMatch(/key id not used before \(k1\)/);
    // Id and key swapped, twice: the "id" is a key, never printed, not even in the duplicate rule.
    const swapped = problem({ TOKEN_ENCRYPTION_KEYS: `${K1}:k1,${K1}:k1` });
    expect(swapped).toMatch(/key id not used before/);
    expect(swapped).not.toContain(K1);
  });

  it('validates cut-off, secret key length and URLs', () => {
    expect(problem({ SHAREKHAN_TOKEN_CUTOFF_IST: '6am' })).toMatch(/SHAREKHAN_TOKEN_CUTOFF_IST="6am" \(wants a time HH:MM/);
    const text = problem({ SHAREKHAN_SECRET_KEY: 'too-short-secret' });
    expect(text).toMatch(/SHAREKHAN_SECRET_KEY=\(hidden, 16 characters\) \(wants exactly 32 bytes/);
    expect(text).not.toContain('too-short-secret');
    expect(problem({ SHAREKHAN_API_BASE_URL: 'ftp://x' })).toMatch(/SHAREKHAN_API_BASE_URL/);
    const cfg = loadConfig({ SHAREKHAN_TOKEN_CUTOFF_IST: '05:45' });
    expect(resolveShareKhanOptions(cfg.sharekhan)).toMatchObject({
      cutoffMinutesIst: 345,
      maxLifetimeMs: 86_400_000,
      loginUrl: 'https://api.sharekhan.com/skapi/auth/login.html',
    });
  });

  it('the version id is a module option, not a variable: SHAREKHAN_VERSION_ID is ignored', () => {
    // Any API key may use empty, 1005 or 1006; it only picks the request-token encoding (docs/sharekhan.md).
    const cfg = loadConfig({ SHAREKHAN_VERSION_ID: '1005' });
    expect(resolveShareKhanOptions(cfg.sharekhan).versionId).toBeNull();
    expect(resolveShareKhanOptions({ ...cfg.sharekhan, versionId: '1006' }).versionId).toBe('1006');
  });
});
