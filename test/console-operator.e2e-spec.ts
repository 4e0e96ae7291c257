import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, HTTPRequest, Page } from 'puppeteer-core';
import request from 'supertest';
import { makeRequestToken } from '../src/sharekhan/login/request-token-exchange.js';
import { CacheService } from '../src/cache/cache.service.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import {
  launchChromium,
  openConsole,
  signIn,
  textOf,
} from './helpers/console-browser.js';
import {
  startFakeShareKhan,
  type FakeShareKhan,
} from './helpers/fake-sharekhan.js';
import { freePort } from './helpers/ports.js';
import { startRedis, type RedisProcess } from './helpers/redis-server.js';
import { waitUntil } from './helpers/wait.js';

/**
 * The console as an operator meets it on a bad day: JavaScript off or slow, a phone, a wrong
 * secret key, two users in a row. A real headless Chromium; one browser and one app for the file.
 */

const SECRET = 'Qm3xR8tV1wY6zA4cE9gJ2kL5nP7sU0bD';
const SK_API_KEY = 'sharekhan-app-api-key-4567';
const ADMIN_KEY = 'admin-key-3f9a1c7e5b2d4a60';
const USER_A_KEY = 'user-a-key-8e2b6d0f4a1c3e57';
/** A user-scoped key whose user is not a trading user: it sees no row at all. */
const GHOST_KEY = 'ghost-key-5a7c9e1b3d5f7a90';
/** The phone screenshot goes to docs/images/ only when asked; the others (and it, otherwise) to the temporary directory. */
const DOCS_SHOT =
  process.env.CONSOLE_SCREENSHOTS === '1' ? 'console-mobile' : null;

let redis: RedisProcess;
let fake: FakeShareKhan;
let app: TestApp;
let browser: Browser;
let base: string;

beforeAll(async () => {
  const launching = launchChromium();
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
  app = await createTestApp(
    {
      REDIS_URL: redis.url,
      CACHE_KEY_PREFIX: 'console-op:',
      API_KEYS: `ops:admin:${ADMIN_KEY},ua:USER_A:${USER_A_KEY},ghost:GHOST:${GHOST_KEY}`,
      TRADING_USERS: 'USER_A:live:C100:LOGIN100,USER_B:paper::',
      SHAREKHAN_API_BASE_URL: fake.baseUrl,
      SHAREKHAN_API_KEY: SK_API_KEY,
      SHAREKHAN_SECRET_KEY: SECRET,
      SHAREKHAN_REDIRECT_URL: `${base}/sharekhan/callback`,
      ORCHESTRATOR_PREMARKET_CHECK_IST: '08:45',
      API_RATE_LIMIT: '1000',
    },
    (c) => {
      c.sharekhan.versionId = '1005';
    },
  );
  await app.app.listen(port, '127.0.0.1');
  const cache = app.get(CacheService);
  await waitUntil(
    Date.now() + 10_000,
    'the cache to use Redis',
    async () => cache.mode === 'redis',
    20,
  );
  browser = await launching;
});

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await fake?.close();
  await redis?.stop();
});

interface Sent {
  url: string;
  body: string;
  navigation: boolean;
}

/** Every request the page makes, with its body, to look for the key in. */
function recordRequests(into: Sent[]) {
  return (r: HTTPRequest) =>
    into.push({
      url: r.url(),
      body: r.postData() ?? '',
      navigation: r.isNavigationRequest(),
    });
}

const carrying = (sent: Sent[], secret: string) =>
  sent.filter((r) => r.url.includes(secret) || r.body.includes(secret));

