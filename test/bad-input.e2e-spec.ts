import { randomBytes } from 'node:crypto';
import { onTestFinished } from 'vitest';
import request, { type Response, type Test } from 'supertest';
import { ShareKhanTokenStore } from '../src/sharekhan/tokens/token-store.service.js';
import { setLogDestination } from '../src/observability/logging.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { startFakeShareKhan, type FakeShareKhan } from './helpers/fake-sharekhan.js';
import { freePort } from './helpers/ports.js';
import { registeredRoutes } from './helpers/routes.js';
import { SAMPLE_ORDER } from './fixtures/orders.js';

/**
 * Hostile input at every route the app serves (memory mode, real app, fake ShareKhan): whatever
 * arrives, the answer is a documented status with `{ statusCode, error, message }`, never a 500,
 * never a stack trace, and no configured secret or submitted token in a body, a header or a log.
 */

const ADMIN_KEY = `admin-${randomBytes(12).toString('hex')}`;
const USER_KEY = `paper-${randomBytes(12).toString('hex')}`;
const ENC_KEY = randomBytes(32).toString('base64');
const SK_API_KEY = `skapi-${randomBytes(8).toString('hex')}`;
const SK_SECRET = randomBytes(16).toString('hex');
const TOKEN = `tok-${randomBytes(18).toString('base64url')}`;
const BODY_LIMIT = 4096;

const PAPER = 'PAPER_USER_001';
const LIVE = 'LIVE_USER_001';

/** Texts that must never leave the app. SK_API_KEY may appear in a login URL (ShareKhan wants it there), never in a log. */
const SECRETS = [ADMIN_KEY, USER_KEY, ENC_KEY, SK_SECRET, TOKEN];
/** One-time login states: the login-url answer hands them to the caller; nothing else may show them. */
const STATES: string[] = [];

const ORDER = { ...SAMPLE_ORDER };

type Route = { method: string; path: string };
interface Seen {
  route: string;
  res: Response;
}

let fake: FakeShareKhan;
let t: TestApp;
let routes: Route[];
const logLines: string[] = [];
const seen: Seen[] = [];
let restoreLog = () => undefined as void;

const isProtected = (r: Route) => /^\/(sharekhan|orchestrator|console\/api)\//.test(r.path) && r.path !== '/sharekhan/callback';
/** The operator console's page and assets (src/console/assets) are HTML, JS and CSS by design. */
const isConsoleFile = (where: string, res: Response) => res.status === 200 && /^get \/console(\/console\.(js|css))?( |$)/i.test(where);
const withUser = (r: Route, userId: string) => r.path.replace(':userId', userId);
const userRoutes = () => routes.filter((r) => r.path.includes(':userId'));

async function hit(method: string, path: string, build: (req: Test) => Test = (r) => r, key: string | null = ADMIN_KEY): Promise<Response> {
  let req = (request(t.http) as unknown as Record<string, (p: string) => Test>)[method](path);
  if (key !== null) req = req.set('x-api-key', key);
  const res = await build(req);
  seen.push({ route: `${method.toUpperCase()} ${path}`, res });
  return res;
}

/** What every answer must look like, whatever was sent. */
function expectWellFormed(res: Response, where: string, documented5xx: number[] = []): void {
  if (!documented5xx.includes(res.status)) expect(res.status, `${where}: ${res.status} ${res.text.slice(0, 300)}`).toBeLessThan(500);
  if (!isConsoleFile(where, res)) expect(res.text, where).not.toMatch(/\n\s+at |"stack"|<html|<pre>/i);
  if (res.status >= 400 && res.body?.outcome !== undefined) {
    // POST /orchestrator/orders: a failed order answers with its result (docs/orchestrator.md).
    expect(res.body, where).toMatchObject({ statusCode: res.status, httpStatus: res.status, code: expect.any(String), message: expect.any(String) });
  } else if (res.status >= 400 && /^\w+ \/health\//.test(where) && res.body?.status !== undefined) {
    // Probes answer Terminus' documented shape ({ status, info, error, details }).
    expect(res.body.status, where).toMatch(/^(error|shutting_down|down)$/);
  } else if (res.status >= 400) {
    expect(res.headers['content-type'], where).toMatch(/^application\/json/);
    expectErrorShape(res, where);
  }
}

