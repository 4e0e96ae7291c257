import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Test } from '@nestjs/testing';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from '../../src/app.module.js';
import { configureApp } from '../../src/app.setup.js';
import { CacheService } from '../../src/cache/cache.service.js';
import { loadConfig } from '../../src/config/load-config.js';
import { tokenFingerprint } from '../../src/sharekhan/tokens/token-crypto.js';
import { TokenClock } from '../../src/sharekhan/tokens/token-clock.js';
import { startFakeShareKhan, type FakeShareKhan } from '../helpers/fake-sharekhan.js';
import { startRedis, type RedisProcess } from '../helpers/redis-server.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { fleetBounds, fleetTokenTrust, FLEET_SETTINGS } from './bounds.js';
import { check, type CheckResult } from './checker.js';
import { Generator, type Plan } from './generator.js';
import { HistoryRecorder, type Bounds, type FinalRead, type History, type Op, type OpKind, type OpOutcome, type Stall } from './history.js';
import { healAll, inject, planFault, REDIS_ARGS, type FleetControls } from './nemesis.js';
import { Prng } from './prng.js';
import { healToFirstPlaced, refusalShare, type HealToPlaced } from './recovery-figures.js';
import { SAMPLE_ORDER } from '../fixtures/orders.js';

/**
 * One fleet run: a real redis-server (AOF, so it can come back with or without its data), the
 * fake ShareKhan, three app replicas in this process, each listening on its own HTTP port and
 * reaching Redis through its own TCP fault proxy, a seeded workload over HTTP and a seeded
 * nemesis. Afterwards all faults are healed, every replica is read, and the checker judges.
 */

export interface FleetOptions {
  seed: number;
  /** How long the workload and the nemesis run (the heal and final reads come after). */
  durationMs: number;
  replicas?: number;
  clients?: number;
  /** Extra app environment for every replica, e.g. ORCHESTRATOR_IDEMPOTENCY_WHEN_UNAVAILABLE. */
  env?: Record<string, string>;
  log?: (line: string) => void;
}

export interface FleetRun {
  history: History;
  result: CheckResult;
  bounds: Bounds;
  figures: Figures;
  /** POST /orders requests the fake received by its general request log: the broker record must hold them all. */
  brokerRequests: number;
}

export interface Figures {
  seed: number;
  wallMs: number;
  opsByKind: Record<string, number>;
  opsByOutcome: Record<OpOutcome, number>;
  faultsByKind: Record<string, number>;
  brokerAttempts: number;
  brokerPlaced: number;
  cacheCalls: number;
  /** Per-user results of signals and orders by code (placed, TOKEN_MISSING, SIGNAL_IN_PROGRESS, ...). */
  resultsByCode: Record<string, number>;
  /** Share of per-user signal results refused as IDEMPOTENCY_UNAVAILABLE (issue 19). */
  refusal: ReturnType<typeof refusalShare>;
  /** Time from each fault's heal to the first signal order the broker accepted (issue 19). */
  healToPlaced: HealToPlaced;
}

const USERS: Record<string, string> = {
  FLEET_USER_1: 'C101',
  FLEET_USER_2: 'C102',
  FLEET_USER_3: 'C103',
  FLEET_USER_4: 'C104',
};

/** Each order's tradingSymbol is set to its signal or order id, so the broker's record tells them apart. */
const ORDER = SAMPLE_ORDER;

/** Far above every bound, so a hung operation is recorded with how long it really hung. */
const CLIENT_TIMEOUT_MS = 30_000;
const CONVERGE_TIMEOUT_MS = 20_000;
const CLOSE_TIMEOUT_MS = 5_000;
/** A crashed replica's app is closed with Redis cut off, so its cache calls fail within timeouts. */
const CRASH_CLOSE_TIMEOUT_MS = 15_000;
const STALL_TICK_MS = 10;
const STALL_MS = 40;
const CACHE_METHODS = ['get', 'exists', 'read', 'set', 'setIfAbsent', 'delete'] as const;

interface Replica {
  app: NestExpressApplication;
  url: string;
  cache: CacheService;
}

