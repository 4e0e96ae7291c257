import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { vi } from 'vitest';
import { CacheService } from '../src/cache/cache.service.js';
import { TokenClock } from '../src/sharekhan/tokens/token-clock.js';
import { ShareKhanTokenStore } from '../src/sharekhan/tokens/token-store.service.js';
import { setLogDestination } from '../src/observability/logging.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { startFakeShareKhan, type FakeShareKhan } from './helpers/fake-sharekhan.js';
import { startRedis, type RedisProcess } from './helpers/redis-server.js';
import { waitUntil } from './helpers/wait.js';

const SECRET = 'Sk8x2mQ7vR4tY9wE1uI5oP3aS6dF0gH2';
const SK_API_KEY = 'sharekhan-app-api-key-0123';
const ADMIN_KEY = 'admin-key-7c1e0b9a55d24f3e';
const USER_A_KEY = 'user-a-key-91d0c7e2b3a44f58';
const K1 = randomBytes(32).toString('base64');
const K2 = randomBytes(32).toString('base64');
const REDIRECT = 'https://app.example.test/sharekhan/callback';

/** Every token text this suite handles; none may appear in a response or a log line. */
const secrets = new Set<string>([SECRET, ADMIN_KEY, USER_A_KEY, K1, K2]);
/**
 * ShareKhan's login page takes the app's API key in its URL, so the login-url answer has to carry
 * it to the user's browser (the secret key never leaves). It must still never be logged.
 */
const logOnlySecrets = [SK_API_KEY];
const token = (label: string) => {
  const t = `tok-${label}-${randomBytes(18).toString('base64url')}`;
  secrets.add(t);
  return t;
};

/** Response texts, checked for secrets at the end. */
const responses: string[] = [];
/** Log output from pino's destination, stdout, stderr and console. */
const logLines: string[] = [];

let redis: RedisProcess;
let fake: FakeShareKhan;
let prefixSeq = 0;

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    LOG_LEVEL: 'debug',
    REDIS_URL: redis.url,
    CACHE_KEY_PREFIX: `ska${++prefixSeq}:`,
    API_KEYS: `ops:admin:${ADMIN_KEY},ua:USER_A:${USER_A_KEY}`,
    TOKEN_ENCRYPTION_KEYS: `k1:${K1}`,
    SHAREKHAN_API_BASE_URL: fake.baseUrl,
    SHAREKHAN_API_KEY: SK_API_KEY,
    SHAREKHAN_SECRET_KEY: SECRET,
    SHAREKHAN_REDIRECT_URL: REDIRECT,
    API_RATE_LIMIT: '1000',
    ...extra,
  };
}

async function start(extra: Record<string, string> = {}): Promise<TestApp> {
  const app = await createTestApp(env(extra), (c) => {
    c.sharekhan.httpTimeoutMs = 2_000;
    // A module option, no variable: the login flow with a version id (base64url request tokens).
    c.sharekhan.versionId = '1005';
  });
  const cache = app.get(CacheService);
  await waitUntil(Date.now() + 10_000, 'the cache to use Redis', async () => cache.mode === 'redis', 20);
  return app;
}

/** supertest with the response text recorded. */
function call(app: TestApp, method: 'get' | 'put' | 'post' | 'delete', path: string, key?: string) {
  const req = request(app.http)[method](path);
  if (key) req.set('x-api-key', key);
  return req;
}
async function rec<T extends { text: string }>(p: PromiseLike<T>): Promise<T> {
  const res = await p;
  responses.push(res.text);
  return res;
}

const put = (app: TestApp, userId: string, body: unknown, key = ADMIN_KEY) =>
  rec(call(app, 'put', `/sharekhan/users/${userId}/token`, key).send(body as object));
const status = (app: TestApp, userId: string, key = ADMIN_KEY) => rec(call(app, 'get', `/sharekhan/users/${userId}/token`, key));

beforeAll(async () => {
  redis = await startRedis();
  fake = await startFakeShareKhan({
    secretKey: SECRET,
    apiKey: SK_API_KEY,
    versionId: '1005',
    redirectUri: REDIRECT,
    customerId: 'C100',
  });
  const capture = (chunk: unknown) => {
    logLines.push(typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk));
  };
  restoreLog = setLogDestination({ write: (line: string) => capture(line) });
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown, ...rest: unknown[]) => {
    capture(chunk);
    return out(chunk as string, ...(rest as []));
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: unknown, ...rest: unknown[]) => {
    capture(chunk);
    return err(chunk as string, ...(rest as []));
  });
  for (const m of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    const orig = console[m].bind(console);
    vi.spyOn(console, m).mockImplementation((...args: unknown[]) => {
      capture(args.map(String).join(' '));
      orig(...args);
    });
  }
});
let restoreLog: () => void = () => undefined;

