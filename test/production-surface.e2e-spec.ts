import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { createTestApp, type TestApp } from './helpers/app.js';
import { PRODUCTION_ESSENTIALS } from './fixtures/production-env.js';

/** What a production pod shows to whoever can reach it: no API docs unless asked, guarded metrics, no cached answers. */

const TOKEN_ENCRYPTION_KEYS = `k1:${randomBytes(32).toString('base64')}`;
const ADMIN_KEY = PRODUCTION_ESSENTIALS.API_KEYS.split(':')[2];
const METRICS_TOKEN = randomBytes(24).toString('base64url');

const production = (extra: Record<string, string> = {}) =>
  createTestApp({
    NODE_ENV: 'production',
    ...PRODUCTION_ESSENTIALS,
    TOKEN_ENCRYPTION_KEYS,
    ALLOW_MEMORY_ONLY_IN_PRODUCTION: 'true',
    ...extra,
  });

describe('API docs in production', () => {
  it('are off by default: /docs and /docs-json answer 404', async () => {
    const t = await production();
    onTestFinished(() => t.close());
    expect(t.config.observability.docs.enabled).toBe(false);
    await request(t.http).get('/docs').expect(404);
    await request(t.http).get('/docs-json').expect(404);
  });

  it('DOCS_ENABLED=true opts in; the page gets a CSP that forbids framing and inline script', async () => {
    const t = await production({ DOCS_ENABLED: 'true' });
    onTestFinished(() => t.close());
    const page = await request(t.http).get('/docs').redirects(1).expect(200);
    const csp = page.headers['content-security-policy'];
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
    expect(page.headers['x-frame-options']).toBe('DENY');
    // Every script of the page is a file of its own: the CSP lets it run.
    expect(page.text).not.toMatch(/<script>(?!\s*<\/script>)/);
    expect(
      (await request(t.http).get('/docs-json').expect(200)).headers[
        'content-security-policy'
      ],
    ).toContain("frame-ancestors 'none'");
  });

  it('outside production they stay on by default', async () => {
    const t = await createTestApp({});
    onTestFinished(() => t.close());
    await request(t.http).get('/docs-json').expect(200);
  });
});

describe('/metrics with METRICS_TOKEN', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await production({ METRICS_TOKEN });
  });
  afterAll(() => t?.close());

  it('answers 401 with a Bearer challenge without the token, or with a wrong one', async () => {
    for (const auth of [
      undefined,
      'Bearer wrong-token-0123456789',
      METRICS_TOKEN,
      `Basic ${METRICS_TOKEN}`,
    ]) {
      const req = request(t.http).get('/metrics');
      if (auth) req.set('authorization', auth);
      const res = await req;
      expect(res.status, String(auth)).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="metrics"');
      expect(res.text).not.toContain(METRICS_TOKEN);
    }
  });

  it('serves the metrics with Authorization: Bearer <token>', async () => {
    const res = await request(t.http)
      .get('/metrics')
      .set('authorization', `Bearer ${METRICS_TOKEN}`)
      .expect(200);
    expect(res.text).toContain('orchestrator_orders_total');
  });

  it('without METRICS_TOKEN stays open (the Kubernetes convention; keep it off the ingress)', async () => {
    const open = await production();
    onTestFinished(() => open.close());
    await request(open.http).get('/metrics').expect(200);
  });

  it('a short METRICS_TOKEN is refused at start-up without echoing it', async () => {
    const err = await production({ METRICS_TOKEN: 'short-secret' }).catch(
      (e: Error) => e,
    );
    expect((err as Error).message).toMatch(
      /METRICS_TOKEN=\(hidden, 12 characters\) \(wants a bearer token of at least 16 characters/,
    );
    expect((err as Error).message).not.toContain('short-secret');
  });
});

describe('answers about users are never cached', () => {
  it('readiness and order history carry Cache-Control: no-store', async () => {
    const t = await production();
    onTestFinished(() => t.close());
    const ready = await request(t.http)
      .get('/orchestrator/readiness')
      .set('x-api-key', ADMIN_KEY)
      .expect(200);
    expect(ready.headers['cache-control']).toBe('no-store');
    const orders = await request(t.http)
      .get('/orchestrator/users/MASTER_USER_001/orders')
      .set('x-api-key', ADMIN_KEY)
      .expect(200);
    expect(orders.headers['cache-control']).toBe('no-store');
  });
});