export async function runFleet(opts: FleetOptions): Promise<FleetRun> {
  const log = opts.log ?? (() => {});
  const replicaCount = opts.replicas ?? 3;
  const started = Date.now();
  const rng = new Prng(opts.seed);
  const nemesisRng = rng.fork(0x6e656d);
  const bounds = fleetBounds();
  const rec = new HistoryRecorder();
  const adminKey = `fleet-${randomBytes(12).toString('hex')}`;
  const skApiKey = `skapi-${randomBytes(8).toString('hex')}`;
  const secretKey = randomBytes(16).toString('hex');
  const redisDir = mkdtempSync(join(tmpdir(), 'fleet-redis-'));
  // Each replica's snapshot file, kept across its restarts (a pod's volume): docs/operations.md.
  const snapshotDir = mkdtempSync(join(tmpdir(), 'fleet-snapshots-'));
  const cleanups: (() => Promise<unknown>)[] = [async () => rmSync(redisDir, { recursive: true, force: true }), async () => rmSync(snapshotDir, { recursive: true, force: true })];
  const tokens = new Map<string, string>(); // fingerprint → user id
  const stalls = watchEventLoop();
  cleanups.push(async () => stalls.stop());

  try {
    const redis: RedisProcess = await startRedis({ dir: redisDir, args: REDIS_ARGS });
    // What faults started (a promoted replica and its link) stops with the first Redis, after the replicas.
    const faultCleanups: (() => Promise<unknown>)[] = [];
    cleanups.unshift(async () => {
      await redis.stop();
      for (const c of faultCleanups) await c().catch(() => {});
    });
    const fake: FakeShareKhan = await startFakeShareKhan({ secretKey, apiKey: skApiKey });
    cleanups.unshift(() => fake.close());
    // A little broker latency widens the races between an order and a token change.
    fake.setLatency(FLEET_SETTINGS.brokerLatencyMs, '/orders');
    const proxies: TcpProxy[] = [];
    for (let i = 0; i < replicaCount; i++) proxies.push(await startTcpProxy(redis.port));
    cleanups.unshift(async () => Promise.all(proxies.map((p) => p.close())));

    const offsets: number[] = Array.from({ length: replicaCount }, () => 0);
    const generation: number[] = Array.from({ length: replicaCount }, () => 0);
    const replicas: (Replica | undefined)[] = Array.from({ length: replicaCount }, () => undefined);
    const baseEnv = {
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DOCS_ENABLED: 'false',
      CACHE_KEY_PREFIX: `fleet-${opts.seed}:`,
      CACHE_COMMAND_TIMEOUT_MS: String(FLEET_SETTINGS.commandTimeoutMs),
      CACHE_L1_ENABLED: 'true',
      SHAREKHAN_API_BASE_URL: fake.baseUrl,
      SHAREKHAN_API_KEY: skApiKey,
      SHAREKHAN_SECRET_KEY: secretKey,
      TOKEN_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
      API_KEYS: `fleet:admin:${adminKey}`,
      API_RATE_LIMIT: '1000000',
      TRADING_USERS: Object.entries(USERS).map(([u, c]) => `${u}:live:${c}:L${c}`).join(','),
      CACHE_SNAPSHOT_KEY: randomBytes(32).toString('base64'),
      ...opts.env,
    };

    const snapshotPath = (i: number) => join(snapshotDir, `replica-${i}.snap`);
    const startReplica = async (i: number): Promise<void> => {
      const clock = () => Date.now() + offsets[i];
      const config = loadConfig({ ...baseEnv, REDIS_URL: proxies[i].url, CACHE_SNAPSHOT_PATH: snapshotPath(i) });
      // Module options with no variable: the fleet's timeouts, a trail that keeps a whole run, one id per replica.
      config.orchestrator.orderTimeoutMs = FLEET_SETTINGS.orderTimeoutMs;
      config.orchestrator.fanoutConcurrency = FLEET_SETTINGS.fanoutConcurrency;
      // The fake broker has no rate limit, and the fleet's bounds judge the cache, not the broker's pacing.
      config.orchestrator.brokerOrdersPerSecond = 1_000;
      config.sharekhan.audit = { ...config.sharekhan.audit, maxEvents: 5_000 };
      config.sharekhan.unconfirmedTokenUseMs = FLEET_SETTINGS.unconfirmedTokenUseMs;
      // The injection point of a replica's clock: the cache's option and the token clock.
      const skewed = { ...config, cache: { ...config.cache, instanceId: `f${i}g${generation[i]++}`, clock } };
      const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(skewed)] })
        .overrideProvider(TokenClock)
        .useValue({ now: clock })
        .compile();
      const app = moduleRef.createNestApplication<NestExpressApplication>({ bodyParser: false });
      configureApp(app, skewed);
      await app.listen(0, '127.0.0.1');
      const cache = app.get(CacheService);
      timeCacheCalls(cache, i, rec, bounds.cacheOpMs * 0.8);
      replicas[i] = { app, url: await app.getUrl(), cache };
    };
    const stopReplica = async (i: number): Promise<void> => {
      const r = replicas[i];
      replicas[i] = undefined;
      if (r) await Promise.race([r.app.close(), sleep(CLOSE_TIMEOUT_MS)]);
    };
    /**
     * A SIGKILL, simulated: replicas share this process (the nemesis skews their clocks and times
     * their cache calls), so the app cannot be killed alone. At the moment of death its Redis link
     * is cut (Redis hears nothing more from it), its open requests are reset, and its files (the
     * snapshot, the write-ahead file, its roll-call name) are put back as they were on disk then,
     * after close() ran its shutdown work against a cut link.
     * Not simulated: a broker order its request handler had already begun may still be sent.
     */
    const crashReplica = async (i: number, downMs: number): Promise<void> => {
      const r = replicas[i];
      replicas[i] = undefined;
      if (!r) return;
      proxies[i].cut();
      const mine = () => readdirSync(snapshotDir).filter((name) => name.startsWith(`replica-${i}.snap`));
      const onDisk = new Map(mine().map((name) => [name, readFileSync(join(snapshotDir, name))]));
      (r.app.getHttpServer() as Server).closeAllConnections();
      await Promise.race([r.app.close(), sleep(CRASH_CLOSE_TIMEOUT_MS)]);
      for (const name of mine()) rmSync(join(snapshotDir, name), { force: true });
      for (const [name, bytes] of onDisk) writeFileSync(join(snapshotDir, name), bytes);
      proxies[i].restore();
      await sleep(downMs);
      await startReplica(i);
    };
    cleanups.unshift(async () => {
      for (let i = 0; i < replicaCount; i++) await stopReplica(i);
    });
    for (let i = 0; i < replicaCount; i++) await startReplica(i);
    log(`fleet seed=${opts.seed}: redis :${redis.port}, replicas ${replicas.map((r) => r?.url).join(' ')}`);

    const controls: FleetControls = {
      redis,
      redisDir,
      newRedisDir: () => {
        const dir = mkdtempSync(join(tmpdir(), 'fleet-redis-'));
        cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
        return dir;
      },
      onCleanup: (fn) => faultCleanups.push(fn),
      proxies,
      crashReplica,
      restartReplica: async (i, downMs) => {
        await stopReplica(i);
        await sleep(downMs);
        await startReplica(i);
      },
      setClockOffset: (i, ms) => {
        offsets[i] = ms;
      },
    };

    const http = async (replica: number, method: string, path: string, body?: unknown) => {
      const r = replicas[replica];
      const invokeAt = Date.now();
      if (!r) return { invokeAt, completeAt: invokeAt, status: null, outcome: 'fail' as const, body: 'replica down (restarting)' };
      try {
        const res = await fetch(`${r.url}${path}`, {
          method,
          headers: { 'x-api-key': adminKey, 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS),
        });
        const text = await res.text();
        const completeAt = Date.now();
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // Not JSON: keep the text.
        }
        return { invokeAt, completeAt, status: res.status, outcome: outcomeOf(res.status, parsed), body: parsed };
      } catch (err) {
        const completeAt = Date.now();
        const code = (err as { cause?: { code?: string } }).cause?.code;
        // Refused: the request never reached a server, so nothing happened.
        return { invokeAt, completeAt, status: null, outcome: code === 'ECONNREFUSED' ? ('fail' as const) : ('info' as const), body: `${(err as Error).name}: ${code ?? (err as Error).message}` };
      }
    };

    const record = (kind: OpKind, replica: number, extra: Partial<Op>, r: Awaited<ReturnType<typeof http>>) => {
      rec.op({ id: rec.newId(), kind, replica, ...extra, ...r });
    };

    const execute = async (plan: Plan): Promise<void> => {
      switch (plan.kind) {
        case 'token.submit': {
          const token = fake.issueAccessToken(USERS[plan.userId]);
          if (plan.brokerDead) fake.revoke(token);
          const fingerprint = tokenFingerprint(token);
          tokens.set(fingerprint, plan.userId);
          const r = await http(plan.replica, 'PUT', `/sharekhan/users/${plan.userId}/token`, { accessToken: token });
          return record(plan.kind, plan.replica, { userId: plan.userId, fingerprint, brokerDead: plan.brokerDead }, r);
        }
        case 'token.revoke':
          return record(plan.kind, plan.replica, { userId: plan.userId }, await http(plan.replica, 'DELETE', `/sharekhan/users/${plan.userId}/token`));
        case 'token.read':
          return record(plan.kind, plan.replica, { userId: plan.userId }, await http(plan.replica, 'GET', `/sharekhan/users/${plan.userId}/token`));
        case 'orders.read':
          return record(plan.kind, plan.replica, { userId: plan.userId }, await http(plan.replica, 'GET', `/orchestrator/users/${plan.userId}/orders`));
        case 'audit.read':
          return record(plan.kind, plan.replica, { userId: plan.userId }, await http(plan.replica, 'GET', `/sharekhan/users/${plan.userId}/audit`));
        case 'order': {
          const r = await http(plan.replica, 'POST', '/orchestrator/orders', { userId: plan.userId, order: { ...ORDER, tradingSymbol: plan.orderId } });
          // A 504 (or 500) says the order's outcome is unknown: it may have been placed.
          return record(plan.kind, plan.replica, { userId: plan.userId, signalId: plan.orderId }, r);
        }
        case 'signal': {
          const users = plan.users === 'all' ? Object.keys(USERS) : plan.users;
          const body = { signalId: plan.signalId, users: plan.users, order: { ...ORDER, tradingSymbol: plan.signalId } };
          let previous: Promise<void> = Promise.resolve();
          const all: Promise<void>[] = [];
          for (const a of plan.attempts) {
            if (a.afterAnswer) await previous;
            if (a.delayMs > 0) await sleep(a.delayMs);
            previous = http(a.replica, 'POST', '/orchestrator/signals', body).then((r) => record('signal', a.replica, { signalId: plan.signalId, users }, r));
            all.push(previous);
          }
          await Promise.all(all);
          return;
        }
      }
    };

    // Workload and nemesis run side by side until the deadline.
    const readyAt = Date.now();
    const deadline = Date.now() + opts.durationMs;
    const clientCount = opts.clients ?? FLEET_SETTINGS.clients;
    const clients = Array.from({ length: clientCount }, async (_, c) => {
      const gen = new Generator(rng.fork(c + 1), Object.keys(USERS), replicaCount, `c${c}`);
      while (Date.now() < deadline) {
        await execute(gen.next());
        await sleep(gen.thinkMs());
      }
    });
    const nemesis = (async () => {
      await sleep(FLEET_SETTINGS.quietStartMs);
      while (true) {
        const f = planFault(nemesisRng, replicaCount);
        if (Date.now() + f.gapMs + f.durationMs > deadline - FLEET_SETTINGS.quietEndMs) break;
        await sleep(f.gapMs);
        rec.fault(await inject(f, controls));
      }
    })();
    await Promise.all([...clients, nemesis]);

    await healAll(controls);
    for (let i = 0; i < replicaCount; i++) if (!replicas[i]) await startReplica(i);
    await waitConverged(replicas);
    const final = await finalReads(replicaCount, http);

    const history: History = {
      seed: opts.seed,
      tokenTrust: fleetTokenTrust(),
      startedAt: started,
      readyAt,
      endedAt: Date.now(),
      users: USERS,
      ops: rec.ops.sort((a, b) => a.invokeAt - b.invokeAt),
      faults: rec.faults,
      broker: fake.orderAttempts.map((a) => {
        const fingerprint = a.accessToken ? tokenFingerprint(a.accessToken) : '';
        return {
          at: a.at,
          customerId: a.customerId,
          tokenUserId: tokens.get(fingerprint) ?? null,
          tokenFingerprint: fingerprint,
          tokenCustomerId: a.tokenCustomerId,
          tradingSymbol: a.tradingSymbol,
          status: a.status,
          orderId: a.orderId,
        };
      }),
      final,
      cacheSamples: rec.cacheSamples,
      cacheOpCount: rec.cacheOpCount,
      stalls: stalls.list,
    };
    const result = check(history, bounds);
    return { history, result, bounds, figures: figuresOf(history, Date.now() - started), brokerRequests: fake.requestsTo('POST', '/orders').length };
  } finally {
    for (const c of cleanups) await c().catch(() => {});
  }
}

