import { Logger as NestLogger, RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import { ModulesContainer } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { onTestFinished, vi } from 'vitest';
import request from 'supertest';
import { parse as parseYaml } from 'yaml';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PinoLogger } from 'nestjs-pino';
import { Gauge } from 'prom-client';
import { CacheService } from '../src/cache/cache.service.js';
import { startApp } from '../src/bootstrap.js';
import { PRODUCTION_ESSENTIALS } from './fixtures/production-env.js';
import { loadConfig } from '../src/config/load-config.js';
import { configSections } from '../src/config/sections.js';
import { placeOrderBodySchema, signalBodySchema } from '../src/orchestrator/orchestrator.schemas.js';
import { ReadinessService } from '../src/orchestrator/readiness.service.js';
import { submitTokenSchema } from '../src/sharekhan/http/sharekhan-token.dto.js';
import { setLogDestination } from '../src/observability/logging.js';
import { MetricsService } from '../src/observability/metrics.service.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { captureLogs } from './helpers/logs.js';
import { registeredRoutes, toOpenApiPath } from './helpers/routes.js';
import { startRedis, type RedisProcess } from './helpers/redis-server.js';
import { waitUntil } from './helpers/wait.js';

/** The value of one sample in a Prometheus text exposition, or undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (.+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

const scrape = async (t: TestApp) => {
  const res = await request(t.http).get('/metrics');
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toContain('text/plain');
  return res.text;
};

async function untilMode(t: TestApp, mode: string, ms = 10_000): Promise<void> {
  const cache = t.get(CacheService);
  await waitUntil(Date.now() + ms, `cache mode ${mode} (now ${cache.mode})`, async () => cache.mode === mode, 25);
}

describe('metrics follow the cache mode (real redis-server)', () => {
  let redis: RedisProcess;
  let t: TestApp;
  beforeAll(async () => {
    redis = await startRedis();
    t = await createTestApp({ REDIS_URL: redis.url });
    await untilMode(t, 'redis');
  });
  afterAll(async () => {
    await t?.close();
    await redis?.stop();
  });

  it('redis -> fallback -> recovering -> redis: mode gauge, transitions, operations, journal, replay', async () => {
    const cache = t.get(CacheService);
    let text = await scrape(t);
    expect(sample(text, 'cache_mode', { mode: 'redis' })).toBe(1);
    expect(sample(text, 'cache_mode', { mode: 'fallback' })).toBe(0);
    expect(sample(text, 'cache_breaker_state', { state: 'closed' })).toBe(1);
    expect(sample(text, 'cache_breaker_open_nodes')).toBe(0);
    expect(sample(text, 'cache_redis_connected')).toBe(1);
    expect(sample(text, 'cache_mode_transitions_total', { from: 'fallback', to: 'redis' })).toBe(1);
    // Default process metrics are there too.
    expect(sample(text, 'process_cpu_user_seconds_total')).toBeGreaterThanOrEqual(0);

    const setsBefore = sample(text, 'cache_operations_total', { op: 'set', result: 'ok', store: 'redis' }) ?? 0;
    await cache.set('m:a', 1);
    await cache.get('m:a');
    await cache.get('m:missing');
    text = await scrape(t);
    expect(sample(text, 'cache_operations_total', { op: 'set', result: 'ok', store: 'redis' })).toBe(setsBefore + 1);
    expect(sample(text, 'cache_operations_total', { op: 'read', result: 'hit', store: 'redis' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'cache_operations_total', { op: 'read', result: 'miss', store: 'redis' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'cache_operation_duration_seconds_count', { op: 'set', store: 'redis' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'cache_memory_entries')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'cache_memory_bytes')).toBeGreaterThan(0);

    await redis.kill();
    await untilMode(t, 'fallback');
    await cache.set('m:b', 2);
    await cache.set('m:c', 3);
    await cache.get('m:a');
    text = await scrape(t);
    expect(sample(text, 'cache_mode', { mode: 'fallback' })).toBe(1);
    expect(sample(text, 'cache_mode', { mode: 'redis' })).toBe(0);
    expect(sample(text, 'cache_mode_transitions_total', { from: 'redis', to: 'fallback' })).toBe(1);
    expect(sample(text, 'cache_redis_connected')).toBe(0);
    expect(sample(text, 'cache_operations_total', { op: 'set', result: 'journaled', store: 'memory' })).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'cache_operations_total', { op: 'read', result: 'hit', store: 'memory' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'cache_journal_depth')).toBeGreaterThanOrEqual(2);

    await redis.restart();
    await untilMode(t, 'redis', 15_000);
    text = await scrape(t);
    expect(sample(text, 'cache_mode', { mode: 'redis' })).toBe(1);
    expect(sample(text, 'cache_mode_transitions_total', { from: 'fallback', to: 'recovering' })).toBe(1);
    expect(sample(text, 'cache_mode_transitions_total', { from: 'recovering', to: 'redis' })).toBe(1);
    expect(sample(text, 'cache_replayed_writes_total')).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'cache_replay_rejected_writes_total')).toBe(0);
    expect(sample(text, 'cache_journal_depth')).toBe(0);
  });

  it('counts HTTP requests by route pattern and status, never by raw URL', async () => {
    await request(t.http).get('/health/live');
    await request(t.http).get('/no-such-route/PAPER_TRADER_001');
    const text = await scrape(t);
    expect(sample(text, 'http_requests_total', { method: 'GET', route: '/health/live', status: '200' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'http_requests_total', { method: 'GET', route: 'unmatched', status: '404' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'http_request_duration_seconds_count', { method: 'GET', route: '/health/live', status: '200' })).toBeGreaterThanOrEqual(1);
    expect(text).not.toContain('PAPER_TRADER_001');
  });

  it('lets other modules publish their numbers through collectors run at scrape time', async () => {
    const metrics = t.get(MetricsService);
    // The token module publishes broker_tokens{status} this way (src/sharekhan/tokens/token-metrics.ts).
    expect(await scrape(t)).toContain('# TYPE broker_tokens gauge');

    const gauge = new Gauge({ name: 'test_collected_value', help: 'test', labelNames: ['kind'], registers: [metrics.registry] });
    let value = 3;
    const unregister = metrics.registerCollector('test', () => gauge.set({ kind: 'a' }, value));
    let text = await scrape(t);
    expect(sample(text, 'test_collected_value', { kind: 'a' })).toBe(3);
    value = 2;
    text = await scrape(t);
    expect(sample(text, 'test_collected_value', { kind: 'a' })).toBe(2);

    // A collector that throws or hangs does not break the scrape.
    const unregisterBad = metrics.registerCollector('broken', () => {
      throw new Error('store unavailable');
    });
    const unregisterSlow = metrics.registerCollector('slow', () => new Promise(() => undefined));
    const t0 = performance.now();
    text = await scrape(t);
    expect(performance.now() - t0).toBeLessThan(1_000 + 500);
    expect(sample(text, 'cache_mode', { mode: 'redis' })).toBe(1);
    unregister();
    unregisterBad();
    unregisterSlow();
    value = 7;
    expect(sample(await scrape(t), 'test_collected_value', { kind: 'a' })).toBe(2);
  });
});

describe('structured logs: request ids and redaction (real log output)', () => {
  let t: TestApp;
  const lines: string[] = [];
  let restore: () => void;
  beforeAll(async () => {
    const capture = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        cb();
      },
    });
    restore = setLogDestination({ write: (s: string) => capture.write(s) });
    t = await createTestApp({ LOG_LEVEL: 'info' });
  });
  afterAll(async () => {
    await t?.close();
    restore?.();
  });

  const SECRETS = {
    authorization: 'Bearer AUTH-SECRET-1111',
    apiKey: 'XAPIKEY-SECRET-2222',
    apiKeyPlain: 'APIKEY-SECRET-3333',
    accessTokenHeader: 'ACCESS-HEADER-SECRET-4444',
    cookie: 'session=COOKIE-SECRET-5555',
    queryToken: 'QUERY-SECRET-6666',
    bodyToken: 'BODY-SECRET-7777',
    nestedPassword: 'PASSWORD-SECRET-8888',
    deepRequestToken: 'DEEP-SECRET-9999',
    secret: 'PLAIN-SECRET-0000',
  };

  it('never writes a token, API key, secret, password or credential header; writes [REDACTED] instead', async () => {
    const res = await request(t.http)
      .post(`/no-such-route?request_token=${SECRETS.queryToken}&page=2`)
      .set('authorization', SECRETS.authorization)
      .set('x-api-key', SECRETS.apiKey)
      .set('api-key', SECRETS.apiKeyPlain)
      .set('access-token', SECRETS.accessTokenHeader)
      .set('cookie', SECRETS.cookie)
      .send({ accessToken: SECRETS.bodyToken });
    expect(res.status).toBe(404);

    // App code logging objects through Nest's Logger (routed to pino) and through PinoLogger.
    new NestLogger('RedactionTest').log({
      msg: 'token stored',
      userId: 'PAPER_TRADER_001',
      accessToken: SECRETS.bodyToken,
      user: { password: SECRETS.nestedPassword, profile: { session: { requestToken: SECRETS.deepRequestToken } } },
    });
    const pino = await t.app.resolve(PinoLogger);
    pino.info({ token: SECRETS.bodyToken, secret: SECRETS.secret, body: { apiKey: SECRETS.apiKey } }, 'exchange done');

    await waitUntil(Date.now() + 2_000, 'log lines', async () => lines.some((l) => l.includes('exchange done')), 10);
    const text = lines.join('\n');
    for (const [what, value] of Object.entries(SECRETS)) {
      expect(text, `${what} leaked into the log`).not.toContain(value.replace(/^Bearer /, '').replace(/^session=/, ''));
    }
    expect(text).toContain('[REDACTED]');

    const parsed = lines.map((l) => JSON.parse(l) as Record<string, any>);
    const requestLine = parsed.find((l) => l.req?.url?.startsWith('/no-such-route'));
    expect(requestLine).toBeDefined();
    expect(requestLine!.level).toBe('warn');
    expect(requestLine!.req.headers.authorization).toBe('[REDACTED]');
    expect(requestLine!.req.headers['x-api-key']).toBe('[REDACTED]');
    expect(requestLine!.req.headers['api-key']).toBe('[REDACTED]');
    expect(requestLine!.req.headers['access-token']).toBe('[REDACTED]');
    expect(requestLine!.req.headers.cookie).toBe('[REDACTED]');
    expect(requestLine!.req.url).toBe('/no-such-route?request_token=[REDACTED]&page=2');
    expect(requestLine!.req.query).toEqual({ request_token: '[REDACTED]', page: '2' });
    // Useful context survives redaction.
    expect(requestLine!.requestId).toBe(res.headers['x-request-id']);
    const appLine = parsed.find((l) => l.msg === 'token stored');
    expect(appLine).toMatchObject({ context: 'RedactionTest', userId: 'PAPER_TRADER_001', accessToken: '[REDACTED]' });
    expect(appLine!.user.password).toBe('[REDACTED]');
    expect(appLine!.user.profile.session.requestToken).toBe('[REDACTED]');
  });

  it('echoes a sane incoming x-request-id and logs it; replaces an unsafe one with a fresh id', async () => {
    const good = await request(t.http).get('/no-such-route').set('x-request-id', 'client-req-42.abc');
    expect(good.headers['x-request-id']).toBe('client-req-42.abc');
    const bad = await request(t.http).get('/no-such-route').set('x-request-id', 'evil id" with spaces');
    expect(bad.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const long = await request(t.http).get('/no-such-route').set('x-request-id', 'x'.repeat(300));
    expect(long.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const generated = await request(t.http).get('/no-such-route');
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);

    await waitUntil(Date.now() + 2_000, 'request log line', async () => lines.some((l) => l.includes('client-req-42.abc')), 10);
    const line = lines.map((l) => JSON.parse(l)).find((l) => l.requestId === 'client-req-42.abc');
    expect(line.req.id).toBe('client-req-42.abc');
  });

  it('routes Nest framework lines through pino as JSON, its route and module listing below info', () => {
    const parsed = lines.map((l) => JSON.parse(l));
    expect(parsed.length).toBeGreaterThan(0);
    expect(parsed.every((l) => typeof l.time === 'string')).toBe(true);
    expect(parsed.filter((l) => ['RouterExplorer', 'RoutesResolver', 'InstanceLoader', 'NestApplication'].includes(l.context))).toEqual([]);
  });

  it('keeps probes and scrapes out of the request log', async () => {
    const before = lines.length;
    await request(t.http).get('/health/live');
    await request(t.http).get('/metrics');
    await request(t.http).get('/no-such-route/after-probes');
    await waitUntil(Date.now() + 2_000, 'log line', async () => lines.some((l) => l.includes('after-probes')), 10);
    const newLines = lines.slice(before).map((l) => JSON.parse(l));
    expect(newLines.filter((l) => l.req?.url === '/health/live' || l.req?.url === '/metrics')).toHaveLength(0);
  });
});

describe("an operator's first start (real log output)", () => {
  const ENC = `k1:${Buffer.alloc(32, 7).toString('base64')}`;

  async function started(env: Record<string, string>) {
    const logs = captureLogs();
    const app = await startApp(loadConfig({ PORT: '0', LOG_LEVEL: 'info', ...env }));
    onTestFinished(() => app.close());
    const { port } = app.getHttpServer().address() as AddressInfo;
    const lineWith = (text: string) => waitUntil(Date.now() + 3_000, `a line with "${text}"`, async () => logs.lines.some((l) => l.includes(text)), 10);
    return { app, port, logs, lineWith };
  }

  it('production: JSON lines and one "Listening on port" line with the port and the cache mode', async () => {
    const { port, logs, lineWith } = await started({ NODE_ENV: 'production', ...PRODUCTION_ESSENTIALS, ALLOW_MEMORY_ONLY_IN_PRODUCTION: 'true', TOKEN_ENCRYPTION_KEYS: ENC });
    await lineWith('Listening on port');
    const [line] = logs.matching('Listening on port');
    expect(line).toMatchObject({ level: 'info', context: 'Bootstrap', msg: `Listening on port ${port} (NODE_ENV production, cache mode memory)` });
    for (const l of logs.lines) expect(() => JSON.parse(l), l).not.toThrow();
  });

  it('development: readable lines from pino-pretty, not JSON', async () => {
    const { port, logs, lineWith } = await started({ NODE_ENV: 'development' });
    await lineWith('Listening on port');
    const line = logs.lines.find((l) => l.includes('Listening on port'))!;
    expect(line).toContain(`Listening on port ${port} (NODE_ENV development, cache mode memory)`);
    expect(line).toMatch(/INFO/);
    expect(() => JSON.parse(line)).toThrow();
  });

  it('no X-Powered-By header', async () => {
    const { port } = await started({ NODE_ENV: 'test', LOG_LEVEL: 'silent' });
    const res = await request(`http://127.0.0.1:${port}`).get('/health/live');
    expect(res.status).toBe(200);
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  it('a 500 logs its cause once, with the request id, and no meaningless stack', async () => {
    const key = 'ops-key-0123456789abcdef';
    const { app, port, logs, lineWith } = await started({ NODE_ENV: 'test', API_KEYS: `ops:admin:${key}` });
    vi.spyOn(app.get(ReadinessService), 'check').mockRejectedValue(new TypeError('readiness index is corrupt'));
    const res = await request(`http://127.0.0.1:${port}`).get('/orchestrator/readiness').set('x-api-key', key).set('x-request-id', 'five-hundred-1');
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ statusCode: 500, error: 'Internal Server Error', message: 'Internal error; it has been logged' });
    await lineWith('answered 500');
    const mine = logs.json().filter((l) => l.requestId === 'five-hundred-1');
    const cause = mine.filter((l) => JSON.stringify(l).includes('readiness index is corrupt'));
    expect(cause).toHaveLength(1);
    expect(cause[0]).toMatchObject({ level: 'error', context: 'HttpErrorFilter' });
    expect(cause[0].msg).toContain('TypeError');
    const response = mine.find((l) => l.res?.statusCode === 500)!;
    expect(response).toMatchObject({ level: 'error', msg: 'GET /orchestrator/readiness answered 500' });
    expect(response.err).toBeUndefined();
    expect(logs.lines.join('\n')).not.toMatch(/failed with status code|"stack"|\n\s+at /);
    expect(logs.lines.join('\n')).not.toContain(key);
  });
});

describe('LOG_LEVEL=silent keeps the output empty', () => {
  it('writes nothing for requests, errors or app log lines', async () => {
    const lines: string[] = [];
    const restore = setLogDestination({ write: (s: string) => void lines.push(s) });
    const t = await createTestApp({ LOG_LEVEL: 'silent' });
    try {
      await request(t.http).get('/no-such-route');
      new NestLogger('Quiet').error('should not appear');
      expect(lines).toEqual([]);
    } finally {
      await t.close();
      restore();
    }
  });
});

/** Handlers that take a @Body(), as `method /openapi/path`, read from Nest's own route metadata. */
function routesWithBody(t: TestApp): Set<string> {
  const out = new Set<string>();
  for (const mod of t.app.get(ModulesContainer).values()) {
    for (const wrapper of mod.controllers.values()) {
      const ctrl = wrapper.metatype as (new (...a: never[]) => unknown) | null;
      if (!ctrl) continue;
      const prefixes = [Reflect.getMetadata(PATH_METADATA, ctrl) ?? ''].flat() as string[];
      for (const name of Object.getOwnPropertyNames(ctrl.prototype)) {
        const handler = (ctrl.prototype as Record<string, unknown>)[name];
        if (typeof handler !== 'function' || name === 'constructor') continue;
        const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
        if (method === undefined) continue;
        const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, ctrl, name) ?? {}) as Record<string, unknown>;
        if (!Object.keys(args).some((k) => k.split(':')[0] === String(RouteParamtypes.BODY))) continue;
        const paths = [Reflect.getMetadata(PATH_METADATA, handler) ?? ''].flat() as string[];
        for (const prefix of prefixes) {
          for (const p of paths) {
            const full = `/${[prefix, p].filter(Boolean).join('/')}`.replace(/\/+/g, '/').replace(/(.)\/$/, '$1');
            out.add(`${RequestMethod[method].toLowerCase()} ${toOpenApiPath(full)}`);
          }
        }
      }
    }
  }
  return out;
}