afterAll(async () => {
  restoreLog();
  vi.restoreAllMocks();
  await fake?.close();
  await redis?.stop();
});

describe('API keys, rate limit and input validation', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await start();
  });
  afterAll(() => app.close());

  it('401 without a key or with a wrong one, with Cache-Control: no-store', async () => {
    const none = await status(app, 'USER_A', '');
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ statusCode: 401, message: 'Missing API key: send it in the x-api-key header' });
    expect(none.headers['cache-control']).toBe('no-store');
    const wrong = await status(app, 'USER_A', 'not-a-real-key-000000000');
    expect(wrong.status).toBe(401);
    expect(wrong.body.message).toMatch(/Invalid API key/);
  });

  it('403 when a user-scoped key touches another user or an admin-only route', async () => {
    expect((await status(app, 'USER_A', USER_A_KEY)).status).toBe(200);
    const other = await status(app, 'USER_B', USER_A_KEY);
    expect(other.status).toBe(403);
    expect(other.body.message).toMatch(/may act only on its own user, not on USER_B/);
    const put403 = await put(app, 'USER_B', { accessToken: token('x') }, USER_A_KEY);
    expect(put403.status).toBe(403);
    const list = await rec(call(app, 'get', '/sharekhan/tokens', USER_A_KEY));
    expect(list.status).toBe(403);
    expect(list.body.message).toMatch(/admin API key/);
  });

  it('400 for bad user ids, with the expected format in the message', async () => {
    for (const bad of ['user_a', 'USER-A', 'A'.repeat(65), 'USER%20A', '%E2%9C%93']) {
      const res = await status(app, bad);
      expect(res.status, bad).toBe(400);
      expect(res.body.message, bad).toMatch(/1-64 characters A-Z, 0-9 or _/);
    }
  });

  it('400 for malformed JSON, wrong types, unknown fields, a missing body; 413 for an oversized body', async () => {
    const t = token('bad-json');
    const malformed = await rec(
      call(app, 'put', '/sharekhan/users/USER_A/token', ADMIN_KEY).set('Content-Type', 'application/json').send(`{"accessToken": "${t}",`),
    );
    expect(malformed.status).toBe(400);
    expect(malformed.body.message).toMatch(/Malformed JSON body/);
    // JSON.parse quotes the text it choked on: that must not come back (it is a token here).
    const quoted = await rec(
      call(app, 'put', '/sharekhan/users/USER_A/token', ADMIN_KEY).set('Content-Type', 'application/json').send(`{"accessToken": ${t}}`),
    );
    expect(quoted.status).toBe(400);
    expect(quoted.text).not.toContain(t.slice(4, 12));

    const wrongType = await put(app, 'USER_A', { accessToken: 12345678 });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: 'Invalid request: body.accessToken must be a string (the ShareKhan access token of today)',
      details: [{ field: 'body.accessToken', problem: 'accessToken must be a string (the ShareKhan access token of today)' }],
    });

    const unknown = await put(app, 'USER_A', { access_token: t });
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(unknown.body.details)).toMatch(/unknown field\(s\) access_token; allowed: accessToken, customerId, loginId/);

    const spaces = await put(app, 'USER_A', { accessToken: 'has spaces in it' });
    expect(spaces.status).toBe(400);
    expect(JSON.stringify(spaces.body.details)).toMatch(/printable ASCII without spaces/);

    const badCustomer = await put(app, 'USER_A', { accessToken: t, customerId: 'C 1' });
    expect(badCustomer.status).toBe(400);
    expect(badCustomer.body.details).toContainEqual({ field: 'body.customerId', problem: expect.stringMatching(/^customerId must be 1-64/) });

    const noBody = await rec(call(app, 'put', '/sharekhan/users/USER_A/token', ADMIN_KEY));
    expect(noBody.status).toBe(400);
    expect(noBody.body.message).toMatch(/Request body must be a JSON object/);

    const arrayBody = await put(app, 'USER_A', [t]);
    expect(arrayBody.status).toBe(400);

    const huge = await put(app, 'USER_A', { accessToken: t, loginId: 'x'.repeat(64 * 1024) });
    expect(huge.status).toBe(413);
    expect(huge.body.message).toMatch(/Body too large: at most \d+ bytes/);
  });

  it('429 with Retry-After once the per-key budget is spent', async () => {
    const limited = await start({ API_RATE_LIMIT: '3' });
    try {
      for (let i = 0; i < 3; i++) expect((await status(limited, 'USER_A', USER_A_KEY)).status).toBe(200);
      const over = await status(limited, 'USER_A', USER_A_KEY);
      expect(over.status).toBe(429);
      expect(over.body).toMatchObject({ statusCode: 429, error: 'Too Many Requests' });
      expect(over.body.message).toMatch(/at most 3 per 60 s/);
      expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
      // Another key has its own budget; unauthenticated guessing is limited per address.
      expect((await status(limited, 'USER_A', ADMIN_KEY)).status).toBe(200);
      for (let i = 0; i < 3; i++) await status(limited, 'USER_A', `wrong-key-${i}-aaaaaaaaaaaa`);
      expect((await status(limited, 'USER_A', 'wrong-key-x-aaaaaaaaaaaa')).status).toBe(429);
    } finally {
      await limited.close();
    }
  });
});

