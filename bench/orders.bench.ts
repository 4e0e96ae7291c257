/**
 * Live orders against the broker floor (issue 20): one app replica on a private Redis, a fake
 * ShareKhan in its own process answering each POST /orders after BROKER_MS, keep-alive everywhere.
 * The floor is a bare keep-alive POST to the same fake, measured in the same run. Run by hand:
 * `npm run bench:orders` (compiled with tsc: Nest's injection needs decorator metadata).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startRedis } from '../test/helpers/redis-server.js';

const BROKER_MS = Number(process.env.BROKER_MS ?? 30);
const SINGLE = Number(process.env.BENCH_SINGLE ?? 200);
const SIGNAL_ROUNDS = Number(process.env.BENCH_SIGNAL_ROUNDS ?? 5);
const FANOUTS = [10, 50, 200];
const L1 = process.env.BENCH_L1 === '1';
const USERS = 200;
const ADMIN_KEY = `bench-admin-${randomBytes(12).toString('hex')}`;
const SK_API_KEY = `bench-sk-${randomBytes(8).toString('hex')}`;
const SK_SECRET = randomBytes(16).toString('hex');
const ORDER = { scripCode: 2885, tradingSymbol: 'RELIANCE', exchange: 'NC', transactionType: 'B', quantity: 1, price: '2500.50', requestType: 'NEW', productType: 'INVESTMENT' };

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

async function startBroker(): Promise<{ baseUrl: string; tokens: string[]; stop(): void }> {
  const script = fileURLToPath(new URL('./orders/broker-process.js', import.meta.url));
  const child = spawn(process.execPath, [script], { env: { ...process.env, SK_SECRET, SK_API_KEY, BROKER_MS: String(BROKER_MS), CUSTOMERS: String(USERS) }, stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve));
  return { ...(JSON.parse(line) as { baseUrl: string; tokens: string[] }), stop: () => child.kill('SIGTERM') };
}

/** The bare node:http server of the "bare node:http hop" row. */
async function startBare(): Promise<{ url: string; stop(): void }> {
  const script = fileURLToPath(new URL('./orders/bare-process.js', import.meta.url));
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve));
  return { ...(JSON.parse(line) as { url: string }), stop: () => child.kill('SIGTERM') };
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function startApp(redisUrl: string, brokerUrl: string): Promise<{ url: string; stop(): void }> {
  const env = {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    REDIS_URL: redisUrl,
    SHAREKHAN_API_BASE_URL: brokerUrl,
    SHAREKHAN_API_KEY: SK_API_KEY,
    SHAREKHAN_SECRET_KEY: SK_SECRET,
    TOKEN_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    API_KEYS: `ops:admin:${ADMIN_KEY}`,
    API_RATE_LIMIT: '1000000',
    TRADING_USERS: Array.from({ length: USERS }, (_, i) => `BENCH_U${i}:live:C${i}:L${i}`).join(','),
    // BENCH_L1=1: the same with the cache's L1 near-cache on (token record and marker then read from memory).
    ...(L1 ? { CACHE_L1_ENABLED: 'true' } : {}),
  };
  const script = fileURLToPath(new URL('./orders/app-process.js', import.meta.url));
  const child = spawn(process.execPath, ['--enable-source-maps', script], { env: { ...process.env, BENCH_CONFIG: JSON.stringify(env) }, stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve));
  return { ...(JSON.parse(line) as { url: string }), stop: () => child.kill('SIGTERM') };
}

