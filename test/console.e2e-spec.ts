import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import request from 'supertest';
import { onTestFinished } from 'vitest';
import { CacheService } from '../src/cache/cache.service.js';
import { CONSOLE_CSP } from '../src/console/console-headers.js';
import { ShareKhanTokenStore } from '../src/sharekhan/tokens/token-store.service.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { startFakeShareKhan, type FakeShareKhan } from './helpers/fake-sharekhan.js';
import { freePort } from './helpers/ports.js';
import { startRedis, type RedisProcess } from './helpers/redis-server.js';
import { waitUntil } from './helpers/wait.js';

/**
 * The operator console in a real headless Chromium (Debian's `chromium`, driven by puppeteer-core,
 * which downloads no browser). One browser and one app for the file; each test its own browser
 * context, so sessionStorage starts empty. The tests run in order: later ones see earlier tokens.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SECRET = 'Sk8x2mQ7vR4tY9wE1uI5oP3aS6dF0gH2';
const SK_API_KEY = 'sharekhan-app-api-key-0123';
const ADMIN_KEY = 'admin-key-7c1e0b9a55d24f3e';
const USER_A_KEY = 'user-a-key-91d0c7e2b3a44f58';
/** Screenshots for docs/images/ only when asked: `CONSOLE_SCREENSHOTS=1 npx vitest run test/console.e2e-spec.ts`. */
const SCREENSHOTS = process.env.CONSOLE_SCREENSHOTS === '1';

/** Token texts (and API keys) that must never appear in the page, its inputs or its URL. */
const secrets = new Set<string>([SECRET, ADMIN_KEY, USER_A_KEY]);
/** Every browser console line: a CSP violation would show up here. */
const consoleLines: string[] = [];

let redis: RedisProcess;
let fake: FakeShareKhan;
let app: TestApp;
let browser: Browser;
let base: string;

beforeAll(async () => {
  const launching = puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  redis = await startRedis();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  fake = await startFakeShareKhan({
    secretKey: SECRET,
    apiKey: SK_API_KEY,
    versionId: '1005',
    redirectUri: `${base}/sharekhan/callback`,
    customerId: 'C100',
  });
  app = await createTestApp({
    REDIS_URL: redis.url,
    CACHE_KEY_PREFIX: 'console:',
    API_KEYS: `ops:admin:${ADMIN_KEY},ua:USER_A:${USER_A_KEY}`,
    TRADING_USERS: 'USER_A:live:C100:LOGIN100,USER_B:paper::',
    SHAREKHAN_API_BASE_URL: fake.baseUrl,
    SHAREKHAN_API_KEY: SK_API_KEY,
    SHAREKHAN_SECRET_KEY: SECRET,
    SHAREKHAN_REDIRECT_URL: `${base}/sharekhan/callback`,
    ORCHESTRATOR_PREMARKET_CHECK_IST: '08:45',
    API_RATE_LIMIT: '1000',
  }, (c) => {
    // The version id is a module option (no variable); the fake issues base64url tokens for it.
    c.sharekhan.versionId = '1005';
  });
  await app.app.listen(port, '127.0.0.1');
  const cache = app.get(CacheService);
  await waitUntil(Date.now() + 10_000, 'the cache to use Redis', async () => cache.mode === 'redis', 20);
  browser = await launching;
});

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await fake?.close();
  await redis?.stop();
});

/** A fresh browser context (empty sessionStorage, no cookies) on /console, closed after the test. */
async function openConsole(): Promise<Page> {
  const context = await browser.createBrowserContext();
  onTestFinished(() => context.close());
  const page = await context.newPage();
  page.on('console', (m) => consoleLines.push(m.text()));
  page.on('pageerror', (e) => consoleLines.push(`pageerror: ${String(e)}`));
  await page.setViewport({ width: 1280, height: 900 });
  await page.goto(`${base}/console`, { waitUntil: 'load' });
  return page;
}