describe('submit, status, list, delete, audit', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await start();
  });
  afterAll(() => app.close());

  it('stores a token and reports it without the token text', async () => {
    const t = token('submit');
    const res = await put(app, 'USER_A', { accessToken: t, customerId: 'C100', loginId: 'LOGIN1' }, USER_A_KEY);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toMatchObject({
      userId: 'USER_A',
      present: true,
      usable: true,
      status: 'active',
      customerId: 'C100',
      loginId: 'LOGIN1',
      source: 'manual',
      submittedBy: 'ua',
      storedIn: 'redis',
      cacheMode: 'redis',
      mask: `****${t.slice(-4)}`,
    });
    expect(res.body.fingerprint).toMatch(/^sha256:[0-9a-f]{16}$/);
    expect(res.body.secondsLeft).toBeGreaterThan(0);
    expect(res.text).not.toContain(t);

    const st = await status(app, 'USER_A', USER_A_KEY);
    expect(st.status).toBe(200);
    expect(st.headers['cache-control']).toBe('no-store');
    expect(st.body).toMatchObject({ userId: 'USER_A', present: true, status: 'active', fingerprint: res.body.fingerprint, cacheMode: 'redis' });

    const store = app.get(ShareKhanTokenStore);
    const found = await store.lookup('USER_A');
    expect(found.kind === 'found' && found.accessToken).toBe(t);
    expect((await store.lookup('USER_B')).kind).toBe('missing');
  });

  it('what Redis holds for a token is ciphertext', async () => {
    const t = token('at-rest');
    await put(app, 'USER_C', { accessToken: t });
    const raw = await redis.client().get(`${app.config.cache.keyPrefix}sharekhan:token:USER_C`);
    expect(raw).toBeTruthy();
    expect(raw).not.toContain(t);
    expect(raw).not.toContain(Buffer.from(t).toString('base64'));
    expect(raw).toMatch(/"sealed":\{"kid":"k1","iv":"[^"]+","ct":"[^"]+","tag":"[^"]+"\}/);
  });

  it('a ciphertext moved to another user key does not decrypt', async () => {
    const t = token('moved');
    await put(app, 'USER_M1', { accessToken: t });
    const plain = redis.client();
    const prefix = app.config.cache.keyPrefix;
    const raw = (await plain.get(`${prefix}sharekhan:token:USER_M1`))!;
    // Even with the user id inside the record rewritten, the associated data (the key) differs.
    await plain.set(`${prefix}sharekhan:token:USER_M2`, raw.replace('"userId":"USER_M1"', '"userId":"USER_M2"'));
    const st = await status(app, 'USER_M2');
    expect(st.status).toBe(200);
    expect(st.body).toMatchObject({ userId: 'USER_M2', present: true, usable: false, status: 'invalid' });
    expect(st.body.reason).toMatch(/cannot be decrypted/);
    expect((await app.get(ShareKhanTokenStore).lookup('USER_M2')).kind).toBe('invalid');
    const audit = await rec(call(app, 'get', '/sharekhan/users/USER_M2/audit', ADMIN_KEY));
    expect(audit.body.events[0]).toMatchObject({ action: 'decrypt_failed', userId: 'USER_M2' });
    expect(audit.body.events[0].detail).toMatch(/failed authentication/);
  });

  it('lists users from the index and deletes (revokes) one', async () => {
    await put(app, 'USER_B', { accessToken: token('list-b') });
    const list = await rec(call(app, 'get', '/sharekhan/tokens', ADMIN_KEY));
    expect(list.status).toBe(200);
    expect(list.headers['cache-control']).toBe('no-store');
    expect(list.body.complete).toBe(true);
    const ids = list.body.users.map((u: { userId: string }) => u.userId);
    expect(ids).toEqual(expect.arrayContaining(['USER_A', 'USER_B', 'USER_C']));
    expect(list.body.users.find((u: { userId: string }) => u.userId === 'USER_B')).toMatchObject({ status: 'active', present: true });

    const del = await rec(call(app, 'delete', '/sharekhan/users/USER_B/token', ADMIN_KEY));
    expect(del.status).toBe(200);
    expect(del.body).toMatchObject({ userId: 'USER_B', revoked: true, status: 'revoked' });
    const after = await status(app, 'USER_B');
    expect(after.body).toMatchObject({ present: true, usable: false, status: 'revoked' });
    expect((await app.get(ShareKhanTokenStore).lookup('USER_B')).kind).toBe('invalid');
    const raw = await redis.client().get(`${app.config.cache.keyPrefix}sharekhan:token:USER_B`);
    expect(raw).toContain('"sealed":null');

    // A second DELETE changes nothing and says so (and writes no second audit event: see below).
    const twice = await rec(call(app, 'delete', '/sharekhan/users/USER_B/token', ADMIN_KEY));
    expect(twice.status).toBe(200);
    expect(twice.body).toMatchObject({ userId: 'USER_B', revoked: false, alreadyRevoked: true, status: 'revoked' });
    expect(twice.body.message).toMatch(/already revoked \(revoked by ops at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d IST\).*nothing changed/);

    const again = await rec(call(app, 'delete', '/sharekhan/users/USER_NOBODY/token', ADMIN_KEY));
    expect(again.body).toMatchObject({ revoked: false, alreadyRevoked: false, status: 'missing' });
    expect(again.body.message).toMatch(/No token is stored for USER_NOBODY; nothing changed/);
    expect((await status(app, 'USER_NOBODY')).body).toMatchObject({ present: false, status: 'missing' });

    // A fresh submission replaces the revoked record.
    await put(app, 'USER_B', { accessToken: token('list-b2') });
    expect((await status(app, 'USER_B')).body.status).toBe('active');
  });

  it('audit trail per user: who, action, fingerprint, source, client address', async () => {
    const res = await rec(call(app, 'get', '/sharekhan/users/USER_B/audit', ADMIN_KEY));
    expect(res.status).toBe(200);
    expect(res.body.complete).toBe(true);
    const actions = res.body.events.map((e: { action: string }) => e.action);
    expect(actions.slice(0, 3)).toEqual(['submitted', 'deleted', 'submitted']);
    expect(res.body.events[0]).toMatchObject({ userId: 'USER_B', who: 'ops', source: 'api' });
    expect(res.body.events[0].fingerprint).toMatch(/^sha256:/);
    expect(res.body.events[0].clientAddress).toBeTruthy();
    expect((await rec(call(app, 'get', '/sharekhan/users/USER_B/audit', USER_A_KEY))).status).toBe(403);
  });
});

