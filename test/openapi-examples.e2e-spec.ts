import request from 'supertest';
import { createTestApp, type TestApp } from './helpers/app.js';

/**
 * Each operation's error examples are answers that operation can really give: a route without a
 * body shows no body error, an admin-only route the admin-only refusal, a route that never
 * checks the user's scope no 403 at all.
 */
describe('OpenAPI error examples per operation', () => {
  let t: TestApp;
  let paths: Record<string, Record<string, { responses: Record<string, any> }>>;
  beforeAll(async () => {
    t = await createTestApp({});
    paths = (await request(t.http).get('/docs-json').expect(200)).body.paths;
  });
  afterAll(() => t?.close());

  const example = (path: string, method: string, status: number) =>
    paths[path]?.[method]?.responses[String(status)]?.content?.[
      'application/json'
    ]?.schema?.example;
  const operations = () =>
    Object.entries(paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => ({ path, method })),
    );

  it('no GET or DELETE route shows a body error, and no route a body field it does not take', () => {
    const wrong = operations().flatMap(({ path, method }) => {
      const ex = example(path, method, 400);
      if (!ex) return [];
      const mentionsBody = /body\./.test(JSON.stringify(ex));
      const takesBody =
        ['put', 'post'].includes(method) &&
        paths[path][method].hasOwnProperty('requestBody');
      return mentionsBody && !takesBody
        ? [`${method} ${path}: ${ex.message}`]
        : [];
    });
    expect(wrong).toEqual([]);
    expect(
      example('/sharekhan/users/{userId}/token', 'get', 400).message,
    ).toMatch(/userId must be 1-64 characters/);
    expect(example('/orchestrator/orders', 'post', 400).message).toMatch(
      /body\.order\./,
    );
    expect(
      example('/sharekhan/users/{userId}/token', 'put', 400).message,
    ).toMatch(/body\.accessToken/);
    expect(example('/sharekhan/callback', 'get', 400).message).toMatch(
      /query\.state/,
    );
  });

  it('admin-only routes show the admin-only refusal; user routes the other-user refusal; unscoped routes none', () => {
    for (const [path, method] of [
      ['/sharekhan/tokens', 'get'],
      ['/orchestrator/premarket-check', 'post'],
    ]) {
      expect(example(path, method, 403)?.message, `${method} ${path}`).toMatch(
        /needs an admin API key/,
      );
    }
    for (const [path, method] of [
      ['/sharekhan/users/{userId}/token', 'get'],
      ['/orchestrator/users/{userId}/orders', 'get'],
      ['/orchestrator/orders', 'post'],
    ]) {
      expect(example(path, method, 403)?.message, `${method} ${path}`).toMatch(
        /may act only on its own user/,
      );
    }
    for (const [path, method] of [
      ['/orchestrator/readiness', 'get'],
      ['/console/api/overview', 'get'],
    ]) {
      expect(example(path, method, 403), `${method} ${path}`).toBeUndefined();
      expect(example(path, method, 401)).toBeDefined();
    }
  });
});