/** Signs in with the keyboard only: the key field has focus, Enter submits. */
async function signIn(page: Page, key: string): Promise<void> {
  await page.waitForFunction(() => document.activeElement?.id === 'api-key');
  await page.keyboard.type(key);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#users tbody tr');
}

const statusOf = (page: Page, userId: string) =>
  page.$eval(`tr[data-user="${userId}"] [data-field="status"]`, (e) => e.textContent);

async function waitForStatus(page: Page, userId: string, status: string): Promise<void> {
  await page.waitForFunction(
    (u, s) => document.querySelector(`tr[data-user="${u}"] [data-field="status"]`)?.textContent === s,
    { timeout: 10_000 },
    userId,
    status,
  );
}

async function clickAndWaitForMessage(page: Page, selector: string, pattern: RegExp): Promise<string> {
  await page.$eval('#message', (e) => (e.textContent = ''));
  await page.click(selector);
  await page.waitForFunction(() => (document.querySelector('#message')?.textContent ?? '') !== '', { timeout: 10_000 });
  const text = await page.$eval('#message', (e) => e.textContent ?? '');
  expect(text).toMatch(pattern);
  return text;
}

/** No token or key in the DOM, in any input's value, in the URL or in a cookie. */
async function expectNoSecrets(page: Page): Promise<void> {
  const html = await page.content();
  const values = (await page.$$eval('input', (inputs) => inputs.map((i) => i.value))).join('\n');
  const cookies = JSON.stringify(await page.browserContext().cookies());
  for (const s of secrets) {
    expect(html.includes(s), 'page HTML').toBe(false);
    expect(values.includes(s), 'input values').toBe(false);
    expect(page.url().includes(s), 'URL').toBe(false);
    expect(cookies.includes(s), 'cookies').toBe(false);
  }
}

async function screenshot(page: Page, name: string): Promise<void> {
  if (!SCREENSHOTS) return;
  mkdirSync('docs/images', { recursive: true });
  await page.screenshot({ path: `docs/images/${name}.png`, fullPage: true });
}