function outcomeOf(status: number, body: unknown): OpOutcome {
  if (status >= 200 && status < 300) return 'ok';
  // 500: our bug, 504: the order's outcome is unknown; either may have had an effect.
  if (status === 500 || status === 504) return 'info';
  // A revoke in effect on its replica and journaled there: not acknowledged, but it lands on replay.
  if (status === 503 && (body as { code?: string } | null)?.code === 'REVOKE_NOT_CONFIRMED') return 'info';
  return 'fail';
}

/** Times every call into the replica's CacheService, the documented 250 ms bound's subject. */
function timeCacheCalls(cache: CacheService, replica: number, rec: HistoryRecorder, keepAboveMs: number): void {
  const target = cache as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const method of CACHE_METHODS) {
    const original = target[method].bind(cache);
    target[method] = async (...args: unknown[]) => {
      const at = Date.now();
      const t0 = performance.now();
      try {
        return await original(...args);
      } finally {
        rec.cacheCall({ replica, method, ms: performance.now() - t0, at }, keepAboveMs);
      }
    };
  }
}

/** Records every time a 10 ms timer fired more than STALL_MS late: the loop stood still that long. */
function watchEventLoop(): { list: Stall[]; stop(): void } {
  const list: Stall[] = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    const late = now - last - STALL_TICK_MS;
    if (late > STALL_MS) list.push({ at: Date.now(), ms: Math.round(late) });
    last = now;
  }, STALL_TICK_MS);
  return { list, stop: () => clearInterval(timer) };
}