async function main(): Promise<void> {
  const loadBefore = loadavg().map((l) => Math.round(l * 100) / 100);
  const redis = await startRedis();
  const broker = await startBroker();
  // The app, the broker and this client each in a process of their own, as in production.
  const app = await startApp(redis.url, broker.baseUrl);
  const appUrl = app.url;
  const bareServer = await startBare();

  const admin = { 'x-api-key': ADMIN_KEY, 'content-type': 'application/json' };
  for (let i = 0; i < USERS; i++) {
    const res = await fetch(`${appUrl}/sharekhan/users/BENCH_U${i}/token`, { method: 'PUT', headers: admin, body: JSON.stringify({ accessToken: broker.tokens[i] }) });
    if (!res.ok) throw new Error(`token submit: ${res.status} ${await res.text()}`);
  }
  // The floor: the very POST the app sends, from this process, on a kept-alive connection.
  const bare = (i: number) =>
    fetch(`${broker.baseUrl}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', 'api-key': SK_API_KEY, 'access-token': broker.tokens[i] },
      body: JSON.stringify({ ...ORDER, customerId: `C${i}`, channelUser: `L${i}` }),
    }).then((r) => r.text());
  const single = () =>
    fetch(`${appUrl}/orchestrator/orders`, { method: 'POST', headers: admin, body: JSON.stringify({ userId: 'BENCH_U0', order: ORDER }) }).then(async (r) => {
      const body = await r.text();
      if (r.status !== 201) throw new Error(`order: ${r.status} ${body}`);
    });

  // Interleaved so both see the same machine; warm-up first.
  // The hop to the app alone: a keyless route that touches neither Redis nor the broker; and the
  // same GET to a bare node:http server, the machine's own cost of a keep-alive round trip.
  const probe = () => fetch(`${appUrl}/health/live`).then((r) => r.text());
  const bareProbe = () => fetch(`${bareServer.url}/health/live`).then((r) => r.text());
  for (let i = 0; i < 20; i++) await Promise.all([bare(0), single(), probe(), bareProbe()]);
  const floor: number[] = [];
  const live: number[] = [];
  const hop: number[] = [];
  const hopAfterOrder: number[] = [];
  const bareHop: number[] = [];
  for (let i = 0; i < SINGLE; i++) {
    floor.push(await time(() => bare(0)));
    // Right after the floor: the previous order's after-answer work (history append) is long done.
    hop.push(await time(probe));
    bareHop.push(await time(bareProbe));
    live.push(await time(single));
    // Right after an order (the only hop measured until 2026-12-08): it meets that order's history append.
    hopAfterOrder.push(await time(probe));
  }
  const rows: Record<string, unknown> = {
    '1 in flight': { floorP50: pct(floor, 50), floorP99: pct(floor, 99), appP50: pct(live, 50), appP99: pct(live, 99), addedP50: pct(live, 50) - pct(floor, 50), addedP99: pct(live, 99) - pct(floor, 99) },
    'app hop (GET /health/live)': { appP50: pct(hop, 50), appP99: pct(hop, 99) },
    'app hop right after an order': { appP50: pct(hopAfterOrder, 50), appP99: pct(hopAfterOrder, 99) },
    'bare node:http hop': { appP50: pct(bareHop, 50), appP99: pct(bareHop, 99) },
  };
  let signalNo = 0;
  for (const n of FANOUTS) {
    const users = Array.from({ length: n }, (_, i) => `BENCH_U${i}`);
    const floors: number[] = [];
    const walls: number[] = [];
    for (let r = 0; r < SIGNAL_ROUNDS; r++) {
      floors.push(await time(() => Promise.all(users.map((_, i) => bare(i)))));
      walls.push(
        await time(async () => {
          const res = await fetch(`${appUrl}/orchestrator/signals`, { method: 'POST', headers: admin, body: JSON.stringify({ signalId: `bench-${Date.now()}-${signalNo++}`, users, order: ORDER }) });
          const body = (await res.json()) as { summary: { placed: number } };
          if (body.summary.placed !== n) throw new Error(`signal to ${n}: ${JSON.stringify(body.summary)}`);
        }),
      );
    }
    rows[`signal to ${n} users`] = { floorP50: pct(floors, 50), appP50: pct(walls, 50), ratioToBroker: pct(walls, 50) / BROKER_MS, ratioToFloor: pct(walls, 50) / pct(floors, 50) };
  }
  const load = { before: loadBefore, after: loadavg().map((l) => Math.round(l * 100) / 100) };
  console.table(rows);
  console.log(`load average (1, 5, 15 min): before ${load.before.join(', ')}; after ${load.after.join(', ')}`);
  mkdirSync('bench/results', { recursive: true });
  const out = L1 ? 'bench/results/orders-l1.json' : 'bench/results/orders.json';
  writeFileSync(out, JSON.stringify({ at: new Date().toISOString(), brokerMs: BROKER_MS, l1: L1, load, rows }, null, 2) + '\n');
  app.stop();
  bareServer.stop();
  broker.stop();
  await redis.stop();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