describe('OpenAPI document at /docs', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({});
  });
  afterAll(() => t.close());

  it('serves the UI at /docs and the JSON at /docs-json with the x-api-key scheme', async () => {
    const ui = await request(t.http).get('/docs/');
    expect(ui.status).toBe(200);
    expect(ui.text).toContain('swagger');
    const doc = (await request(t.http).get('/docs-json')).body;
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.components.securitySchemes['api-key']).toEqual(expect.objectContaining({ type: 'apiKey', in: 'header', name: 'x-api-key' }));
  });

  /** What is wrong with the documentation of each route; empty when every route is documented. */
  async function documentationProblems(only?: (path: string) => boolean): Promise<string[]> {
    const doc = (await request(t.http).get('/docs-json')).body as { paths: Record<string, Record<string, any>> };
    const routes = registeredRoutes(t).filter((r) => !only || only(r.path));
    const withBody = routesWithBody(t);
    const problems: string[] = [];
    for (const { method, path } of routes) {
      const op = doc.paths[path]?.[method];
      const where = `${method.toUpperCase()} ${path}`;
      if (!op) {
        problems.push(`${where}: missing from the OpenAPI document`);
        continue;
      }
      if (!op.summary) problems.push(`${where}: no @ApiOperation({ summary })`);
      const described = Object.entries(op.responses ?? {}).filter(([, r]: [string, any]) => r.description);
      if (!described.some(([code]) => code.startsWith('2'))) {
        problems.push(`${where}: no described 2xx response (@ApiOkResponse or ApiZodResponse)`);
      }
      const schema = op.requestBody?.content?.['application/json']?.schema;
      if (withBody.has(`${method} ${path}`) && !op.requestBody) {
        problems.push(`${where}: takes a body but documents none (use ApiZodBody(schema) from src/common/openapi.ts)`);
      } else if (op.requestBody && !(schema?.properties || schema?.$ref || schema?.oneOf || schema?.anyOf || schema?.allOf || schema?.items)) {
        problems.push(`${where}: body has no schema (use ApiZodBody(schema) from src/common/openapi.ts)`);
      }
    }
    // And nothing documented that the app does not serve.
    const served = new Set(registeredRoutes(t).map((r) => `${r.method} ${r.path}`));
    for (const [path, ops] of Object.entries(doc.paths)) {
      if (only && !only(path)) continue;
      for (const method of Object.keys(ops)) {
        if (!served.has(`${method} ${path}`)) problems.push(`${method.toUpperCase()} ${path}: documented but not served`);
      }
    }
    return problems;
  }

  it('documents the probes and /metrics fully', async () => {
    const ours = (p: string) => p.startsWith('/health/') || p === '/metrics';
    expect(registeredRoutes(t).filter((r) => ours(r.path))).toHaveLength(4);
    expect(await documentationProblems(ours)).toEqual([]);
  });

  it('documents every route the app registers, each with a summary, a described 2xx response and a real body schema', async () => {
    expect(registeredRoutes(t).length).toBeGreaterThanOrEqual(4);
    expect(await documentationProblems()).toEqual([]);
  });

  it('gives each 2xx a body schema, each error an example of its own status, each body a realistic example', async () => {
    const doc = (await request(t.http).get('/docs-json')).body as { info: { description: string }; paths: Record<string, Record<string, any>> };
    const problems: string[] = [];
    const bodySchemas: Record<string, { safeParse(v: unknown): { success: boolean } }> = {
      'put /sharekhan/users/{userId}/token': submitTokenSchema,
      'post /orchestrator/orders': placeOrderBodySchema,
      'post /orchestrator/signals': signalBodySchema,
    };
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const where = `${method} ${path}`;
        for (const [code, res] of Object.entries(op.responses ?? {}) as [string, any][]) {
          const [type, content] = Object.entries(res.content ?? {})[0] ?? [];
          const schema = (content as any)?.schema;
          if (code.startsWith('2')) {
            const typed = type?.startsWith('text/') ? schema?.type === 'string' : Boolean(schema?.properties || schema?.items || schema?.$ref);
            if (!typed) problems.push(`${where} ${code}: no response schema`);
          } else if (Number(code) >= 400 && !path.startsWith('/health/')) {
            if (schema?.example?.statusCode !== Number(code)) problems.push(`${where} ${code}: example is ${JSON.stringify(schema?.example?.statusCode)}`);
            if (typeof schema?.example?.message !== 'string') problems.push(`${where} ${code}: example has no message`);
          }
        }
        if (op.requestBody) {
          const example = op.requestBody.content?.['application/json']?.schema?.example;
          if (!example) problems.push(`${where}: request body without a hand-written example`);
          else if (!bodySchemas[where]) problems.push(`${where}: example not checked by this test (add its schema)`);
          else if (!bodySchemas[where].safeParse(example).success) problems.push(`${where}: example is not a valid body`);
        }
        for (const param of op.parameters ?? []) {
          if (param.in === 'path' && (param.example ?? param.schema?.example) === undefined) problems.push(`${where}: path parameter ${param.name} without an example`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(doc.paths['/orchestrator/orders'].post.responses['412'].content['application/json'].schema.example).toMatchObject({ code: 'TOKEN_MISSING', outcome: 'not_placed' });
    // Pages a browser can open, never a path inside the repository.
    expect(doc.info.description).not.toMatch(/docs\/|src\/|\.md\b/);
  });
});