async function waitConverged(replicas: (Replica | undefined)[]): Promise<void> {
  const until = Date.now() + CONVERGE_TIMEOUT_MS;
  while (Date.now() < until) {
    if (replicas.every((r) => r?.cache.mode === 'redis')) break;
    await sleep(100);
  }
  // L1 invalidations and replays of the last moment.
  await sleep(1_000);
}

type HttpFn = (replica: number, method: string, path: string) => Promise<{ status: number | null; body: unknown }>;

async function finalReads(replicaCount: number, http: HttpFn): Promise<FinalRead[]> {
  const out: FinalRead[] = [];
  for (let replica = 0; replica < replicaCount; replica++) {
    for (const userId of Object.keys(USERS)) {
      const token = await http(replica, 'GET', `/sharekhan/users/${userId}/token`);
      const audit = await http(replica, 'GET', `/sharekhan/users/${userId}/audit`);
      const t = token.body as { present?: boolean | null; status?: string; fingerprint?: string } | null;
      const gone = t?.present === false || t?.status === 'revoked';
      const events = (audit.body as { events?: { action: string; fingerprint: string | null }[] } | null)?.events ?? [];
      out.push({
        replica,
        userId,
        fingerprint: token.status === 200 && !gone ? (t?.fingerprint ?? null) : null,
        status: token.status !== 200 ? `unreadable (HTTP ${token.status})` : gone ? 'none' : (t?.status ?? 'unknown'),
        audit: events.map((e) => ({ action: e.action, fingerprint: e.fingerprint })),
      });
    }
  }
  return out;
}

