/**
 * HTTP speed of `GET /sharekhan/users/:id/token` against a bare route of the same Nest app, in the
 * same run (issue 13): 64 connections from autocannon, interleaved rounds, ratio per round, median
 * over rounds; once with Redis, once in memory mode. Run by hand: `npm run bench:http`
 * (method and options in bench/README.md). Compiled with tsc, not run by tsx: Nest's injection
 * needs the decorator metadata esbuild does not emit.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { Controller, Get, Module } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { AppModule } from '../src/app.module.js';
import { CacheService } from '../src/cache/index.js';
import { configureApp } from '../src/app.setup.js';
import { loadConfig, type Env } from '../src/config/load-config.js';
import { setLogDestination } from '../src/observability/logging.js';
import { startRedis } from '../test/helpers/redis-server.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const MODES = (process.env.BENCH_MODES ?? 'redis,memory').split(',');
/** The production default: the token GET writes its access-log line, probes do not. */
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? 'info';
const APP_CPU = process.env.BENCH_APP_CPU ?? '0';
/** autocannon and redis-server share the other core, so the app has one core to itself. */
const LOAD_CPU = process.env.BENCH_LOAD_CPU ?? '1';

const ADMIN_KEY = `bench-admin-${randomBytes(12).toString('hex')}`;
const USER = 'BENCH_USER_001';
const AUTOCANNON = createRequire(import.meta.url).resolve('autocannon/autocannon.js');

/** The baseline: a route with nothing of ours on it but the app-wide middleware every route gets. */
@Controller('bench')
class BareController {
  @Get('bare')
  bare() {
    return { ok: true };
  }
}

@Module({ controllers: [BareController] })
class BareModule {}

interface Subject {
  name: string;
  path: string;
  headers: Record<string, string>;
}

/**
 * The baseline gets the very request the token GET gets, API key header included, so the ratio is
 * the route's own cost; /health/live is called as probes call it, without a key.
 */
const SUBJECTS: Subject[] = [
  { name: 'bare route (same headers)', path: '/bench/bare', headers: { 'x-api-key': ADMIN_KEY } },
  { name: 'GET /health/live (no key)', path: '/health/live', headers: {} },
  { name: 'GET /sharekhan/users/:id/token', path: `/sharekhan/users/${USER}/token`, headers: { 'x-api-key': ADMIN_KEY } },
];

function pin(pid: number, cpu: string, allThreads = false): boolean {
  try {
    execFileSync('taskset', [...(allThreads ? ['-a'] : []), '-pc', cpu, String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function startApp(env: Env): Promise<{ app: NestExpressApplication; base: string }> {
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL, ...env });
  const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config), BareModule] }).compile();
  const app = moduleRef.createNestApplication<NestExpressApplication>({ bodyParser: false });
  configureApp(app, config);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { app, base: `http://127.0.0.1:${port}` };
}

interface LoadResult {
  rps: number;
  /** CPU time of this (the app's) process per request: what the app spends, whoever else shares the core. */
  cpuUs: number;
  total: number;
  ok: number;
  non2xx: number;
  errors: number;
  p50: number;
  p99: number;
}