describe('sign-in never puts the API key in a URL', () => {
  it('with JavaScript off: Enter and a click send nothing, and the page says it needs JavaScript', async () => {
    const sent: Sent[] = [];
    const page = await openConsole(browser, base, {
      javaScript: false,
      before: async (p) => void p.on('request', recordRequests(sent)),
    });
    expect(sent.filter((r) => r.navigation).map((r) => r.url)).toEqual([
      `${base}/console`,
    ]);
    await page.click('#api-key');
    await page.keyboard.type(ADMIN_KEY);
    await page.keyboard.press('Enter');
    await page.click('#sign-in-button');
    // A navigation would have started within this time; give a loaded machine a wide margin.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(page.url()).toBe(`${base}/console`);
    expect(carrying(sent, ADMIN_KEY)).toEqual([]);
    expect(sent.filter((r) => r.navigation).map((r) => r.url)).toEqual([
      `${base}/console`,
    ]);
    expect(await page.content()).toMatch(/needs JavaScript/);
  });

  it('with the script slow to arrive: Enter before it runs sends nothing; once it runs, the key goes in a header', async () => {
    const sent: Sent[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const page = await openConsole(browser, base, {
      waitFor: 'parsed',
      before: async (p) => {
        p.on('request', recordRequests(sent));
        await p.setRequestInterception(true);
        p.on('request', (r) => {
          if (r.url().endsWith('/console/console.js'))
            void held.then(() => r.continue());
          else void r.continue();
        });
      },
    });
    await page.click('#api-key');
    await page.keyboard.type(ADMIN_KEY);
    await page.keyboard.press('Enter');
    await new Promise((r) => setTimeout(r, 1_000));
    expect(page.url()).toBe(`${base}/console`);
    expect(carrying(sent, ADMIN_KEY)).toEqual([]);
    expect(sent.filter((r) => r.navigation).map((r) => r.url)).toEqual([
      `${base}/console`,
    ]);
    release();
    await page.waitForFunction(
      () =>
        !(document.querySelector('#sign-in-button') as HTMLButtonElement)
          .disabled,
    );
    await page.focus('#api-key');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#users tbody tr');
    expect(page.url()).toBe(`${base}/console`);
    expect(carrying(sent, ADMIN_KEY)).toEqual([]);
  });

  it('no form can carry a secret in a query string: every form posts and no input has a name', async () => {
    const page = await openConsole(browser, base);
    const forms = await page.$$eval('form', (fs) =>
      fs.map((f) => ({ id: f.id, method: f.getAttribute('method') })),
    );
    expect(
      forms.filter((f) => f.method !== 'post' && f.method !== 'dialog'),
    ).toEqual([]);
    expect(
      await page.$$eval('input[name], textarea[name], select[name]', (els) =>
        els.map((e) => e.id),
      ),
    ).toEqual([]);
    await signIn(page, ADMIN_KEY);
    expect(await textOf(page, '#who-name')).toBe('ops');
  });
});

describe('a failed ShareKhan login says why, in words', () => {
  /** A login state issued for USER_A, as the console's "Log in with ShareKhan" would get it. */
  async function issuedState(): Promise<string> {
    const res = await request(app.http)
      .get('/sharekhan/users/USER_A/login-url')
      .set('x-api-key', ADMIN_KEY)
      .expect(200);
    return res.body.state as string;
  }

  it('a request token sealed with another secret key blames SHAREKHAN_SECRET_KEY; a replayed state blames the state', async () => {
    const page = await openConsole(browser, base);
    const state = await issuedState();
    // What ShareKhan sends when this app's SHAREKHAN_SECRET_KEY is not the one it sealed with.
    const sealedElsewhere = makeRequestToken(
      'REQ-1|C100',
      'Zz9yXx8wVv7uTt6sSs5rRr4qQq3pPp2o',
      { versionId: '1005' },
    );
    const callback = `${base}/sharekhan/callback?request_token=${encodeURIComponent(sealedElsewhere)}&state=${state}`;
    await page.goto(callback, { waitUntil: 'load' });
    await page.waitForSelector('#login-result[data-kind="error"]');
    const wrongKey = await textOf(page, '#login-result');
    expect(wrongKey).toMatch(
      /^ShareKhan login failed \(HTTP 400\): the request token ShareKhan sent back failed its integrity check\. SHAREKHAN_SECRET_KEY is most likely not/,
    );
    expect(wrongKey).not.toMatch(/state|expired|already used/);

    await page.goto(callback, { waitUntil: 'load' });
    await page.waitForSelector(
      '#login-result[data-reason="LOGIN_STATE_UNKNOWN"]',
    );
    const replayed = await textOf(page, '#login-result');
    expect(replayed).toMatch(
      /^ShareKhan login failed \(HTTP 400\): the login link was unknown, expired or already used/,
    );
    expect(replayed).not.toContain('SHAREKHAN_SECRET_KEY');
    expect(page.url()).toBe(`${base}/console`);
  });
});

/** The page's visible text: what an operator reads. */
const visibleText = (page: Page) =>
  page.evaluate(() => document.body.innerText);

/** Wider than the viewport means the whole page scrolls sideways: on a phone, the table's right half is lost. */
async function expectNoSidewaysScroll(
  page: Page,
  width: number,
  name: string,
): Promise<void> {
  await page.screenshot({
    path: join(name === DOCS_SHOT ? 'docs/images' : tmpdir(), `${name}.png`),
    fullPage: true,
  });
  const widths = await page.evaluate(() => ({
    doc: document.documentElement.scrollWidth,
    body: document.body.scrollWidth,
  }));
  expect(widths, name).toEqual({ doc: width, body: width });
}

describe('what the operator reads', () => {
  it('at 390 px wide (a phone) nothing makes the page scroll sideways', async () => {
    const token = fake.issueAccessToken('C100');
    await request(app.http)
      .put('/sharekhan/users/USER_A/token')
      .set('x-api-key', ADMIN_KEY)
      .send({ accessToken: token })
      .expect(200);
    const page = await openConsole(browser, base, { width: 390 });
    await expectNoSidewaysScroll(page, 390, 'console-mobile-sign-in');
    await signIn(page, ADMIN_KEY);
    await page.click('#premarket-run');
    await page.waitForFunction(() =>
      (document.querySelector('#premarket-last')?.textContent ?? '').startsWith(
        'Last run',
      ),
    );
    await expectNoSidewaysScroll(page, 390, 'console-mobile');
    await page.click('tr[data-user="USER_A"] button[aria-label^="Manage"]');
    await page.waitForSelector('#audit tbody tr');
    await expectNoSidewaysScroll(page, 390, 'console-mobile-user-detail');
  });

  it("every time is India's time with its label, whatever the browser's zone; audit actions and the schedule in words", async () => {
    const page = await openConsole(browser, base, {
      before: (p) => p.emulateTimezone('America/New_York'),
    });
    await signIn(page, ADMIN_KEY);
    await page.click('#premarket-run');
    await page.waitForFunction(() =>
      (document.querySelector('#premarket-last')?.textContent ?? '').startsWith(
        'Last run',
      ),
    );
    await page.click('tr[data-user="USER_A"] button[aria-label^="Manage"]');
    await page.waitForSelector('#audit tbody tr');
    const text = await visibleText(page);
    // No raw UTC instant anywhere, and the browser's own zone is never used.
    expect(text).not.toMatch(/\d{4}-\d\d-\d\dT\d\d:\d\d/);
    expect(text).not.toMatch(/AM|PM|GMT|EST|EDT/);
    expect(await textOf(page, '#premarket-last')).toMatch(
      /^Last run \d{4}-\d\d-\d\d \d\d:\d\d:\d\d IST \(by hand\): 1 of 2 ready; 1 cannot trade\.$/,
    );
    // The audit trail: when in IST, the action in words, the detail's expiry in IST (the default 06:00 cut-off).
    const first = await page.$eval(
      '#audit tbody td[data-action="submitted"]',
      (td) => [...td.parentElement!.children].map((c) => c.textContent),
    );
    expect(first[0]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d IST$/);
    expect(first[1]).toBe('token submitted');
    expect(first[5]).toMatch(/^expires \d{4}-\d\d-\d\d 06:00:00 IST$/);
    expect(
      await page.$eval(
        'tr[data-user="USER_A"] [data-field="last-event"]',
        (e) => e.firstChild?.textContent,
      ),
    ).toBe('token submitted by ops');
    // The schedule and what to do, as a person says them: no cron field, no API path.
    expect(await textOf(page, '#premarket-schedule')).toBe(
      'Runs at 08:45 IST, Monday to Friday.',
    );
    expect(await textOf(page, '#premarket-lacking')).toBe(
      "USER_B: missing — submit today's token or log in with ShareKhan (Manage)",
    );
    expect(text).not.toMatch(/cron|PUT \/sharekhan|\b[a-z]+_[a-z_]+\b/);
  });

  it('a refused submission shows up in the open audit trail at once, in words', async () => {
    const page = await openConsole(browser, base);
    await signIn(page, ADMIN_KEY);
    await page.click('tr[data-user="USER_A"] button[aria-label^="Manage"]');
    await page.waitForSelector('#audit tbody tr');
    const rowsBefore = await page.$$eval(
      '#audit tbody tr',
      (trs) => trs.length,
    );
    await page.type('#submit-token', 'tok-of-another-customer-0001');
    await page.type('#submit-customer', 'C999');
    await page.click('#submit-form button[type="submit"]');
    await page.waitForFunction(() =>
      /HTTP 409/.test(document.querySelector('#message')?.textContent ?? ''),
    );
    await page.waitForFunction(
      (n) => document.querySelectorAll('#audit tbody tr').length > n,
      { timeout: 10_000 },
      rowsBefore,
    );
    expect(
      await page.$eval('#audit tbody tr:first-child td:nth-child(2)', (td) => [
        td.textContent,
        (td as HTMLElement).dataset.action,
      ]),
    ).toEqual(['refused: another ShareKhan customer', 'customer_refused']);
  });

  it('messages about one user are gone when another is opened, and everything said is gone after sign-out', async () => {
    const page = await openConsole(browser, base);
    await signIn(page, ADMIN_KEY);
    await page.click('tr[data-user="USER_B"] button[aria-label^="Manage"]');
    await page.waitForSelector('#detail:not([hidden])');
    await page.type('#submit-token', 'has spaces in it');
    await page.click('#submit-form button[type="submit"]');
    await page.waitForFunction(() =>
      /HTTP 400/.test(document.querySelector('#message')?.textContent ?? ''),
    );
    await page.click('tr[data-user="USER_A"] button[aria-label^="Manage"]');
    await page.waitForFunction(() =>
      (document.querySelector('#detail-title')?.textContent ?? '').startsWith(
        'USER_A',
      ),
    );
    expect(await textOf(page, '#message')).toBe('');

    // A login result and a message, then sign-out: the next person to sign in here reads neither.
    await page.goto(
      `${base}/console#login=failed&code=400&reason=LOGIN_STATE_UNKNOWN`,
      { waitUntil: 'load' },
    );
    // Only the fragment changed: reload, as the callback's redirect would have loaded the page.
    await page.reload({ waitUntil: 'load' });
    await page.waitForSelector('#login-result:not([hidden])');
    await page.waitForSelector('#users tbody tr');
    await page.click('tr[data-user="USER_B"] button[aria-label^="Manage"]');
    await page.click('#detail-validate');
    await page.waitForFunction(
      () => (document.querySelector('#message')?.textContent ?? '') !== '',
    );
    // USER_B has no token: said in this page's terms, not as the API's endpoint.
    expect(await textOf(page, '#message')).toBe(
      "No token is stored for USER_B: submit today's token or log in with ShareKhan first.",
    );
    await page.click('#sign-out');
    expect(
      await page.$eval('#login-result', (e) => (e as HTMLElement).hidden),
    ).toBe(true);
    await signIn(page, USER_A_KEY);
    expect(await textOf(page, '#message')).toBe('');
    expect(await textOf(page, '#login-result')).toBe('');
    expect(await visibleText(page)).not.toContain('USER_B');
  });

  it('a key that sees no trading user is told so, not "0 of 0 ready; every user has a valid token"', async () => {
    const page = await openConsole(browser, base);
    await signIn(page, GHOST_KEY);
    expect(
      await page.$eval('#no-users', (e) => (e as HTMLElement).hidden),
    ).toBe(false);
    await page.waitForFunction(
      () =>
        (document.querySelector('#premarket-last')?.textContent ?? '') !== '',
    );
    const last = await textOf(page, '#premarket-last');
    expect(last).toMatch(
      /IST \(by hand\): it covered no trading user this key can see\.$/,
    );
    expect(last).not.toMatch(/0 of 0|every user has a valid token/);
  });

  it("a user key does not see the admin's client address in its user's audit trail (its own, it does)", async () => {
    await request(app.http)
      .post('/sharekhan/users/USER_A/token/validate')
      .set('x-api-key', USER_A_KEY)
      .expect(200);
    const asAdmin = await request(app.http)
      .get('/sharekhan/users/USER_A/audit')
      .set('x-api-key', ADMIN_KEY)
      .expect(200);
    const asUser = await request(app.http)
      .get('/sharekhan/users/USER_A/audit')
      .set('x-api-key', USER_A_KEY)
      .expect(200);
    type Ev = { who: string; clientAddress: string | null; action: string };
    const byOps = (events: Ev[]) => events.filter((e) => e.who === 'ops');
    expect(byOps(asAdmin.body.events).length).toBeGreaterThan(0);
    expect(
      byOps(asAdmin.body.events).every(
        (e) => typeof e.clientAddress === 'string' && e.clientAddress !== '',
      ),
    ).toBe(true);
    expect(byOps(asUser.body.events).map((e) => e.clientAddress)).toEqual(
      byOps(asAdmin.body.events).map(() => null),
    );
    expect(
      (asUser.body.events as Ev[]).find((e) => e.who === 'ua')?.clientAddress,
    ).toMatch(/127\.0\.0\.1/);
    // The console's overview (last event per user) is redacted the same way.
    await request(app.http)
      .put('/sharekhan/users/USER_A/token')
      .set('x-api-key', ADMIN_KEY)
      .send({ accessToken: fake.issueAccessToken('C100') })
      .expect(200);
    const overview = await request(app.http)
      .get('/console/api/overview')
      .set('x-api-key', USER_A_KEY)
      .expect(200);
    expect(overview.body.users[0].lastEvent).toMatchObject({
      who: 'ops',
      clientAddress: null,
    });
    const adminOverview = await request(app.http)
      .get('/console/api/overview')
      .set('x-api-key', ADMIN_KEY)
      .expect(200);
    expect(adminOverview.body.users[0].lastEvent.clientAddress).toMatch(
      /127\.0\.0\.1/,
    );
  });
});
