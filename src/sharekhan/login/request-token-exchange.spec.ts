import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  decodeExchangeValue,
  decryptRequestToken,
  exchangeRequestToken,
  makeRequestToken,
  RequestTokenError,
  ShareKhanSecretKeyError,
} from './request-token-exchange.js';

interface Vector {
  secretKey: string;
  requestTokenPlaintext: string;
  withVersionId: { requestToken: string; exchangeValue: string };
  withoutVersionId: { requestToken: string; exchangeValue: string };
}

const FIXTURE = resolve(
  process.cwd(),
  'test/fixtures/sharekhan-exchange-vectors.json',
);
const SHARED = resolve(
  process.cwd(),
  '../shared/sharekhan-exchange-vectors.json',
);
const vectors: Vector[] = JSON.parse(readFileSync(FIXTURE, 'utf8')).vectors;
const VERSION = '1005';
const KEY = vectors[0].secretKey;
const OTHER_KEY = 'Zz9y8x7w6v5u4t3s2r1q0pOoNnMmLlKk';

function flipByte(
  token: string,
  index: number,
  encoding: 'base64' | 'base64url',
): string {
  const bytes = Buffer.from(token, encoding);
  const at = index < 0 ? bytes.length + index : index;
  bytes[at] ^= 0x01;
  return bytes.toString(encoding);
}

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw');
}

describe('exchangeRequestToken: official SDK vectors', () => {
  it('has vectors to check', () => {
    expect(vectors.length).toBeGreaterThanOrEqual(2);
  });

  it('fixture copy equals ../shared/sharekhan-exchange-vectors.json (when the shared copy is beside the repo)', () => {
    const fixture = JSON.parse(readFileSync(FIXTURE, 'utf8'));
    // CI lays shared/ beside the clone; a bare clone elsewhere still checks the fixture is whole.
    if (!existsSync(SHARED)) {
      expect(fixture.vectors.length).toBeGreaterThanOrEqual(2);
      return;
    }
    expect(fixture).toEqual(JSON.parse(readFileSync(SHARED, 'utf8')));
  });

  vectors.forEach((v, i) => {
    const [requestId, customerId] = v.requestTokenPlaintext.split('|');

    it(`vector ${i} with a version id (base64url)`, () => {
      const out = exchangeRequestToken(
        v.withVersionId.requestToken,
        v.secretKey,
        {
          versionId: VERSION,
        },
      );
      expect(out).toEqual({
        exchangeValue: v.withVersionId.exchangeValue,
        requestId,
        customerId,
      });
    });

    it(`vector ${i} without a version id (standard base64)`, () => {
      for (const versionId of [undefined, null, '']) {
        const out = exchangeRequestToken(
          v.withoutVersionId.requestToken,
          v.secretKey,
          { versionId },
        );
        expect(out).toEqual({
          exchangeValue: v.withoutVersionId.exchangeValue,
          requestId,
          customerId,
        });
      }
    });

    it(`vector ${i}: makeRequestToken / decodeExchangeValue are the inverse`, () => {
      expect(
        makeRequestToken(v.requestTokenPlaintext, v.secretKey, {
          versionId: VERSION,
        }),
      ).toBe(v.withVersionId.requestToken);
      expect(makeRequestToken(v.requestTokenPlaintext, v.secretKey, {})).toBe(
        v.withoutVersionId.requestToken,
      );
      expect(
        decodeExchangeValue(v.withVersionId.exchangeValue, v.secretKey, {
          versionId: VERSION,
        }),
      ).toBe(`${customerId}|${requestId}`);
      expect(
        decodeExchangeValue(v.withoutVersionId.exchangeValue, v.secretKey),
      ).toBe(`${customerId}|${requestId}`);
    });

    it(`vector ${i}: accepts the URL-encoded form`, () => {
      const out = exchangeRequestToken(
        encodeURIComponent(v.withoutVersionId.requestToken),
        v.secretKey,
      );
      expect(out.exchangeValue).toBe(v.withoutVersionId.exchangeValue);
    });
  });
});

describe('exchangeRequestToken: transport repairs', () => {
  const v = vectors[0];

  it('restores a "+" that arrived as a space (no version id)', () => {
    expect(v.withoutVersionId.requestToken).toContain('+');
    const spaced = v.withoutVersionId.requestToken.replace(/\+/g, ' ');
    expect(exchangeRequestToken(spaced, v.secretKey).exchangeValue).toBe(
      v.withoutVersionId.exchangeValue,
    );
  });

  it('does not "repair" spaces in a base64url token (version id)', () => {
    const spaced = v.withVersionId.requestToken.replace(/-/g, ' ');
    const err = errorOf(() =>
      exchangeRequestToken(spaced, v.secretKey, { versionId: VERSION }),
    );
    expect(err).toBeInstanceOf(RequestTokenError);
    expect((err as RequestTokenError).code).toBe('MALFORMED_TOKEN');
  });
});