describe('expiry at the IST cut-off (controllable clock)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await start({ SHAREKHAN_TOKEN_CUTOFF_IST: '06:00' });
  });
  afterAll(() => app.close());

  it('active until 06:00 IST, expired from then on, never served past it', async () => {
    const clock = app.get(TokenClock);
    // 05:59:58 IST on a future day: the cache's own (real) clock still accepts the expiry.
    let now = Date.parse('2031-02-03T00:29:58Z');
    const spy = vi.spyOn(clock, 'now').mockImplementation(() => now);
    try {
      const res = await put(app, 'USER_EXP', { accessToken: token('expiry') });
      expect(res.body).toMatchObject({ status: 'active', expiresAt: '2031-02-03T00:30:00.000Z', secondsLeft: 2, tradingDay: '2031-02-03' });
      now += 1_999;
      expect((await app.get(ShareKhanTokenStore).lookup('USER_EXP')).kind).toBe('found');
      now += 1;
      const st = await status(app, 'USER_EXP');
      expect(st.body).toMatchObject({ present: true, usable: false, status: 'expired', secondsLeft: 0 });
      const lookup = await app.get(ShareKhanTokenStore).lookup('USER_EXP');
      expect(lookup.kind).toBe('expired');
      expect('accessToken' in lookup).toBe(false);
      const validate = await rec(call(app, 'post', '/sharekhan/users/USER_EXP/token/validate', ADMIN_KEY));
      expect(validate.body).toMatchObject({ valid: false, reason: 'token expired at 2031-02-03 06:00:00 IST' });

      // Issued 10:00 IST: lives until 06:00 IST the next day.
      now = Date.parse('2031-02-03T04:30:00Z');
      const day = await put(app, 'USER_EXP', { accessToken: token('expiry2') });
      expect(day.body).toMatchObject({ expiresAt: '2031-02-04T00:30:00.000Z', secondsLeft: 20 * 3600 });
    } finally {
      spy.mockRestore();
    }
  });
});

