import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { PRODUCTION_ESSENTIALS } from '../../test/fixtures/production-env.js';
import { ConfigError, loadConfig } from './load-config.js';

/** A production environment with every essential set to a real-looking value. */
const REAL_PRODUCTION = {
  NODE_ENV: 'production',
  REDIS_URL: 'redis://:s3cr3t-pw-0123456789@redis:6379/0',
  TOKEN_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
  ...PRODUCTION_ESSENTIALS,
};

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('production refuses example secrets and missing essentials', () => {
  it('starts with real values', () => {
    expect(problems(REAL_PRODUCTION)).toEqual([]);
  });

  it('refuses every value of deploy/secret.example.yaml, one line per variable, never echoing it', () => {
    const example = (
      parse(readFileSync('deploy/secret.example.yaml', 'utf8')) as {
        stringData: Record<string, string>;
      }
    ).stringData;
    const got = problems({ ...REAL_PRODUCTION, ...example });
    expect(got.map((p) => p.split('=')[0]).sort()).toEqual(
      Object.keys(example).sort(),
    );
    expect(got.find((p) => p.startsWith('API_KEYS='))).toBe(
      `API_KEYS=(hidden, ${example.API_KEYS.length} characters) (wants a real value in production, not the example placeholder in entry 1 (ops) of deploy/secret.example.yaml or production.env.example)`,
    );
    for (const line of got) expect(line).not.toMatch(/CHANGE_ME/);
  });

  it("refuses production.env.example's <secret>, <base64> and <token> examples", () => {
    const got = problems({
      ...REAL_PRODUCTION,
      API_KEYS: `ops:admin:${randomBytes(24).toString('base64')},frontend_a:MASTER_USER_001:<secret>`,
      TOKEN_ENCRYPTION_KEYS: 'k2:<base64>,k1:<base64>',
      SHAREKHAN_ACCESS_TOKEN_MASTER_USER_001: '<token>',
    });
    expect(got).toHaveLength(3);
    const line = (name: string) => got.find((p) => p.startsWith(`${name}=`));
    expect(line('API_KEYS')).toMatch(
      /^API_KEYS=\(hidden, \d+ characters\) \(wants a real value in production, not the example placeholder in entry 2 \(frontend_a\)/,
    );
    expect(line('TOKEN_ENCRYPTION_KEYS')).toMatch(
      /^TOKEN_ENCRYPTION_KEYS=.*in entry 1 \(k2\), entry 2 \(k1\)/,
    );
    expect(line('SHAREKHAN_ACCESS_TOKEN_MASTER_USER_001')).toMatch(
      /^SHAREKHAN_ACCESS_TOKEN_MASTER_USER_001=\(hidden, 7 characters\)/,
    );
  });

  it('refuses missing API keys, ShareKhan keys and trading users, each on its own line', () => {
    const { NODE_ENV, REDIS_URL, TOKEN_ENCRYPTION_KEYS } = REAL_PRODUCTION;
    expect(problems({ NODE_ENV, REDIS_URL, TOKEN_ENCRYPTION_KEYS })).toEqual([
      'API_KEYS=(unset) (wants at least one name:scope:secret key in production (without one every protected endpoint answers 401))',
      "SHAREKHAN_API_KEY=(unset) (wants the app's ShareKhan API key in production (without it no live order and no login can be made))",
      "SHAREKHAN_SECRET_KEY=(unset) (wants the app's ShareKhan secret key in production (without it the daily login cannot complete))",
      'TRADING_USERS=(unset) (wants at least one userId:mode:customerId:loginId in production (without users nothing can trade))',
    ]);
  });

  it('outside production the examples are only examples', () => {
    expect(
      problems({ NODE_ENV: 'development', SHAREKHAN_API_KEY: 'CHANGE_ME' }),
    ).toEqual([]);
  });
});