describe('exchangeRequestToken: rejections', () => {
  const v = vectors[0];
  const std = v.withoutVersionId.requestToken;
  const url = v.withVersionId.requestToken;

  const cases: Array<[string, () => unknown, string]> = [
    [
      'tampered tag',
      () => exchangeRequestToken(flipByte(std, -1, 'base64'), KEY),
      'TOKEN_AUTH_FAILED',
    ],
    [
      'tampered tag (base64url)',
      () =>
        exchangeRequestToken(flipByte(url, -1, 'base64url'), KEY, {
          versionId: VERSION,
        }),
      'TOKEN_AUTH_FAILED',
    ],
    [
      'flipped ciphertext byte',
      () => exchangeRequestToken(flipByte(std, 0, 'base64'), KEY),
      'TOKEN_AUTH_FAILED',
    ],
    [
      'wrong secret key',
      () => exchangeRequestToken(std, OTHER_KEY),
      'TOKEN_AUTH_FAILED',
    ],
    [
      'truncated token',
      () => exchangeRequestToken(std.slice(0, 40), KEY),
      'TOKEN_AUTH_FAILED',
    ],
    [
      'shorter than a tag',
      () => exchangeRequestToken('AAAAAAAAAAAAAAAAAAAAAA==', KEY),
      'TOKEN_AUTH_FAILED',
    ],
    ['empty token', () => exchangeRequestToken('', KEY), 'MALFORMED_TOKEN'],
    [
      'junk characters',
      () => exchangeRequestToken('abc$def!', KEY),
      'MALFORMED_TOKEN',
    ],
    [
      'base64url token without a version id',
      () => exchangeRequestToken(url, KEY),
      'MALFORMED_TOKEN',
    ],
    [
      'standard base64 token with a version id',
      () => exchangeRequestToken(std, KEY, { versionId: VERSION }),
      'MALFORMED_TOKEN',
    ],
    [
      'impossible base64 length',
      () => exchangeRequestToken('AAAAA', KEY),
      'MALFORMED_TOKEN',
    ],
    [
      'misplaced padding',
      () => exchangeRequestToken('AA==AAAA', KEY),
      'MALFORMED_TOKEN',
    ],
    [
      'bad URL escape',
      () => exchangeRequestToken('%E0%A4%A', KEY),
      'MALFORMED_TOKEN',
    ],
    [
      'missing "|"',
      () => exchangeRequestToken(makeRequestToken('REQ1C100', KEY), KEY),
      'MALFORMED_PLAINTEXT',
    ],
    [
      'two "|"',
      () => exchangeRequestToken(makeRequestToken('A|B|C', KEY), KEY),
      'MALFORMED_PLAINTEXT',
    ],
    [
      'empty request id',
      () => exchangeRequestToken(makeRequestToken('|C100', KEY), KEY),
      'MALFORMED_PLAINTEXT',
    ],
    [
      'empty customer id',
      () => exchangeRequestToken(makeRequestToken('REQ1|', KEY), KEY),
      'MALFORMED_PLAINTEXT',
    ],
    [
      'exchange value tampered',
      () =>
        decodeExchangeValue(
          flipByte(v.withoutVersionId.exchangeValue, 3, 'base64'),
          KEY,
        ),
      'TOKEN_AUTH_FAILED',
    ],
  ];

  it.each(cases)('%s', (_name, fn, code) => {
    const err = errorOf(fn);
    expect(err).toBeInstanceOf(RequestTokenError);
    expect((err as RequestTokenError).code).toBe(code);
    expect(err.message.length).toBeGreaterThan(10);
  });

  it('error messages never contain the token, key or plaintext parts', () => {
    const secrets = [
      std,
      url,
      KEY,
      OTHER_KEY,
      ...v.requestTokenPlaintext.split('|'),
    ];
    for (const [, fn] of cases) {
      const err = errorOf(fn);
      const text = `${err.message} ${String(err.stack)}`;
      for (const s of secrets) expect(text).not.toContain(s);
    }
  });

  it('a secret key that is not 32 bytes is a clear config error without the key', () => {
    for (const bad of ['short-key', `${KEY}x`, '', 'é'.repeat(16) + 'x']) {
      const err = errorOf(() => exchangeRequestToken(std, bad));
      expect(err).toBeInstanceOf(ShareKhanSecretKeyError);
      expect(err.message).toMatch(/secret key/);
      if (bad) expect(err.message).not.toContain(bad);
    }
    // 16 two-byte characters are 32 bytes: length is counted in UTF-8 bytes.
    expect(() => makeRequestToken('a|b', 'é'.repeat(16))).not.toThrow();
  });

  it('decryptRequestToken returns the parts', () => {
    expect(decryptRequestToken(std, KEY)).toEqual({
      requestId: '3f9a1c0e-77aa-4f1b-9e0d-2b5c8d6e4f10',
      customerId: '1234567',
    });
  });
});