describe('key rotation', () => {
  it('old tokens stay readable after a new active key; a removed key makes them invalid', async () => {
    const prefix = `rot${randomBytes(3).toString('hex')}:`;
    const t1 = token('rot-old');
    const t2 = token('rot-new');
    const first = await start({ CACHE_KEY_PREFIX: prefix });
    await put(first, 'USER_R1', { accessToken: t1 });
    await first.close();

    const second = await start({ CACHE_KEY_PREFIX: prefix, TOKEN_ENCRYPTION_KEYS: `k2:${K2},k1:${K1}` });
    const old = await second.get(ShareKhanTokenStore).lookup('USER_R1');
    expect(old.kind === 'found' && old.accessToken).toBe(t1);
    await put(second, 'USER_R2', { accessToken: t2 });
    expect(await redis.client().get(`${prefix}sharekhan:token:USER_R2`)).toContain('"kid":"k2"');
    await second.close();

    const third = await start({ CACHE_KEY_PREFIX: prefix, TOKEN_ENCRYPTION_KEYS: `k2:${K2}` });
    try {
      const r2 = await third.get(ShareKhanTokenStore).lookup('USER_R2');
      expect(r2.kind === 'found' && r2.accessToken).toBe(t2);
      const r1 = await status(third, 'USER_R1');
      expect(r1.body).toMatchObject({ status: 'invalid', usable: false });
      expect(r1.body.reason).toMatch(/cannot be decrypted/);
    } finally {
      await third.close();
    }
  });
});

describe('a token belongs to a configured trading user and to that user\'s own ShareKhan account', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await start({ TRADING_USERS: 'USER_A:live:C100:LA100,USER_B:paper::' });
  });
  afterAll(() => app.close());

  const exchanges = () => fake.requestsTo('POST', '/access/token').length;
  const actions = async (userId: string) =>
    (await rec(call(app, 'get', `/sharekhan/users/${userId}/audit`, ADMIN_KEY))).body.events.map((e: { action: string }) => e.action);

  it('a login for USER_A (C100) completed as customer C200 is refused (409), audited, nothing stored', async () => {
    const lu = await rec(call(app, 'get', '/sharekhan/users/USER_A/login-url', USER_A_KEY));
    expect(lu.status).toBe(200);
    const page = new URL(lu.body.loginUrl);
    page.searchParams.set('customer_id', 'C200');
    const res = await fetch(page, { redirect: 'manual' });
    const location = new URL(res.headers.get('location')!);
    secrets.add(location.searchParams.get('request_token')!);
    const before = exchanges();

    const cb = await rec(request(app.http).get(`/sharekhan/callback${location.search}`));
    expect(cb.status).toBe(409);
    expect(cb.body).toMatchObject({ code: 'CUSTOMER_MISMATCH' });
    expect(cb.body.message).toMatch(/customer C200, but USER_A is customer C100 in the configured accounts; nothing was stored. Start the login again for USER_A and sign in to ShareKhan as customer C100/);
    expect(exchanges()).toBe(before);
    expect((await status(app, 'USER_A')).body).toMatchObject({ present: false, status: 'missing' });
    expect((await actions('USER_A'))[0]).toBe('customer_refused');
  });

  it('a manual submission for another customer is refused (409); without a customer id the configured one is recorded', async () => {
    const wrong = await put(app, 'USER_A', { accessToken: token('c200'), customerId: 'C200' });
    expect(wrong.status).toBe(409);
    expect(wrong.body).toMatchObject({ code: 'CUSTOMER_MISMATCH' });
    expect(wrong.body.message).toMatch(/Submit the token of customer C100 for USER_A/);
    expect((await status(app, 'USER_A')).body).toMatchObject({ present: false });
    expect((await actions('USER_A'))[0]).toBe('customer_refused');

    const ok = await put(app, 'USER_A', { accessToken: token('c100') });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ status: 'active', customerId: 'C100' });
  });

  it('a user id that is not in TRADING_USERS gets no token and no login (404 naming the option, listing no other user)', async () => {
    const res = await put(app, 'USER_Z', { accessToken: token('z') });
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ code: 'NOT_A_TRADING_USER' });
    expect(res.body.message).toMatch(/USER_Z is not a trading user.*add USER_Z to TRADING_USERS and restart/);
    expect(res.body.message).not.toMatch(/USER_A|USER_B/);
    expect((await status(app, 'USER_Z')).body).toMatchObject({ present: false });
    const lu = await rec(call(app, 'get', '/sharekhan/users/USER_Z/login-url', ADMIN_KEY));
    expect(lu.status).toBe(404);
  });
});

