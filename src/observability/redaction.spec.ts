import { pino } from 'pino';
import { REDACTED, isSecretKey, redactPaths, redactQuery, redactUrl, scrubDeep } from './redaction.js';

describe('redaction', () => {
  it('knows credential field names in any case', () => {
    for (const k of ['accessToken', 'ACCESSTOKEN', 'token', 'requestToken', 'secret', 'password', 'apiKey', 'x-api-key', 'Authorization']) {
      expect(isSecretKey(k), k).toBe(true);
    }
    for (const k of ['userId', 'tokenStatus', 'fingerprint', 'mode']) expect(isSecretKey(k), k).toBe(false);
  });

  it('scrubs credential fields at any depth without touching the input', () => {
    const input = { userId: 'U1', a: { b: [{ c: { password: 'p', ok: 1 } }] }, token: 't', n: null, accessToken: undefined };
    const out = scrubDeep(input);
    expect(out).toEqual({ userId: 'U1', a: { b: [{ c: { password: REDACTED, ok: 1 } }] }, token: REDACTED, n: null, accessToken: undefined });
    expect(input.token).toBe('t');
    expect(input.a.b[0].c.password).toBe('p');
  });

  it('returns clean objects as they are and survives cycles', () => {
    const clean = { a: 1, b: { c: [1, 2] } };
    expect(scrubDeep(clean)).toBe(clean);
    const cyclic: Record<string, unknown> = { secret: 's' };
    cyclic.self = cyclic;
    expect((scrubDeep(cyclic) as Record<string, unknown>).secret).toBe(REDACTED);
  });

  it('redacts credential-looking query values in URLs and parsed queries', () => {
    expect(redactUrl('/cb?request_token=abc&state=xyz&statement=1')).toBe(`/cb?request_token=${REDACTED}&state=${REDACTED}&statement=1`);
    expect(redactQuery({ state: 'xyz', 'state[]': ['a'], statement: '1' })).toEqual({ state: REDACTED, 'state[]': REDACTED, statement: '1' });
    expect(redactUrl('/x?api_key=1&apiKey=2&page=3')).toBe(`/x?api_key=${REDACTED}&apiKey=${REDACTED}&page=3`);
    expect(redactUrl('/plain/path')).toBe('/plain/path');
    expect(redactUrl('/x?%ZZ=1&flag')).toBe('/x?%ZZ=1&flag');
    expect(redactQuery({ access_token: 'a', page: '1' })).toEqual({ access_token: REDACTED, page: '1' });
  });

  it('gives pino paths that redact headers and fields in real output', () => {
    const lines: string[] = [];
    const log = pino({ redact: { paths: redactPaths(), censor: REDACTED } }, { write: (s: string) => void lines.push(s) });
    log.info({
      req: { headers: { authorization: 'Bearer A', 'x-api-key': 'K', 'access-token': 'T', cookie: 'c=1', host: 'h' }, body: { requestToken: 'R' } },
      accessToken: 'AT',
      user: { password: 'P' },
    });
    const out = JSON.parse(lines[0]);
    expect(out.req.headers).toEqual({ authorization: REDACTED, 'x-api-key': REDACTED, 'access-token': REDACTED, cookie: REDACTED, host: 'h' });
    expect(out.req.body.requestToken).toBe(REDACTED);
    expect(out.accessToken).toBe(REDACTED);
    expect(out.user.password).toBe(REDACTED);
  });
});

describe('scrubDeep on class instances', () => {
  it('leaves non-plain objects (raw requests, errors) to their serializers', () => {
    class Raw {
      token = 'inside-a-class';
    }
    const raw = new Raw();
    const err = new Error('boom');
    const out = scrubDeep({ res: raw, err, body: { token: 't' } });
    expect(out.res).toBe(raw);
    expect(out.err).toBe(err);
    expect(out.body.token).toBe(REDACTED);
  });
});
