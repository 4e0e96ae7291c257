import type { TokenView } from '../sharekhan/index.js';
import { cacheModeNotice } from './cache-mode-notice.js';
import { ConsoleLoginReturn } from './console-login-return.js';

const view = { userId: 'USER_A', status: 'active', fingerprint: 'sha256:0123456789abcdef', mask: '****wxyz' } as TokenView;

describe('ConsoleLoginReturn', () => {
  const ret = new ConsoleLoginReturn();

  it('sends the browser to /console with user, status and fingerprint in the fragment, nothing else', () => {
    const url = ret.urlFor({ ok: true, token: { ...view, customerId: 'C100', loginId: 'L1' } as TokenView });
    expect(url).toBe('/console#login=ok&user=USER_A&status=active&fingerprint=sha256%3A0123456789abcdef');
  });

  it('a failure carries the HTTP status and the error code only, no text', () => {
    const url = ret.urlFor({ ok: false, statusCode: 400, message: 'Unknown, expired or already used state' });
    expect(url).toBe('/console#login=failed&code=400');
    expect(ret.urlFor({ ok: false, statusCode: 400, message: 'request_token rejected: ...', code: 'REQUEST_TOKEN_AUTH_FAILED' })).toBe(
      '/console#login=failed&code=400&reason=REQUEST_TOKEN_AUTH_FAILED',
    );
    expect(ret.urlFor({ ok: false, statusCode: 400, message: 'x', code: 'not a code <b>' })).toBe('/console#login=failed&code=400');
  });
});

describe('cacheModeNotice', () => {
  it('warns in fallback and recovering only, saying what it means for trading', () => {
    expect(cacheModeNotice('redis').level).toBe('ok');
    expect(cacheModeNotice('memory').level).toBe('ok');
    expect(cacheModeNotice('fallback')).toMatchObject({ level: 'warning', message: expect.stringMatching(/orders are refused/) });
    expect(cacheModeNotice('recovering')).toMatchObject({ level: 'warning', message: expect.stringMatching(/replaying/) });
  });
});
