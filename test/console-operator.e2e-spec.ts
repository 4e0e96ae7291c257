import type { Browser, HTTPRequest } from 'puppeteer-core';
import request from 'supertest';
import { makeRequestToken } from '../src/sharekhan/request-token-exchange.js';
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
      API_KEYS: `ops:admin:${ADMIN_KEY},ua:USER_A:${USER_A_KEY}`,
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