describe('operator console', () => {
  it('serves its page, one script and one stylesheet under a CSP that allows only them', async () => {
    const page = await request(app.http).get('/console').set('Accept', 'text/html');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toBe(CONSOLE_CSP);
    expect(CONSOLE_CSP).toMatch(/default-src 'none'/);
    expect(CONSOLE_CSP).toMatch(/script-src 'self'(;|$)/);
    expect(CONSOLE_CSP).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    // No inline script or style, nothing from another origin.
    expect(page.text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(page.text).not.toMatch(/\sstyle=|<style|\son[a-z]+=/i);
    expect(page.text).not.toMatch(/(src|href)="(https?:)?\/\//);
    const js = await request(app.http).get('/console/console.js');
    expect(js.headers['content-type']).toMatch(/^text\/javascript/);
    expect(js.headers['content-security-policy']).toBe(CONSOLE_CSP);
    const css = await request(app.http).get('/console/console.css');
    expect(css.headers['content-type']).toMatch(/^text\/css/);

    const tab = await openConsole();
    // Every input has a label a screen reader announces.
    expect(await tab.$$eval('input', (inputs) => inputs.filter((i) => i.labels?.length === 0).map((i) => i.id))).toEqual([]);
    expect(await tab.$eval('#app', (e) => (e as HTMLElement).hidden)).toBe(true);
  });

  it('refuses a wrong key; an admin key signs in, sees every trading user, and is kept in sessionStorage only', async () => {
    const page = await openConsole();
    await page.keyboard.type('not-a-real-key-000000000');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => /refused \(401\)/.test(document.querySelector('#sign-in-error')?.textContent ?? ''));
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);

    await signIn(page, ADMIN_KEY);
    const rows = await page.$$eval('#users tbody tr', (trs) => trs.map((tr) => (tr as HTMLElement).dataset.user));
    expect(rows).toEqual(['USER_A', 'USER_B']);
    expect(await page.$eval('tr[data-user="USER_A"] td', (e) => e.textContent)).toBe('live');
    expect(await statusOf(page, 'USER_A')).toBe('missing');
    expect(await page.$eval('#who-scope', (e) => e.textContent)).toMatch(/admin/);
    expect(await page.$eval('#cache-banner', (e) => (e as HTMLElement).hidden)).toBe(true);
    expect(await page.$eval('#cutoff', (e) => e.textContent)).toMatch(/cut-off, \d\d:\d\d IST .*Cache mode: redis/);
    // The key: in sessionStorage, nowhere else.
    expect(await page.evaluate(() => Object.values(sessionStorage))).toEqual([ADMIN_KEY]);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
    await expectNoSecrets(page);

    // A reload in the same tab stays signed in (sessionStorage survives it).
    await page.reload({ waitUntil: 'load' });
    await page.waitForSelector('#users tbody tr');
    await page.click('#sign-out');
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    expect(await page.$eval('#sign-in', (e) => (e as HTMLElement).hidden)).toBe(false);
  });

  it('manual submission: the pasted token is stored, shown only as mask and fingerprint, and audited', async () => {
    const page = await openConsole();
    await signIn(page, ADMIN_KEY);
    await page.click('tr[data-user="USER_B"] button[aria-label^="Manage"]');
    await page.waitForSelector('#detail:not([hidden])');
    // A refused token: the API's reason is shown, and the field is emptied all the same.
    await page.type('#submit-token', 'has spaces in it');
    await clickAndWaitForMessage(page, '#submit-form button[type="submit"]', /printable ASCII without spaces.*\(HTTP 400\)$/);
    expect(await page.$eval('#submit-token', (e) => (e as HTMLInputElement).value)).toBe('');
    await page.focus('#submit-token');

    const token = `tok-manual-${randomBytes(18).toString('base64url')}`;
    secrets.add(token);
    // The token field has focus; type and submit with Enter.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('submit-token');
    await page.keyboard.type(token);
    await page.keyboard.press('Enter');
    await waitForStatus(page, 'USER_B', 'ready');
    expect(await page.$eval('#message', (e) => e.textContent)).toMatch(/^Token stored for USER_B \(\*\*\*\*.{4}, fingerprint [0-9a-f:sha256]+, in redis\)/);
    expect(await page.$eval('tr[data-user="USER_B"] [data-field="time-left"]', (e) => e.textContent)).toMatch(/\d+ (h|min|s)/);
    await page.waitForFunction(() => /token submitted by ops/.test(document.querySelector('tr[data-user="USER_B"] [data-field="last-event"]')?.textContent ?? ''));
    // The open audit trail reloads after the submission.
    await page.waitForFunction(() => [...document.querySelectorAll('#audit tbody tr td:nth-child(2)')].some((td) => td.textContent === 'token submitted'));

    const found = await app.get(ShareKhanTokenStore).lookup('USER_B');
    expect(found.kind === 'found' && found.accessToken).toBe(token);
    await expectNoSecrets(page);
  });

  it('"Log in with ShareKhan": through the fake login page and the callback back to the console, which shows the result', async () => {
    const page = await openConsole();
    await signIn(page, ADMIN_KEY);
    const visited: string[] = [];
    page.on('request', (r) => {
      if (r.isNavigationRequest()) visited.push(r.url());
    });
    await Promise.all([
      page.waitForNavigation({ waitUntil: 'load' }),
      page.click('tr[data-user="USER_A"] button[aria-label="Log in with ShareKhan for USER_A"]'),
    ]);
    await page.waitForSelector('#login-result:not([hidden])', { timeout: 10_000 });
    expect(await page.$eval('#login-result', (e) => e.textContent)).toMatch(
      /^ShareKhan login for USER_A: token stored \(status active, fingerprint \S+\)\.$/,
    );
    // The result came in the fragment, which the page then removes from the address bar.
    expect(page.url()).toBe(`${base}/console`);
    expect(visited[0]).toMatch(new RegExp(`^${fake.loginUrl}\\?`));
    expect(visited.some((u) => u.startsWith(`${base}/sharekhan/callback?`))).toBe(true);
    await waitForStatus(page, 'USER_A', 'ready');

    const found = await app.get(ShareKhanTokenStore).lookup('USER_A');
    expect(found.kind).toBe('found');
    if (found.kind === 'found') {
      secrets.add(found.accessToken);
      expect(found.view.source).toBe('login');
    }
    for (const u of visited) {
      const rt = new URL(u).searchParams.get('request_token');
      if (rt) secrets.add(rt);
    }
    await page.waitForFunction(() => /logged in with ShareKhan by/.test(document.querySelector('tr[data-user="USER_A"] [data-field="last-event"]')?.textContent ?? ''));
    await expectNoSecrets(page);

    // A replayed callback (state already used) also comes back to the console, as a failure.
    const replay = visited.find((u) => u.startsWith(`${base}/sharekhan/callback?`))!;
    await page.goto(replay, { waitUntil: 'load' });
    await page.waitForSelector('#login-result[data-kind="error"]');
    expect(await page.$eval('#login-result', (e) => e.textContent)).toMatch(/^ShareKhan login failed \(HTTP 400\): the login link was unknown, expired or already used/);
    // A crafted link's text is never shown: only a fixed sentence for the code.
    await page.goto(`${base}/console?crafted=1#login=failed&code=400&message=${encodeURIComponent('Call +91 00000 to fix your account')}`, { waitUntil: 'load' });
    await page.waitForSelector('#login-result[data-kind="error"]');
    expect(await page.$eval('#login-result', (e) => e.textContent)).not.toContain('Call +91');
    await page.goto(`${base}/console?crafted=2#login=ok&user=${encodeURIComponent('Call +91 00000')}&status=active&fingerprint=sha256:00`, { waitUntil: 'load' });
    await page.waitForSelector('#login-result[data-kind="error"]');
    expect(await page.$eval('#login-result', (e) => e.textContent)).not.toContain('Call +91');
    // API callers still get JSON.
    const json = await request(app.http).get(new URL(replay).pathname + new URL(replay).search).set('Accept', 'application/json');
    expect(json.status).toBe(400);
    expect(json.headers['content-type']).toMatch(/json/);
  });

  it('the pre-market check: the admin runs it and sees its last result', async () => {
    const page = await openConsole();
    await signIn(page, ADMIN_KEY);
    expect(await page.$eval('#premarket-schedule', (e) => e.textContent)).toMatch(/08:45 IST/);
    await clickAndWaitForMessage(page, '#premarket-run', /Pre-market check done/);
    expect(await page.$eval('#premarket-last', (e) => e.textContent)).toMatch(/\(by hand\): 2 of 2 ready; every user has a valid token\./);
    // Kept by the app: a fresh page shows it too.
    await page.reload({ waitUntil: 'load' });
    await page.waitForFunction(() => /\(by hand\)/.test(document.querySelector('#premarket-last')?.textContent ?? ''));
    await screenshot(page, 'console-users');
    await page.click('tr[data-user="USER_A"] button[aria-label^="Manage"]');
    await page.waitForSelector('#audit tbody tr');
    await screenshot(page, 'console-user-detail');
  });

  it('revoke asks for confirmation (Escape cancels), then revokes', async () => {
    const page = await openConsole();
    await signIn(page, ADMIN_KEY);
    await page.click('tr[data-user="USER_B"] button[aria-label^="Manage"]');
    await page.waitForSelector('#detail:not([hidden])');
    await page.click('#detail-revoke');
    await page.waitForSelector('#revoke-dialog[open]');
    expect(await page.$eval('#revoke-user', (e) => e.textContent)).toBe('USER_B');
    await page.keyboard.press('Escape');
    await page.waitForSelector('#revoke-dialog:not([open])');
    expect((await app.get(ShareKhanTokenStore).lookup('USER_B')).kind).toBe('found');

    await page.click('#detail-revoke');
    await page.waitForSelector('#revoke-dialog[open]');
    await page.click('#revoke-confirm');
    await waitForStatus(page, 'USER_B', 'revoked');
    expect(await page.$eval('#message', (e) => e.textContent)).toBe('The token of USER_B is revoked.');
    expect((await app.get(ShareKhanTokenStore).lookup('USER_B')).kind).not.toBe('found');
    await page.waitForFunction(() => /revoked by ops/.test(document.querySelector('tr[data-user="USER_B"] [data-field="last-event"]')?.textContent ?? ''));
  });

  it('validate asks ShareKhan about the stored token', async () => {
    const page = await openConsole();
    await signIn(page, ADMIN_KEY);
    await page.click('tr[data-user="USER_A"] button[aria-label^="Manage"]');
    await page.waitForSelector('#detail:not([hidden])');
    await clickAndWaitForMessage(page, '#detail-validate', /^ShareKhan accepted the token of USER_A\.$/);
    expect(fake.requestsTo('GET', '/reports/C100').length).toBeGreaterThan(0);
  });

  it('a user-scoped key sees its own user only', async () => {
    const page = await openConsole();
    await signIn(page, USER_A_KEY);
    expect(await page.$$eval('#users tbody tr', (trs) => trs.map((tr) => (tr as HTMLElement).dataset.user))).toEqual(['USER_A']);
    expect(await page.$eval('#who-scope', (e) => e.textContent)).toBe('(user key: USER_A)');
    expect(await page.$eval('#premarket-run', (e) => (e as HTMLElement).hidden)).toBe(true);
    expect(await page.content()).not.toContain('USER_B');
    // The page's own read endpoint scopes the same way.
    const overview = await request(app.http).get('/console/api/overview').set('x-api-key', USER_A_KEY);
    expect(overview.body.users.map((u: { userId: string }) => u.userId)).toEqual(['USER_A']);
    expect(overview.headers['cache-control']).toBe('no-store');
    await expectNoSecrets(page);
  });

  it('Redis killed: a banner says the cache is in fallback and what that means for trading', async () => {
    const page = await openConsole();
    await signIn(page, ADMIN_KEY);
    expect(await page.$eval('#cache-banner', (e) => (e as HTMLElement).hidden)).toBe(true);
    await redis.kill();
    const cache = app.get(CacheService);
    await waitUntil(Date.now() + 10_000, 'the cache to fall back', async () => cache.mode === 'fallback', 20);
    await page.click('#refresh');
    await page.waitForSelector('#cache-banner:not([hidden])', { timeout: 10_000 });
    expect(await page.$eval('#cache-banner-title', (e) => e.textContent)).toBe('Cache in fallback: Redis unreachable');
    expect(await page.$eval('#cache-banner-text', (e) => e.textContent)).toMatch(/serves tokens from its own memory.*orders are refused/);
    // USER_A's token was read while Redis was up, so this instance still trades for USER_A.
    expect(await statusOf(page, 'USER_A')).toBe('ready');
    await screenshot(page, 'console-fallback');
    await expectNoSecrets(page);
    expect(consoleLines.filter((l) => /Content Security Policy|Refused to|pageerror/i.test(l))).toEqual([]);
  });
});

describe('operator console switched off (CONSOLE_ENABLED=false, the production default)', () => {
  it('serves no console routes, and the callback answers browsers with JSON', async () => {
    const off = await createTestApp({ CONSOLE_ENABLED: 'false', API_KEYS: `ops:admin:${ADMIN_KEY}` });
    onTestFinished(() => off.close());
    expect((await request(off.http).get('/console')).status).toBe(404);
    expect((await request(off.http).get('/console/api/overview').set('x-api-key', ADMIN_KEY)).status).toBe(404);
    const cb = await request(off.http).get('/sharekhan/callback?request_token=abc&state=not-issued').set('Accept', 'text/html');
    // Refused (ShareKhan is not configured here) as JSON, not a redirect to a console that is not there.
    expect(cb.status).toBeGreaterThanOrEqual(400);
    expect(cb.headers.location).toBeUndefined();
    expect(cb.headers['content-type']).toMatch(/json/);
  });
});