function resultCodes(op: Op): string[] {
  const body = op.body as { results?: { outcome?: string; code?: string }[]; outcome?: string; code?: string } | null;
  if (op.kind === 'signal') return (body?.results ?? []).map((r) => r.code ?? r.outcome ?? 'unknown');
  if (op.kind === 'order' && body && typeof body === 'object') return [body.code ?? body.outcome ?? `HTTP ${op.status}`];
  return [];
}

function figuresOf(h: History, wallMs: number): Figures {
  const count = <T extends string>(items: T[]) => items.reduce<Record<string, number>>((m, k) => ({ ...m, [k]: (m[k] ?? 0) + 1 }), {});
  return {
    seed: h.seed,
    wallMs,
    opsByKind: count(h.ops.map((o) => o.kind)),
    opsByOutcome: { ok: 0, fail: 0, info: 0, ...count(h.ops.map((o) => o.outcome)) },
    faultsByKind: count(h.faults.map((f) => f.kind)),
    brokerAttempts: h.broker.length,
    brokerPlaced: h.broker.filter((b) => b.orderId !== null).length,
    cacheCalls: h.cacheOpCount,
    resultsByCode: count(h.ops.flatMap(resultCodes)),
    refusal: refusalShare(h),
    healToPlaced: healToFirstPlaced(h),
  };
}