/** One autocannon run in its own process on the load CPU; its JSON result on stdout. */
function load(url: string, headers: Record<string, string>, seconds: number): Promise<LoadResult> {
  const args = [AUTOCANNON, '-c', String(CONNECTIONS), '-d', String(seconds), '-j'];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}=${v}`);
  args.push(url);
  const cpu0 = process.cpuUsage();
  const child = spawn('taskset', ['-c', LOAD_CPU, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => {
      const cpu = process.cpuUsage(cpu0);
      if (code !== 0) return reject(new Error(`autocannon exited ${code}`));
      const r = JSON.parse(out) as {
        requests: { average: number; total: number };
        '2xx': number;
        non2xx: number;
        errors: number;
        latency: { p50: number; p99: number };
      };
      resolve({ rps: r.requests.total / seconds, cpuUs: (cpu.user + cpu.system) / Math.max(1, r.requests.total), total: r.requests.total, ok: r['2xx'], non2xx: r.non2xx, errors: r.errors, p50: r.latency.p50, p99: r.latency.p99 });
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function runMode(mode: string, redisUrl: string | null) {
  const env: Env = {
    API_KEYS: `bench:admin:${ADMIN_KEY}`,
    // A budget the bench cannot exhaust: a 429 would measure the limiter's refusal, not the route.
    API_RATE_LIMIT: '1000000',
    TOKEN_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    TRADING_USERS: `${USER}:paper::`,
    CACHE_KEY_PREFIX: `bench-http-${mode}:`,
    ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
  };
  const { app, base } = await startApp(env);
  const cache = app.get(CacheService);
  for (const until = Date.now() + 10_000; cache.mode !== mode; ) {
    if (Date.now() > until) throw new Error(`the cache is in ${cache.mode} mode, not ${mode}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const stored = await fetch(`${base}/sharekhan/users/${USER}/token`, {
    method: 'PUT',
    headers: { 'x-api-key': ADMIN_KEY, 'content-type': 'application/json' },
    body: JSON.stringify({ accessToken: `bench-token-${randomBytes(16).toString('hex')}` }),
  });
  if (stored.status !== 200) throw new Error(`token PUT answered ${stored.status}: ${await stored.text()}`);
  const check = await fetch(`${base}/sharekhan/users/${USER}/token`, { headers: { 'x-api-key': ADMIN_KEY } });
  const body = (await check.json()) as { status?: string; cacheMode?: string };
  if (check.status !== 200 || body.status !== 'active' || body.cacheMode !== mode) {
    throw new Error(`token GET answered ${check.status} ${JSON.stringify(body)} (want 200, active, cache mode ${mode})`);
  }
  // Warm-up: JIT, connection pools, the first window of the rate-limit counter.
  for (const s of SUBJECTS) await load(base + s.path, s.headers, 2);
  const rows = new Map(SUBJECTS.map((s) => [s.name, { rps: [] as number[], ratio: [] as number[], cpuUs: [] as number[], cpuRatio: [] as number[], p99: [] as number[] }]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = SUBJECTS.map((_, i) => SUBJECTS[(i + round) % SUBJECTS.length]);
    const got: Record<string, LoadResult> = {};
    for (const s of order) {
      const r = await load(base + s.path, s.headers, SECONDS);
      if (r.errors > 0 || r.non2xx > 0 || r.ok !== r.total) {
        throw new Error(`${s.name}: ${r.non2xx} non-2xx answers and ${r.errors} errors of ${r.total}; the figures would be meaningless`);
      }
      got[s.name] = r;
    }
    const base0 = got[SUBJECTS[0].name];
    const line = SUBJECTS.map((s) => {
      const r = got[s.name];
      const row = rows.get(s.name)!;
      row.rps.push(r.rps);
      row.ratio.push(r.rps / base0.rps);
      row.cpuUs.push(r.cpuUs);
      // Requests per CPU-second, relative: the throughput ratio on a core of its own.
      row.cpuRatio.push(base0.cpuUs / r.cpuUs);
      row.p99.push(r.p99);
      return `${Math.round(r.rps)} req/s ${r.cpuUs.toFixed(0)} us (${(r.rps / base0.rps).toFixed(2)}x, cpu ${(base0.cpuUs / r.cpuUs).toFixed(2)}x)`;
    });
    console.log(`  [${mode}] round ${round + 1}: ${line.join('  ')}`);
  }
  await app.close();
  const r3 = (xs: number[]) => xs.map((x) => Number(x.toFixed(3)));
  return SUBJECTS.map((s) => {
    const row = rows.get(s.name)!;
    return {
      subject: s.name,
      medianRps: Math.round(median(row.rps)),
      medianRatio: Number(median(row.ratio).toFixed(3)),
      ratios: r3(row.ratio),
      rps: row.rps.map(Math.round),
      medianCpuUsPerRequest: Number(median(row.cpuUs).toFixed(1)),
      medianCpuRatio: Number(median(row.cpuRatio).toFixed(3)),
      cpuRatios: r3(row.cpuRatio),
      medianP99Ms: median(row.p99),
    };
  });
}

async function main() {
  // Log lines are built as in production but dropped: the terminal must not be the bottleneck.
  setLogDestination({ write: () => undefined });
  const redis = await startRedis();
  const pinned = pin(process.pid, APP_CPU, true) && pin(redis.pid, LOAD_CPU);
  console.log(
    `${ROUNDS} rounds x ${SECONDS} s per subject, ${CONNECTIONS} connections, log level ${LOG_LEVEL}, ` +
      (pinned ? `app on CPU ${APP_CPU}, autocannon and redis-server on CPU ${LOAD_CPU}` : 'unpinned'),
  );
  const results: Record<string, unknown> = {};
  try {
    for (const mode of MODES) {
      const rows = await runMode(mode, mode === 'redis' ? redis.url : null);
      results[mode] = rows;
      console.log(`${mode} mode, median over ${ROUNDS} rounds (ratios to the bare route in the same round):`);
      for (const r of rows) {
        console.log(
          `  ${r.subject.padEnd(32)} ${String(r.medianRps).padStart(6)} req/s ${r.medianRatio.toFixed(2)}x [${r.ratios.join(', ')}]` +
            `  ${r.medianCpuUsPerRequest} us CPU/req ${r.medianCpuRatio.toFixed(2)}x [${r.cpuRatios.join(', ')}]  p99 ${r.medianP99Ms} ms`,
        );
      }
    }
  } finally {
    await redis.stop();
  }
  const out = process.env.BENCH_OUT ?? 'bench/results/http.json';
  writeFileSync(out, JSON.stringify({ at: new Date().toISOString(), node: process.version, rounds: ROUNDS, seconds: SECONDS, connections: CONNECTIONS, logLevel: LOG_LEVEL, results }, null, 2));
  console.log(`written to ${out}`);
}

main().catch((err: Error) => {
  console.error(err);
  process.exit(1);
});