describe('daily login flow against the fake ShareKhan', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await start();
  });
  afterAll(() => app.close());

  async function loginUrl(userId: string, key = ADMIN_KEY) {
    const res = await rec(call(app, 'get', `/sharekhan/users/${userId}/login-url`, key));
    expect(res.status).toBe(200);
    return res;
  }

  /** The user's browser: follow the login page to the redirect back to us. */
  async function browserLogin(url: string): Promise<{ requestToken: string; state: string; callbackPath: string }> {
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location')!);
    expect(location.origin + location.pathname).toBe(REDIRECT);
    const requestToken = location.searchParams.get('request_token')!;
    secrets.add(requestToken);
    return { requestToken, state: location.searchParams.get('state')!, callbackPath: `/sharekhan/callback${location.search}` };
  }

  const callback = (path: string) => rec(request(app.http).get(path));

  it('login-url, ShareKhan login, callback: the token is stored for the state user', async () => {
    const lu = await loginUrl('USER_A', USER_A_KEY);
    expect(lu.headers['cache-control']).toBe('no-store');
    const url = new URL(lu.body.loginUrl);
    expect(url.origin + url.pathname).toBe(fake.loginUrl);
    expect(url.searchParams.get('state')).toBe(lu.body.state);
    expect(url.searchParams.get('version_id')).toBe('1005');
    expect(lu.body.state).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(lu.body).toMatchObject({ userId: 'USER_A', redirectUrl: REDIRECT });
    expect(Date.parse(lu.body.expiresAt) - Date.now()).toBeGreaterThan(9 * 60_000);
    // The state key in Redis is a hash of the state, not the state itself.
    expect(await redis.client().keys(`${app.config.cache.keyPrefix}sharekhan:login-state:*`)).not.toEqual(
      expect.arrayContaining([expect.stringContaining(lu.body.state)]),
    );

    const { callbackPath, state } = await browserLogin(lu.body.loginUrl);
    expect(state).toBe(lu.body.state);
    const cb = await callback(callbackPath);
    expect(cb.status).toBe(200);
    expect(cb.headers['cache-control']).toBe('no-store');
    expect(cb.body).toMatchObject({ userId: 'USER_A', status: 'active', source: 'login', customerId: 'C100', submittedBy: 'ua', storedIn: 'redis' });

    // POST /access/token got the swapped exchange value, not the raw request token.
    const exchange = fake.requestsTo('POST', '/access/token').at(-1)!;
    expect(exchange.body).toMatchObject({ apiKey: SK_API_KEY, state, versionId: '1005' });

    const found = await app.get(ShareKhanTokenStore).lookup('USER_A');
    expect(found.kind).toBe('found');
    if (found.kind === 'found') secrets.add(found.accessToken);

    // The stored token works against the broker.
    const v = await rec(call(app, 'post', '/sharekhan/users/USER_A/token/validate', USER_A_KEY));
    expect(v.status).toBe(200);
    expect(v.body).toMatchObject({ valid: true, token: { status: 'active', customerId: 'C100' } });
    expect(v.body.token.lastValidatedAt).toBeTruthy();

    const audit = await rec(call(app, 'get', '/sharekhan/users/USER_A/audit', ADMIN_KEY));
    const actions = audit.body.events.map((e: { action: string }) => e.action);
    expect(actions.slice(0, 3)).toEqual(['validated', 'exchanged', 'login_started']);
    expect(audit.body.events[1]).toMatchObject({ source: 'login', who: 'ua' });

    // The state worked once: the same callback again is refused.
    const replay = await callback(callbackPath);
    expect(replay.status).toBe(400);
    expect(replay.body.message).toMatch(/Unknown, expired or already used state/);
  });

  it('two instances racing the same callback: exactly one exchanges the state', async () => {
    // A second replica of this app: same Redis, same prefix.
    const other = await start({ CACHE_KEY_PREFIX: app.config.cache.keyPrefix! });
    try {
      const lu = await loginUrl('USER_A', USER_A_KEY);
      const { callbackPath, state } = await browserLogin(lu.body.loginUrl);
      const before = fake.requestsTo('POST', '/access/token').length;
      // Widen the race: both instances read the state before either can consume it.
      for (const instance of [app, other]) {
        const cache = instance.get(CacheService);
        const read = cache.read.bind(cache);
        vi.spyOn(cache, 'read').mockImplementation(async (key: string) => {
          const r = await read(key);
          if (key.startsWith('sharekhan:login-state:')) await new Promise((done) => setTimeout(done, 150));
          return r as never;
        });
      }
      const [one, two] = await Promise.all([
        callback(callbackPath),
        rec(request(other.http).get(callbackPath)),
      ]);
      expect([one.status, two.status].sort()).toEqual([200, 400]);
      const exchanges = fake.requestsTo('POST', '/access/token').slice(before);
      expect(exchanges.filter((r) => (r.body as { state?: string }).state === state)).toHaveLength(1);
    } finally {
      vi.restoreAllMocks();
      await other.close();
    }
  });

  it('a foreign state is refused with 400 and nothing is exchanged', async () => {
    const before = fake.requestsTo('POST', '/access/token').length;
    const requestToken = fake.issueRequestToken('C100', 'some-state');
    secrets.add(requestToken);
    const res = await callback(`/sharekhan/callback?request_token=${encodeURIComponent(requestToken)}&state=some-state-not-issued-by-us`);
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/Unknown, expired or already used state/);
    expect(res.body.code).toBe('LOGIN_STATE_UNKNOWN');
    expect(fake.requestsTo('POST', '/access/token').length).toBe(before);
  });

  it('a tampered request token is refused with 400 (GCM tag checked) and never sent to ShareKhan', async () => {
    const lu = await loginUrl('USER_T');
    const { requestToken, state } = await browserLogin(lu.body.loginUrl);
    const i = Math.floor(requestToken.length / 2);
    const tampered = requestToken.slice(0, i) + (requestToken[i] === 'A' ? 'B' : 'A') + requestToken.slice(i + 1);
    secrets.add(tampered);
    const before = fake.requestsTo('POST', '/access/token').length;
    const res = await callback(`/sharekhan/callback?request_token=${encodeURIComponent(tampered)}&state=${state}`);
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/request_token rejected: request token failed authentication/);
    // A cause of its own, naming what to check: retrying the login cannot fix a wrong secret key.
    expect(res.body.code).toBe('REQUEST_TOKEN_AUTH_FAILED');
    expect(res.body.message).toMatch(/Most likely SHAREKHAN_SECRET_KEY is not the secret key ShareKhan issued with SHAREKHAN_API_KEY/);
    expect(fake.requestsTo('POST', '/access/token').length).toBe(before);
    expect((await status(app, 'USER_T')).body).toMatchObject({ present: false });
    const audit = await rec(call(app, 'get', '/sharekhan/users/USER_T/audit', ADMIN_KEY));
    expect(audit.body.events[0]).toMatchObject({ action: 'exchange_failed' });
    expect(audit.body.events[0].detail).toMatch(/TOKEN_AUTH_FAILED/);
    // The state was spent on the failed attempt: the genuine token with it is refused too.
    const retry = await callback(`/sharekhan/callback?request_token=${encodeURIComponent(requestToken)}&state=${state}`);
    expect(retry.status).toBe(400);
    expect(retry.body.code).toBe('LOGIN_STATE_UNKNOWN');
  });

  it('a request token issued for another login state is refused by ShareKhan and reported as 400', async () => {
    const a = await loginUrl('USER_X');
    const b = await loginUrl('USER_Y');
    const loginA = await browserLogin(a.body.loginUrl);
    const res = await callback(`/sharekhan/callback?request_token=${encodeURIComponent(loginA.requestToken)}&state=${b.body.state}`);
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/ShareKhan refused to exchange the request token: state does not match the login/);
    expect(res.body.code).toBe('LOGIN_EXCHANGE_REFUSED');
    expect((await status(app, 'USER_Y')).body.present).toBe(false);
  });

  it('an expired state is refused', async () => {
    const lu = await loginUrl('USER_S');
    const { callbackPath } = await browserLogin(lu.body.loginUrl);
    const clock = app.get(TokenClock);
    const spy = vi.spyOn(clock, 'now').mockImplementation(() => Date.now() + 11 * 60_000);
    try {
      const res = await callback(callbackPath);
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(/expired/);
    } finally {
      spy.mockRestore();
    }
  });

  it('callback query problems are 400 with what is missing', async () => {
    const none = await callback('/sharekhan/callback');
    expect(none.status).toBe(400);
    expect(none.body.details).toContainEqual({ field: 'query.request_token', problem: expect.stringMatching(/^request_token must be given once/) });
    const twice = await callback('/sharekhan/callback?request_token=a&request_token=b&state=x');
    expect(twice.status).toBe(400);
  });

  it('validate: a broker 403 marks the token invalid', async () => {
    const live = fake.issueAccessToken('C200');
    secrets.add(live);
    await put(app, 'USER_V', { accessToken: live, customerId: 'C200' });
    expect((await rec(call(app, 'post', '/sharekhan/users/USER_V/token/validate', ADMIN_KEY))).body.valid).toBe(true);
    fake.revoke(live);
    const res = await rec(call(app, 'post', '/sharekhan/users/USER_V/token/validate', ADMIN_KEY));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ valid: false, token: { status: 'invalid' } });
    expect(res.body.reason).toMatch(/403/);
    expect((await app.get(ShareKhanTokenStore).lookup('USER_V')).kind).toBe('invalid');
    const audit = await rec(call(app, 'get', '/sharekhan/users/USER_V/audit', ADMIN_KEY));
    expect(audit.body.events[0]).toMatchObject({ action: 'invalidated' });

    // Broker trouble is not the token's fault: 5xx from ShareKhan -> 502, token untouched.
    const other = fake.issueAccessToken('C300');
    secrets.add(other);
    await put(app, 'USER_W', { accessToken: other, customerId: 'C300' });
    fake.failNext({ status: 500, path: '/reports' });
    const res5 = await rec(call(app, 'post', '/sharekhan/users/USER_W/token/validate', ADMIN_KEY));
    expect(res5.status).toBe(502);
    expect((await status(app, 'USER_W')).body.status).toBe('active');
    const missing = await rec(call(app, 'post', '/sharekhan/users/USER_NONE/token/validate', ADMIN_KEY));
    expect(missing.status).toBe(404);
  });
});