/** The one error shape: a sentence in `message`, per-field problems in `details`, never zod's own words. */
function expectErrorShape(res: Response, where: string): void {
  expect(res.body, where).toMatchObject({ statusCode: res.status, error: expect.any(String), message: expect.any(String) });
  expect(res.body.message, where).not.toMatch(/Invalid input|expected \w+, received|Cannot [A-Z]+ \//);
  const keys = Object.keys(res.body).sort();
  expect(keys.filter((k) => k !== 'details' && k !== 'code'), where).toEqual(['error', 'message', 'statusCode']);
  if (keys.includes('code')) expect(res.body.code, where).toMatch(/^[A-Z_]+$/);
  if (keys.includes('details')) {
    expect(res.body.details.length, where).toBeGreaterThan(0);
    for (const d of res.body.details) {
      expect(Object.keys(d).sort(), where).toEqual(['field', 'problem']);
      expect(d.problem, where).not.toMatch(/Invalid input|expected \w+, received/);
    }
  }
}

/** Keys, users and ShareKhan settings shared by the app under test and its Redis-down twin. */
function appEnv(): Record<string, string> {
  return {
    API_KEYS: `ops:admin:${ADMIN_KEY},paper:${PAPER}:${USER_KEY}`,
    TRADING_USERS: `${PAPER}:paper:P100:PLOGIN100,${LIVE}:live:C100:LOGIN100`,
    TOKEN_ENCRYPTION_KEYS: `k1:${ENC_KEY}`,
    SHAREKHAN_API_BASE_URL: fake.baseUrl,
    SHAREKHAN_API_KEY: SK_API_KEY,
    SHAREKHAN_SECRET_KEY: SK_SECRET,
    SHAREKHAN_REDIRECT_URL: 'https://app.example.test/sharekhan/callback',
  };
}

beforeAll(async () => {
  fake = await startFakeShareKhan({ secretKey: SK_SECRET, apiKey: SK_API_KEY, versionId: '1005', customerId: 'C100' });
  restoreLog = setLogDestination({ write: (line: string) => void logLines.push(line) });
  t = await createTestApp({
    LOG_LEVEL: 'debug',
    ...appEnv(),
    API_RATE_LIMIT: '1000000',
  }, (c) => {
    c.sharekhan.httpTimeoutMs = 2_000;
    // A module option, no variable: the fake issues base64url request tokens for version 1005.
    c.sharekhan.versionId = '1005';
    c.app.bodyLimitBytes = BODY_LIMIT;
  });
  routes = registeredRoutes(t, 'express');
  // A stored token, so routes that read one get past "missing" and a leak would have something to leak.
  const put = await hit('put', `/sharekhan/users/${PAPER}/token`, (r) => r.send({ accessToken: TOKEN }));
  expect(put.status).toBe(200);
});

afterAll(async () => {
  await t?.close();
  restoreLog();
  await fake?.close();
});

it('serves the routes this suite expects to attack', () => {
  const names = routes.map((r) => `${r.method.toUpperCase()} ${r.path}`);
  for (const r of ['PUT /sharekhan/users/:userId/token', 'GET /sharekhan/callback', 'POST /orchestrator/orders', 'POST /orchestrator/signals', 'GET /orchestrator/readiness']) {
    expect(names).toContain(r);
  }
  expect(routes.length).toBeGreaterThanOrEqual(15);
});

const json = (text: string) => (r: Test) => r.set('content-type', 'application/json').send(text);
const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
const order = (o: Record<string, unknown>) => JSON.stringify({ userId: PAPER, order: { ...ORDER, ...o } });

/** Bodies and content types sent to every route with an admin key. */
const BODIES: [string, (r: Test) => Test, ('valid signal' | undefined)?][] = [
  ['malformed JSON quoting a token', json(`{"accessToken": "${TOKEN}`)],
  ['JSON array', json(`[{"accessToken":"${TOKEN}"}]`)],
  ['JSON string', json(`"${TOKEN}"`)],
  ['JSON null', json('null')],
  ['JSON number', json('42')],
  ['JSON true', json('true')],
  ['empty JSON body', json('')],
  ['text/plain', (r) => r.set('content-type', 'text/plain').send(JSON.stringify({ accessToken: TOKEN }))],
  ['form-urlencoded', (r) => r.type('form').send(`accessToken=${TOKEN}&userId=${PAPER}`)],
  ['multipart', (r) => r.field('accessToken', TOKEN).field('userId', PAPER)],
  ['huge body', json(JSON.stringify({ accessToken: TOKEN, pad: 'x'.repeat(BODY_LIMIT * 2) }))],
  ['deeply nested array', json(deep(1800))],
  ['deeply nested order', json(`{"userId":"${PAPER}","order":${deep(1500)}}`)],
  ['__proto__ key', json(`{"__proto__":{"admin":true,"polluted":1},"accessToken":"${TOKEN}","userId":"${PAPER}","order":{"__proto__":{"x":1}}}`)],
  ['constructor.prototype key', json(`{"constructor":{"prototype":{"polluted":1}},"accessToken":"${TOKEN}"}`)],
  ['unsupported charset', (r) => r.set('content-type', 'application/json; charset=utf-16').send('{}')],
  ['unknown content-encoding', (r) => r.set('content-type', 'application/json').set('content-encoding', 'bogus').send('{}')],
  ['gzip that is not gzip', (r) => r.set('content-type', 'application/json').set('content-encoding', 'gzip').send('not gzip at all')],
  ['quantity 1e309', json(order({ quantity: 0 }).replace('"quantity":0', '"quantity":1e309'))],
  ['quantity -0', json(order({ quantity: 0 }).replace('"quantity":0', '"quantity":-0'))],
  ['quantity "NaN"', json(order({ quantity: 'NaN' }))],
  ['price "Infinity"', json(order({ price: 'Infinity' }))],
  ['scripCode beyond 2^53', json(order({ scripCode: 0 }).replace('"scripCode":0', '"scripCode":9007199254740993123'))],
  // A valid signal: 200 with one UNKNOWN_USER result per id (documented), never a 500.
  ['signal to 400 unknown users', json(JSON.stringify({ signalId: 's1', users: Array.from({ length: 400 }, (_, i) => `U${i}`), order: ORDER })), 'valid signal'],
];

describe.each(BODIES)('body: %s', (_name, build, valid) => {
  it('every route answers 4xx (or its normal answer), as JSON, without secrets', async () => {
    for (const r of routes) {
      const res = await hit(r.method, withUser(r, PAPER), build);
      expectWellFormed(res, `${r.method} ${r.path}`);
      // Routes that read a body must refuse all of these.
      const route = `${r.method.toUpperCase()} ${r.path}`;
      if (valid && route === 'POST /orchestrator/signals') expect(res.status).toBe(200);
      else if (['PUT /sharekhan/users/:userId/token', 'POST /orchestrator/orders', 'POST /orchestrator/signals'].includes(route)) {
        expect(res.status, `${r.method} ${r.path}`).toBeGreaterThanOrEqual(400);
      }
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });
});

/** x-api-key headers no route may accept. */
const KEYS: [string, (r: Test) => Test][] = [
  ['missing', (r) => r],
  ['empty', (r) => r.set('x-api-key', '')],
  // Two header lines; Node joins them into "a, a", which is no key.
  ['duplicated', (r) => r.set('x-api-key', [ADMIN_KEY, ADMIN_KEY] as unknown as string)],
  ['admin key with a suffix', (r) => r.set('x-api-key', `${ADMIN_KEY}x`)],
  ['8 kB long', (r) => r.set('x-api-key', 'k'.repeat(8000))],
  ['non-ASCII (latin-1)', (r) => r.set('x-api-key', `cl\u00e9-${'\u00ff'.repeat(20)}`)],
  ['Bearer-prefixed', (r) => r.set('x-api-key', `Bearer ${ADMIN_KEY}`)],
];

describe.each(KEYS)('x-api-key: %s', (_name, build) => {
  it('protected routes answer 401; open routes are unaffected', async () => {
    for (const r of routes) {
      const res = await hit(r.method, withUser(r, PAPER), build, null);
      expectWellFormed(res, `${r.method} ${r.path}`);
      if (isProtected(r)) expect(res.status, `${r.method} ${r.path}`).toBe(401);
    }
  });
});

/** User ids in the path that name no one (or try to name someone else). */
const USER_IDS: [string, string][] = [
  ['lowercase', PAPER.toLowerCase()],
  ['unicode', encodeURIComponent('PAPER_USER_\u00d8\u0661')],
  ['dot-dot encoded slash', '..%2F..%2Forchestrator%2Freadiness'],
  ['encoded slash into another user', `${PAPER}%2F..%2F${LIVE}`],
  ['65 characters', 'A'.repeat(65)],
  ['empty', ''],
  ['spaces', `%20${PAPER}%20`],
  ['NUL byte', `${PAPER}%00`],
  ['CRLF', `${PAPER}%0d%0aX-Injected:%201`],
  ['malformed percent escape', `${PAPER}%E0%A4%A`],
  ['lone percent', '%'],
  ['another user with a trailing dot', `${LIVE}.`],
];

describe.each(USER_IDS)('user id: %s', (_name, userId) => {
  it.each([
    ['admin key', ADMIN_KEY],
    ['user-scoped key', USER_KEY],
  ])('every :userId route refuses it with 4xx (%s)', async (_k, key) => {
    for (const r of userRoutes()) {
      const res = await hit(r.method, withUser(r, userId), (x) => (r.method === 'get' || r.method === 'delete' ? x : x.send({ accessToken: TOKEN })), key);
      expectWellFormed(res, `${r.method} ${r.path} ${userId}`);
      expect(res.status, `${r.method} ${r.path} ${userId}: ${res.text}`).toBeGreaterThanOrEqual(400);
      expect(res.headers['x-injected']).toBeUndefined();
    }
  });
});

describe('a user-scoped key never reaches another user', () => {
  it('403 on every :userId route for the other user', async () => {
    for (const r of userRoutes()) {
      const res = await hit(r.method, withUser(r, LIVE), (x) => (r.method === 'put' ? x.send({ accessToken: TOKEN }) : x), USER_KEY);
      expectWellFormed(res, `${r.method} ${r.path}`);
      expect(res.status, `${r.method} ${r.path}`).toBe(403);
    }
  });

  it.each<[string, string, string, unknown]>([
    ['order for the other user', 'post', '/orchestrator/orders', { userId: LIVE, order: ORDER }],
    ['signal to the other user', 'post', '/orchestrator/signals', { signalId: 'x1', users: [LIVE], order: ORDER }],
    ['signal to both users', 'post', '/orchestrator/signals', { signalId: 'x2', users: [PAPER, LIVE], order: ORDER }],
    ['signal to "all"', 'post', '/orchestrator/signals', { signalId: 'x3', users: 'all', order: ORDER }],
    ['admin-only token list', 'get', '/sharekhan/tokens', undefined],
    ['admin-only pre-market check', 'post', '/orchestrator/premarket-check', undefined],
  ])('403: %s', async (_name, method, path, body) => {
    const res = await hit(method, path, (r) => (body === undefined ? r : r.send(body as object)), USER_KEY);
    expectWellFormed(res, path);
    expect(res.status).toBe(403);
  });

  it.each<[string, string, number]>([
    ['a live user without a token (admin)', LIVE, 412],
    ['an unknown user (admin)', 'NOBODY_001', 404],
  ])('orders for %s answer the documented result', async (_name, userId, status) => {
    const res = await hit('post', '/orchestrator/orders', (r) => r.send({ userId, order: ORDER }));
    expectWellFormed(res, userId);
    expect(res.status).toBe(status);
  });

  it('an unknown user through a user-scoped key is 403, not 404 (no probing for ids)', async () => {
    const res = await hit('post', '/orchestrator/orders', (r) => r.send({ userId: 'NOBODY_001', order: ORDER }), USER_KEY);
    expect(res.status).toBe(403);
  });

  it('readiness shows only its own user, the last pre-market report included', async () => {
    expect((await hit('post', '/orchestrator/premarket-check')).status).toBe(200);
    const res = await hit('get', '/orchestrator/readiness', (r) => r, USER_KEY);
    expect(res.status).toBe(200);
    expect(res.text).not.toContain(LIVE);
    expect(res.body.users.map((u: { userId: string }) => u.userId)).toEqual([PAPER]);
  });
});

/** Query strings ShareKhan would never send to the callback. */
const QUERIES: [string, string][] = [
  ['no parameters', ''],
  ['state as an array', 'state[]=a&state[]=b&request_token=x'],
  ['state repeated', 'state=a&state=b&request_token=x'],
  ['request_token repeated', `request_token=${TOKEN}&request_token=${TOKEN}&state=s`],
  ['nested __proto__ parameter', 'request_token[__proto__][admin]=1&state=s'],
  ['__proto__ and constructor parameters', `__proto__=1&constructor=2&request_token=${TOKEN}&state=s`],
  ['empty state', `request_token=${TOKEN}&state=`],
  ['5000-character state', `request_token=${TOKEN}&state=${'s'.repeat(5000)}`],
  ['malformed escape in state', `request_token=${TOKEN}&state=%ZZ`],
  ['malformed escape in request_token', 'request_token=%E0%A4%A&state=unknown-state'],
  ['unknown state', `request_token=${TOKEN}&state=unknown-state`],
  ['absurd numbers', 'request_token=1e309&state=NaN'],
  ['2000 extra parameters', `request_token=${TOKEN}&state=unknown&${'x=1&'.repeat(2000)}`],
];

it.each(QUERIES)('callback with %s answers 400 as JSON', async (_name, query) => {
  const res = await hit('get', `/sharekhan/callback?${query}`, (r) => r, null);
  expectWellFormed(res, query);
  expect(res.status).toBe(400);
  expect(({} as Record<string, unknown>).admin).toBeUndefined();
});

describe('the login state is a credential', () => {
  it('a state not yet used never reaches a log line, even when the callback is refused', async () => {
    const started = await hit('get', `/sharekhan/users/${PAPER}/login-url`);
    expect(started.status).toBe(200);
    const state: string = started.body.state;
    STATES.push(state);
    const before = logLines.length;
    // Refused by validation before the state is consumed: it stays usable, so it must stay secret.
    const res = await hit('get', `/sharekhan/callback?request_token=&state=${encodeURIComponent(state)}`, (r) => r, null);
    expect(res.status).toBe(400);
    await new Promise((r) => setTimeout(r, 50));
    expect(logLines.length).toBeGreaterThan(before);
  });

  it('a full login through the callback shows neither request token, state nor access token', async () => {
    const started = await hit('get', `/sharekhan/users/${PAPER}/login-url`);
    const state: string = started.body.state;
    const requestToken = fake.issueRequestToken('P100', state);
    STATES.push(state);
    SECRETS.push(requestToken);
    const res = await hit('get', `/sharekhan/callback?request_token=${encodeURIComponent(requestToken)}&state=${encodeURIComponent(state)}`, (r) => r, null);
    expect(res.status, res.text).toBe(200);
    expect(res.body.mask).toEqual(expect.any(String));
    // The access token ShareKhan minted joins the secrets checked at the end.
    const found = await t.get(ShareKhanTokenStore).lookup(PAPER);
    expect(found.kind).toBe('found');
    if ('accessToken' in found) SECRETS.push(found.accessToken);
  });
});

it('other verbs, unknown paths and bad escapes outside routes are JSON 4xx too', async () => {
  for (const [method, path] of [
    ['patch', `/sharekhan/users/${PAPER}/token`],
    ['post', '/orchestrator/readiness'],
    ['get', '/nope'],
    ['get', '/%E0%A4%A'],
    ['get', '/sharekhan/%'],
    ['get', `/orchestrator/users/${PAPER}/orders?limit=1e309&limit=-0&limit=NaN`],
  ] as const) {
    const res = await hit(method, path);
    expectWellFormed(res, `${method} ${path}`);
    expect(res.status, `${method} ${path}`).toBeGreaterThanOrEqual(path.includes('orders?') ? 200 : 400);
  }
});

describe('one error shape: { statusCode, error, message, details? } with a sentence a person can act on', () => {
  const shape = (res: Response) => ({ status: res.status, keys: Object.keys(res.body).sort(), message: res.body.message });

  it('validation: a sentence in message, one entry per field in details, never zod\'s own words', async () => {
    const res = await hit('post', '/orchestrator/orders', (r) => r.send({ order: { ...ORDER, quantity: 'ten' } }));
    expectErrorShape(res, 'missing userId');
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/^Invalid request: \d+ problems \(body\.userId, /);
    expect(res.body.details).toContainEqual({ field: 'body.userId', problem: 'is required (a string)' });
    const one = await hit('put', `/sharekhan/users/${PAPER}/token`, (r) => r.send({}));
    expect(one.body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: 'Invalid request: body.accessToken must be a string (the ShareKhan access token of today)',
      details: [{ field: 'body.accessToken', problem: 'accessToken must be a string (the ShareKhan access token of today)' }],
    });
  });

  it('guard, unknown route, malformed JSON and body too large: a string message, no details', async () => {
    const cases: [string, Response, number, RegExp][] = [
      ['no key', await hit('get', '/orchestrator/readiness', undefined, null), 401, /^Missing API key/],
      ['bad user id', await hit('get', '/sharekhan/users/bad-id/token'), 400, /^Invalid request: userId must be 1-64/],
      ['unknown route with a token in the query', await hit('get', `/nope?access_token=${TOKEN}`), 404, /^No route GET \/nope: see \/docs/],
      ['malformed JSON', await hit('put', `/sharekhan/users/${PAPER}/token`, json('{"accessToken":')), 400, /^Malformed JSON body/],
      ['too large', await hit('put', `/sharekhan/users/${PAPER}/token`, json(JSON.stringify({ accessToken: 'x'.repeat(BODY_LIMIT * 2) }))), 413, /^Body too large/],
    ];
    for (const [name, res, status, message] of cases) {
      expectErrorShape(res, name);
      expect(res.status, name).toBe(status);
      expect(res.body.message, name).toMatch(message);
      if (name !== 'bad user id') expect(shape(res).keys, name).toEqual(['error', 'message', 'statusCode']);
      // Refused before any route ran (body parser, guard, no route): still never cached.
      expect(res.headers['cache-control'], name).toBe('no-store');
    }
  });

  it('throttled: 429 in the same shape', async () => {
    const limited = await createTestApp({ ...appEnv(), API_RATE_LIMIT: '1' });
    onTestFinished(() => limited.close());
    await request(limited.http).get('/orchestrator/readiness').set('x-api-key', ADMIN_KEY);
    const res = await request(limited.http).get('/orchestrator/readiness').set('x-api-key', ADMIN_KEY);
    expect(res.status).toBe(429);
    expectErrorShape(res, 'throttled');
    expect(res.body.message).toMatch(/^Too many requests: at most 1 per 60 s/);
  });
});

describe('Redis configured but unreachable (fallback mode)', () => {
  let down: TestApp;
  beforeAll(async () => {
    down = await createTestApp({
      ...appEnv(),
      REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
      CACHE_COMMAND_TIMEOUT_MS: '100',
      API_RATE_LIMIT: '1000000',
      LOG_LEVEL: 'debug',
    }, (c) => {
      c.cache.connectTimeoutMs = 200;
    });
  });
  afterAll(() => down?.close());

  const VALID: Record<string, unknown> = {
    'put /sharekhan/users/:userId/token': { accessToken: TOKEN },
    'post /orchestrator/orders': { userId: LIVE, order: ORDER },
    'post /orchestrator/signals': { signalId: 'down-1', users: 'all', order: ORDER },
  };

  it.each([
    ['well-formed requests', (r: Route) => VALID[`${r.method} ${r.path}`]],
    ['malformed JSON', () => '{"accessToken": "' + TOKEN],
  ])('every route answers without a 500 (%s); 503 only where documented', async (_name, bodyFor) => {
    for (const r of routes) {
      let req = (request(down.http) as unknown as Record<string, (p: string) => Test>)[r.method](withUser(r, LIVE)).set('x-api-key', ADMIN_KEY);
      const body = bodyFor(r);
      if (typeof body === 'string') req = req.set('content-type', 'application/json').send(body);
      else if (body !== undefined) req = req.send(body as object);
      const res = await req;
      seen.push({ route: `${r.method.toUpperCase()} ${r.path} (redis down)`, res });
      expectWellFormed(res, `${r.method} ${r.path} (redis down)`, [503]);
    }
  });
});

describe('secrets (checked last, over everything this suite sent and got)', () => {
  it('no configured secret or submitted token in any response body or header', () => {
    expect(seen.length).toBeGreaterThan(500);
    for (const { route, res } of seen) {
      const text = `${JSON.stringify(res.headers)}\n${res.text}`;
      for (const s of SECRETS) expect(text.includes(s), `${route} leaks a secret`).toBe(false);
      if (route.includes('/login-url')) continue;
      for (const s of [SK_API_KEY, ...STATES]) expect(text.includes(s), `${route} leaks SHAREKHAN_API_KEY or a state`).toBe(false);
    }
  });

  it('no secret and no stack frame in the log output', () => {
    expect(logLines.length).toBeGreaterThan(100);
    const text = logLines.join('\n');
    const leaked = [...SECRETS, SK_API_KEY, ...STATES].filter((s) => text.includes(s));
    expect(leaked.map((s) => logLines.find((l) => l.includes(s))?.slice(0, 400))).toEqual([]);
    expect(text).not.toMatch(/\\n\s+at /);
  });
});
