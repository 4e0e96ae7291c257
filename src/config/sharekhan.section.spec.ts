import { randomBytes } from 'node:crypto';
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
    const cfg = loadConfig({ NODE_ENV: 'development' });
    expect(cfg.sharekhan.encryption.generated).toBe(true);
    expect(Buffer.from(cfg.sharekhan.encryption.keys[0].keyBase64, 'base64')).toHaveLength(32);
  });

  it('parses a key ring and its active id', () => {
    const cfg = loadConfig({ NODE_ENV: 'production', REDIS_HOST: 'redis', TOKEN_ENCRYPTION_KEYS: `k1:${K1},k2:${K2}`, TOKEN_ENCRYPTION_ACTIVE_KEY_ID: 'k2' });
    expect(cfg.sharekhan.encryption).toMatchObject({ activeKeyId: 'k2', generated: false });
    expect(cfg.sharekhan.encryption.keys.map((k) => k.id)).toEqual(['k1', 'k2']);
    expect(loadConfig({ TOKEN_ENCRYPTION_KEYS: `k1:${K1}` }).sharekhan.encryption.activeKeyId).toBe('k1');
  });

  it('refuses bad keys without printing them', () => {
    const short = randomBytes(16).toString('base64');
    const text = problem({ TOKEN_ENCRYPTION_KEYS: `k1:${short}` });
    expect(text).toMatch(/TOKEN_ENCRYPTION_KEYS=\(hidden, \d+ characters\) \(wants entry 1 \(k1\) to be base64 of exactly 32/);
    expect(text).not.toContain(short);
    expect(problem({ TOKEN_ENCRYPTION_KEYS: `k1:${K1},k2:${K2}` })).toMatch(/TOKEN_ENCRYPTION_ACTIVE_KEY_ID=\(unset\)/);
    expect(problem({ TOKEN_ENCRYPTION_KEYS: `k1:${K1}`, TOKEN_ENCRYPTION_ACTIVE_KEY_ID: 'k9' })).toMatch(/one of the ids in TOKEN_ENCRYPTION_KEYS: k1/);
  });

  it('validates cut-off, version id, secret key length and URLs', () => {
    expect(problem({ SHAREKHAN_TOKEN_CUTOFF_IST: '6am' })).toMatch(/SHAREKHAN_TOKEN_CUTOFF_IST="6am" \(wants a time HH:MM/);
    expect(problem({ SHAREKHAN_VERSION_ID: '1007' })).toMatch(/SHAREKHAN_VERSION_ID="1007" \(wants empty, 1005 or 1006/);
    const text = problem({ SHAREKHAN_SECRET_KEY: 'too-short-secret' });
    expect(text).toMatch(/SHAREKHAN_SECRET_KEY=\(hidden, 16 characters\) \(wants exactly 32 bytes/);
    expect(text).not.toContain('too-short-secret');
    expect(problem({ SHAREKHAN_API_BASE_URL: 'ftp://x' })).toMatch(/SHAREKHAN_API_BASE_URL/);
    const cfg = loadConfig({ SHAREKHAN_TOKEN_CUTOFF_IST: '05:45', SHAREKHAN_VERSION_ID: '1005' });
    expect(cfg.sharekhan).toMatchObject({ cutoffMinutesIst: 345, versionId: '1005', maxLifetimeMs: 86_400_000 });
  });
});