describe('with Redis killed', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await start();
  });
  afterAll(() => app.close());

  it('submit, status, list, audit and lookup keep working from memory, then reach Redis again', async () => {
    const before = token('before-outage');
    await put(app, 'USER_K1', { accessToken: before });
    await rec(call(app, 'get', '/sharekhan/tokens', ADMIN_KEY));
    await redis.kill();

    const t = token('during-outage');
    const t0 = Date.now();
    const res = await put(app, 'USER_K2', { accessToken: t });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'active', storedIn: 'memory' });
    const st = await status(app, 'USER_K2');
    expect(st.body).toMatchObject({ status: 'active', cacheMode: 'fallback' });
    const known = await status(app, 'USER_K1');
    expect(known.body.status).toBe('active');
    const store = app.get(ShareKhanTokenStore);
    const k2 = await store.lookup('USER_K2');
    expect(k2.kind === 'found' && k2.accessToken).toBe(t);
    const k1 = await store.lookup('USER_K1');
    expect(k1.kind === 'found' && k1.accessToken).toBe(before);
    const list = await rec(call(app, 'get', '/sharekhan/tokens', ADMIN_KEY));
    expect(list.status).toBe(200);
    expect(list.body.users.map((u: { userId: string }) => u.userId)).toEqual(expect.arrayContaining(['USER_K1', 'USER_K2']));
    const audit = await rec(call(app, 'get', '/sharekhan/users/USER_K2/audit', ADMIN_KEY));
    expect(audit.status).toBe(200);
    expect(audit.body.events[0]).toMatchObject({ action: 'submitted' });
    // A user never seen by this instance: "cannot know", not "no token".
    expect((await store.lookup('USER_NEVER_SEEN')).kind).toBe('unavailable');
    expect((await status(app, 'USER_NEVER_SEEN')).status).toBe(503);
    // Bounded by the cache command timeout, never hanging on the dead Redis.
    expect(Date.now() - t0).toBeLessThan(5_000);

    await redis.restart();
    const plain = redis.client();
    await waitUntil(Date.now() + 15_000, 'journal replay to the restarted Redis', async () =>
      Boolean(await plain.get(`${app.config.cache.keyPrefix}sharekhan:token:USER_K2`)),
    );
    const raw = await plain.get(`${app.config.cache.keyPrefix}sharekhan:token:USER_K2`);
    expect(raw).not.toContain(t);
    const again = await store.lookup('USER_K2');
    expect(again.kind === 'found' && again.accessToken).toBe(t);
  });
});