describe('Kubernetes manifests under deploy/', () => {
  const dir = join(import.meta.dirname, '..', 'deploy');
  const docs = readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .flatMap((f) =>
      readFileSync(join(dir, f), 'utf8')
        .split(/^---\s*$/m)
        .filter((s) => s.trim())
        .map((s) => ({ file: f, doc: parseYaml(s) as Record<string, any> })),
    );
  const byKind = (kind: string) => docs.filter((d) => d.doc?.kind === kind).map((d) => d.doc);

  it('parse, and hold a Deployment, a Service and a Secret', () => {
    expect(byKind('Deployment')).toHaveLength(1);
    expect(byKind('Service').length).toBeGreaterThanOrEqual(1);
    expect(byKind('Secret').length).toBeGreaterThanOrEqual(1);
  });

  it('probe the app on paths it serves, with graceful termination', async () => {
    const deployment = byKind('Deployment')[0];
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    expect(container.livenessProbe.httpGet.path).toBe('/health/live');
    expect(container.readinessProbe.httpGet.path).toBe('/health/ready');
    expect(container.startupProbe.httpGet.path).toBe('/health/startup');
    expect(container.lifecycle.preStop).toBeDefined();
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(0);
    expect(container.resources.requests).toBeDefined();
    expect(container.resources.limits).toBeDefined();

    const t = await createTestApp({});
    try {
      for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
        const res = await request(t.http).get(container[probe].httpGet.path);
        expect(res.status, `${probe} ${container[probe].httpGet.path}`).toBe(200);
      }
    } finally {
      await t.close();
    }
    // The Service and the probes point at the port the container exposes.
    const portName = container.ports[0].name;
    expect([portName, container.ports[0].containerPort]).toContain(container.readinessProbe.httpGet.port);
    const service = byKind('Service')[0];
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
    expect([portName, container.ports[0].containerPort]).toContain(service.spec.ports[0].targetPort);
  });

  it('reference only environment variables the app knows, from a Secret and ConfigMap that exist', () => {
    const sections = Object.values(configSections);
    const known = new Set(sections.flatMap((s) => Object.keys(s.schema.shape)));
    const patterns = sections.flatMap((s) => s.secretPatterns ?? []);
    const isKnown = (name: string) => known.has(name) || patterns.some((p) => p.test(name));
    const referenced = new Set<string>();
    for (const d of byKind('Deployment')) {
      for (const c of d.spec.template.spec.containers) {
        for (const e of c.env ?? []) referenced.add(e.name);
        for (const from of c.envFrom ?? []) {
          const [kind, ref] = from.secretRef ? ['Secret', from.secretRef] : ['ConfigMap', from.configMapRef];
          expect(byKind(kind).map((x) => x.metadata.name), `${kind} ${ref.name}`).toContain(ref.name);
        }
      }
    }
    for (const kind of ['Secret', 'ConfigMap']) {
      for (const d of byKind(kind)) for (const k of Object.keys({ ...d.data, ...d.stringData })) referenced.add(k);
    }
    expect(referenced.size).toBeGreaterThan(0);
    expect([...referenced].filter((name) => !isKnown(name))).toEqual([]);
  });

  it('set what a production pod cannot start or trade without: Redis, TRADING_USERS, SHAREKHAN_REDIRECT_URL', () => {
    const settings = Object.assign({}, ...[...byKind('ConfigMap'), ...byKind('Secret')].map((d) => ({ ...d.data, ...d.stringData })));
    expect(settings.NODE_ENV).toBe('production');
    expect(Object.keys(settings)).toEqual(expect.arrayContaining(['TRADING_USERS', 'SHAREKHAN_REDIRECT_URL', 'REDIS_URL', 'TOKEN_ENCRYPTION_KEYS']));
    expect(settings.SHAREKHAN_REDIRECT_URL).toMatch(/^https:\/\/.+\/sharekhan\/callback$/);
  });

  it('keep the cache snapshot file on a writable volume of the pod, encrypted (nothing acknowledged is lost across a restart)', () => {
    const settings = Object.assign({}, ...[...byKind('ConfigMap'), ...byKind('Secret')].map((d) => ({ ...d.data, ...d.stringData })));
    expect(settings.CACHE_SNAPSHOT_KEY).toBeDefined();
    const pod = byKind('Deployment')[0].spec.template.spec;
    const mount = pod.containers[0].volumeMounts.find((m: { mountPath: string }) => String(settings.CACHE_SNAPSHOT_PATH).startsWith(`${m.mountPath}/`));
    expect(mount, `a volume mounted above ${settings.CACHE_SNAPSHOT_PATH}`).toBeDefined();
    expect(mount.readOnly ?? false).toBe(false);
    expect(pod.volumes.map((v: { name: string }) => v.name)).toContain(mount.name);
  });

    it('run an image the repository builds: a multi-stage, non-root Node 24 Dockerfile named as in the README', () => {
    const root = join(import.meta.dirname, '..');
    const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
    const instructions = dockerfile
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => {
        const [op, ...rest] = l.split(/\s+/);
        return { op: op.toUpperCase(), args: rest.join(' ') };
      });
    const stages = instructions.filter((i) => i.op === 'FROM').map((i) => i.args);
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const from of stages) expect(from).toMatch(/^node:24[-.\w]* AS \w+$/i);
    const runs = instructions.filter((i) => i.op === 'RUN').map((i) => i.args).join(' && ');
    for (const step of ['npm ci', 'npm run build', 'npm prune --omit=dev']) expect(runs).toContain(step);
    // The last stage runs as the numeric non-root user the Deployment demands, and starts dist/main.
    const last = instructions.slice(instructions.findLastIndex((i) => i.op === 'FROM'));
    const pod = byKind('Deployment')[0].spec.template.spec;
    const user = last.filter((i) => i.op === 'USER').at(-1)?.args ?? 'root';
    expect(user.split(':')[0]).toBe(String(pod.securityContext.runAsUser));
    expect(last.some((i) => i.op === 'COPY' && i.args.includes('--from='))).toBe(true);
    expect(last.find((i) => i.op === 'CMD')?.args).toBe('["node", "dist/main"]');
    const ignored = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '.git']));

    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const built = /docker build -t (\S+) \./.exec(readme)?.[1];
    expect(built).toBeDefined();
    expect(pod.containers[0].image).toBe(built);
    // start:prod runs the compiled dist/: the README says to build first.
    const build = readme.indexOf('npm run build');
    expect(build).toBeGreaterThan(-1);
    expect(readme.indexOf('start:prod', build)).toBeGreaterThan(build);
  });
});
