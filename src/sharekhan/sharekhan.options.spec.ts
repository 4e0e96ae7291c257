import { randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import { ModuleOptionsError } from '../common/module-options.js';
import * as entry from './index.js';
import { ShareKhanNotConfiguredError } from './broker/broker-errors.js';
import { publicShareKhanSettings, resolveShareKhanOptions } from './sharekhan.options.js';

const K1 = randomBytes(32).toString('base64');
const K2 = randomBytes(32).toString('base64');

function problem(input: unknown): ModuleOptionsError {
  try {
    resolveShareKhanOptions(input as never);
  } catch (err) {
    expect(err).toBeInstanceOf(ModuleOptionsError);
    return err as ModuleOptionsError;
  }
  throw new Error('expected a ModuleOptionsError');
}

describe('ShareKhanAuthModule options', () => {
  it('defaults: production ShareKhan URLs, 06:00 IST cut-off, a throwaway key, no metrics', () => {
    const s = resolveShareKhanOptions({});
    expect(s).toMatchObject({
      apiBaseUrl: 'https://api.sharekhan.com/skapi/services',
      loginUrl: 'https://api.sharekhan.com/skapi/auth/login.html',
      cutoffMinutesIst: 360,
      httpTimeoutMs: 5_000,
      audit: { maxEvents: 200, ttlMs: 72 * 3_600_000 },
      encryption: { generated: true, activeKeyId: 'ephemeral' },
      accounts: [],
    });
    expect(s.metricsRegistry).toBeUndefined();
    expect(s.staticTokens.size).toBe(0);
  });

  it('a key ring with an explicit active key; a registry is kept as given', () => {
    const registry = new Registry();
    const s = resolveShareKhanOptions({ encryption: { keys: [{ id: 'k1', keyBase64: K1 }, { id: 'k2', keyBase64: K2 }], activeKeyId: 'k2' }, metricsRegistry: registry });
    expect(s.encryption).toMatchObject({ activeKeyId: 'k2', generated: false });
    expect(s.metricsRegistry).toBe(registry);
  });

  it('one error naming every bad option and what it wants, never a secret', () => {
    const secret = 'too-short-secret';
    const err = problem({ cutoffIst: '6am', secretKey: secret, encryption: { keys: [{ id: 'k1', keyBase64: 'abc' }] }, staticTokens: { lower_case: 't' } });
    expect(err.code).toBe('INVALID_MODULE_OPTIONS');
    expect(err.message).toMatch(/^Invalid ShareKhanAuthModule options: /);
    expect(err.message).toContain('cutoffIst (wants a time HH:MM');
    expect(err.message).toContain('secretKey (wants exactly 32 bytes');
    expect(err.message).toContain('encryption.keys.0.keyBase64 (wants base64 of exactly 32 random bytes');
    expect(err.message).toContain('staticTokens.lower_case');
    expect(err.message).not.toContain(secret);
  });

  it('several keys need the active one named, and it must be one of them', () => {
    const keys = [{ id: 'k1', keyBase64: K1 }, { id: 'k2', keyBase64: K2 }];
    expect(problem({ encryption: { keys } }).message).toContain('encryption.activeKeyId (wants the id of the key new tokens are sealed with, one of k1, k2)');
    expect(problem({ encryption: { keys, activeKeyId: 'k9' } }).message).toContain('encryption.activeKeyId (wants one of the key ids: k1, k2)');
    const twice = [...keys, { id: 'k1', keyBase64: K2 }];
    expect(problem({ encryption: { keys: twice, activeKeyId: 'k1' } }).message).toContain('encryption.keys.2.id (wants a key id not used before (k1))');
  });
});

describe('what leaves the ShareKhan module', () => {
  it('the package entry exports no DI token of the full settings; the public part holds no secret', () => {
    expect(Object.keys(entry)).not.toContain('SHAREKHAN_SETTINGS');
    const s = resolveShareKhanOptions({ apiKey: 'api-key-x', secretKey: 'k'.repeat(32), staticTokens: { USER_A: 'static-token-x' }, encryption: { keys: [{ id: 'k1', keyBase64: K1 }] } });
    const text = JSON.stringify(publicShareKhanSettings(s));
    for (const secret of ['api-key-x', 'k'.repeat(32), 'static-token-x', K1]) expect(text).not.toContain(secret);
    expect(publicShareKhanSettings(s)).toMatchObject({ cutoffIst: '06:00', cutoffMinutesIst: 360 });
  });

  it('a missing apiKey is named as the module option to a library user, and as the app names it where the app says so', () => {
    const err = new ShareKhanNotConfiguredError(['apiKey', 'secretKey']);
    expect(err.message).toBe("ShareKhan is not configured: set ShareKhanAuthModule's `apiKey` option and ShareKhanAuthModule's `secretKey` option");
    expect(err.missingOptions).toEqual(['apiKey', 'secretKey']);
    const named = resolveShareKhanOptions({ settingNames: { apiKey: 'SHAREKHAN_API_KEY', secretKey: 'SHAREKHAN_SECRET_KEY' } });
    const app = new ShareKhanNotConfiguredError(['apiKey', 'secretKey'], named.nameOf);
    expect(app.message).toBe('ShareKhan is not configured: set SHAREKHAN_API_KEY and SHAREKHAN_SECRET_KEY');
    expect(app.settings).toEqual(['SHAREKHAN_API_KEY', 'SHAREKHAN_SECRET_KEY']);
    expect(named.nameOf('vendorKey')).toBe("ShareKhanAuthModule's `vendorKey` option");
  });
});