describe('start-up', () => {
  it('production without TOKEN_ENCRYPTION_KEYS refuses to start, naming the variable', async () => {
    const { TOKEN_ENCRYPTION_KEYS: _unset, ...rest } = env();
    const err = await createTestApp({ ...rest, NODE_ENV: 'production' }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe('ConfigError');
    expect((err as Error).message).toMatch(/TOKEN_ENCRYPTION_KEYS=\(unset\) \(wants at least one keyId:base64-of-32-bytes key in production/);
  });
});

describe('secrets never leave', () => {
  it('no token, key or secret in any response or captured log line', () => {
    expect(responses.length).toBeGreaterThan(50);
    const logs = logLines.join('');
    // The capture works: audit lines were seen.
    expect(logs).toMatch(/audit submitted user=USER_A/);
    for (const s of logOnlySecrets) expect(logs.includes(s)).toBe(false);
    for (const text of responses.filter((r) => !r.includes('"loginUrl"'))) expect(text.includes(SK_API_KEY)).toBe(false);
    for (const s of secrets) {
      for (const text of responses) expect(text.includes(s), `response leaks ${s.slice(0, 8)}...`).toBe(false);
      expect(logs.includes(s), `log leaks ${s.slice(0, 8)}...`).toBe(false);
    }
  });
});
