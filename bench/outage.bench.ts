/**
 * Redis outage under load: CacheService against the caches a user would pick instead, each with
 * the same load and the same outage (SIGKILL, ~5 s down, restart empty on the same port).
 * Run by hand: `npm run bench:outage` (see bench/README.md for what every figure means).
 * Anchors come from bench/anchors (their own package: ioredis v5 there, v6 here).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import { CacheService } from '../src/cache/cache.service.js';
import { decodeRecord } from '../src/cache/core/cache-codec.js';
import type { CacheMode } from '../src/cache/core/cache.types.js';
import { startRedis, type RedisProcess } from '../test/helpers/redis-server.js';
import { sigstopRow } from './outage/sigstop.js';

Logger.overrideLogger(false);

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const CFG = {
  workers: env('OUTAGE_WORKERS', 16),
  keysPerPhase: env('OUTAGE_KEYS', 500),
  /** Each worker starts at most one op per paceMs (0: back to back, yielding with setImmediate). */
  paceMs: env('OUTAGE_PACE_MS', 2),
  /** Unmeasured load on keys of their own before the timeline starts (JIT, connections, caches). */
  warmupMs: env('OUTAGE_WARMUP_MS', 2000),
  beforeMs: env('OUTAGE_BEFORE_MS', 3000),
  downMs: env('OUTAGE_DOWN_MS', 5000),
  afterMs: env('OUTAGE_AFTER_MS', 5000),
  opCapMs: 10_000,
  settleMs: 2000,
  bucketMs: 50,
  ttlMs: 3_600_000,
  nodeCpu: process.env.OUTAGE_NODE_CPU ?? '0',
  redisCpu: process.env.OUTAGE_REDIS_CPU ?? '1',
};
const PHASES = ['pre', 'out', 'post'] as const;
type Phase = (typeof PHASES)[number];
const PROBE = '__probe__';
const TOKEN = 'x'.repeat(64);

interface Value {
  seq: number;
  token: string;
}

/** One cache under test, reduced to what the load needs. `get` resolves true on a hit. */
interface Subject {
  set(key: string, value: Value): Promise<unknown>;
  get(key: string): Promise<boolean>;
  close(): Promise<unknown>;
  mode$?: CacheService['mode$'];
  status?: () => unknown;
}
interface SubjectDef {
  name: string;
  config: string;
  make(redis: RedisProcess): Promise<Subject>;
}

// -------------------------------------------------------------- anchors (bench/anchors package)

/** Through a variable, so the anchors' own types (ioredis v5) never meet ours. */
const anchor = (path: string): Promise<any> => import(new URL(`./anchors/node_modules/${path}`, import.meta.url).href);

async function bentocache(redis: RedisProcess, failFast: boolean): Promise<Subject> {
  const { BentoCache, bentostore } = await anchor('bentocache/build/index.js');
  const { memoryDriver } = await anchor('bentocache/build/src/drivers/memory.js');
  const { redisDriver } = await anchor('bentocache/build/src/drivers/redis.js');
  // bentocache builds this same client from these options; built here only to add an error
  // listener (ioredis prints every reconnect failure otherwise). Options are ioredis v5 defaults.
  const { Redis: RedisV5 } = await anchor('ioredis/built/index.js');
  const connection = new RedisV5({ host: redis.host, port: redis.port, ...(failFast ? { commandTimeout: 250 } : {}) });
  connection.on('error', () => undefined);
  const bento = new BentoCache({
    default: 'cache',
    ...(failFast ? { l2CircuitBreakerDuration: '1s' } : {}),
    stores: { cache: bentostore().useL1Layer(memoryDriver({})).useL2Layer(redisDriver({ connection })) },
  });
  return {
    set: (key, value) => bento.set({ key, value, ttl: CFG.ttlMs }),
    get: async (key) => (await bento.get({ key })) !== undefined,
    close: async () => {
      await bento.disconnectAll();
      connection.disconnect();
    },
  };
}

async function cacheManager(redis: RedisProcess): Promise<Subject> {
  const { createCache } = await anchor('cache-manager/dist/index.mjs');
  const { createKeyv } = await anchor('@keyv/redis/dist/index.js');
  const keyv = createKeyv(redis.url);
  // Errors are reported as events; without a listener they would only add noise to the output.
  keyv.on('error', () => undefined);
  keyv.store.on?.('error', () => undefined);
  const cache = createCache({ stores: [keyv] });
  return {
    set: (key, value) => cache.set(key, value, CFG.ttlMs),
    get: async (key) => (await cache.get(key)) != null,
    close: () => cache.disconnect(),
  };
}

const SUBJECTS: SubjectDef[] = [
  {
    name: 'ours',
    config: 'CacheService, default options (commandTimeoutMs 250, breaker 3 timeouts, reconnect 50-500 ms)',
    async make(redis) {
      const cache = new CacheService({ redis: { kind: 'standalone', host: redis.host, port: redis.port }, keyPrefix: 'o:' });
      await cache.onModuleInit();
      if (!(await cache.connect(5000))) throw new Error('CacheService did not reach redis mode');
      return {
        set: (key, value) => cache.set(key, value, { ttlMs: CFG.ttlMs }),
        get: async (key) => (await cache.read(key)).state === 'hit',
        close: () => cache.onApplicationShutdown(),
        mode$: cache.mode$,
        status: () => cache.getStatus(),
      };
    },
  },
  {
    name: 'ioredis',
    config: 'raw ioredis v6, default options, JSON values',
    async make(redis) {
      const raw = new Redis({ host: redis.host, port: redis.port });
      raw.on('error', () => undefined);
      return {
        set: (key, value) => raw.set(key, JSON.stringify(value), 'PX', CFG.ttlMs),
        get: async (key) => {
          const v = await raw.get(key);
          return v !== null && JSON.parse(v) !== null;
        },
        close: async () => raw.disconnect(),
      };
    },
  },
  {
    name: 'bentocache',
    config: 'bentocache 1.6 memory L1 + Redis L2 (ioredis v5), default options',
    make: (redis) => bentocache(redis, false),
  },
  {
    name: 'bentocache-ff',
    config: 'bentocache tuned to fail fast: l2CircuitBreakerDuration 1s, ioredis commandTimeout 250 ms',
    make: (redis) => bentocache(redis, true),
  },
  {
    name: 'cache-manager',
    config: 'cache-manager 7 with one @keyv/redis 5 store (node-redis), default options',
    make: (redis) => cacheManager(redis),
  },
];

// -------------------------------------------------------------- helpers

const now = () => performance.now();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The load's shape on `warm:` keys, which no result counts. */
async function warmUp(subject: Subject): Promise<void> {
  const end = now() + CFG.warmupMs;
  let n = 0;
  await Promise.all(
    Array.from({ length: CFG.workers }, async () => {
      while (now() < end) {
        const i = n++;
        const key = `warm:${i % CFG.keysPerPhase}`;
        await (i % 4 === 0 ? subject.set(key, { seq: -1, token: TOKEN }) : subject.get(key)).catch(() => undefined);
        await sleep(CFG.paceMs);
      }
    }),
  );
}
const yieldNow = () => new Promise<void>((r) => setImmediate(r));

/** taskset -a: every thread of the process (libuv pool, V8 workers, redis bio threads). */
function pin(pid: number, cpu: string): boolean {
  try {
    execFileSync('taskset', ['-a', '-pc', cpu, String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

type Outcome = 'ok' | 'error' | 'timeout';
/** A hanging client must not hang the benchmark: each op is abandoned (failed) after opCapMs. */
async function capped(p: Promise<unknown>): Promise<{ outcome: Outcome; value?: unknown }> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<{ outcome: Outcome }>((r) => (timer = setTimeout(() => r({ outcome: 'timeout' }), CFG.opCapMs)));
  const settled = p.then(
    (value) => ({ outcome: 'ok' as Outcome, value }),
    () => ({ outcome: 'error' as Outcome }),
  );
  try {
    return await Promise.race([settled, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/** Capped like an op, for set-up and tear-down calls of a subject that may hang. */
async function within<T>(ms: number, p: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

function xorshift(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

function pct(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : 0;
}

/** The seq of the benchmark value a raw Redis string holds, whatever envelope the subject adds. */
function seqOf(raw: string | null): number | null {
  if (raw === null) return null;
  const rec = decodeRecord(raw);
  let parsed: unknown;
  try {
    parsed = JSON.parse(rec ? (rec.tombstone ? 'null' : rec.json) : raw);
  } catch {
    return null;
  }
  const seen = new Set<unknown>();
  const find = (v: unknown): number | null => {
    if (typeof v === 'string' && v.startsWith('{')) {
      try {
        return find(JSON.parse(v));
      } catch {
        return null;
      }
    }
    if (!v || typeof v !== 'object' || seen.has(v)) return null;
    seen.add(v);
    const o = v as Record<string, unknown>;
    if (typeof o.seq === 'number' && o.token === TOKEN) return o.seq;
    for (const child of Object.values(o)) {
      const s = find(child);
      if (s !== null) return s;
    }
    return null;
  };
  return find(parsed);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** Wall-clock ms of redis-server's last "Ready to accept connections" line (it logs local time). */
function readyLoggedAt(log: string): number | null {
  const re = /(\d{1,2}) (\w{3}) (\d{4}) (\d\d):(\d\d):(\d\d)\.(\d{3}) \* Ready to accept connections/g;
  let last: RegExpExecArray | null = null;
  for (let m = re.exec(log); m; m = re.exec(log)) last = m;
  if (!last || !MONTHS.includes(last[2])) return null;
  const [d, mon, y, h, mi, sec, ms] = [Number(last[1]), MONTHS.indexOf(last[2]), ...last.slice(3).map(Number)];
  return new Date(y, mon, d, h, mi, sec, ms).getTime();
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const escapeGlob = (s: string) => s.replace(/[*?[\]\\]/g, '\\$&');

// -------------------------------------------------------------- one run

interface Samples {
  t: number[];
  lat: number[];
  kind: ('r' | 'w')[];
  /** 0 ok (write resolved / read hit), 1 read miss, 2 threw, 3 not settled within opCapMs. */
  res: number[];
  phase: Phase[];
  key: number[];
  seq: number[];
}

interface Timeline {
  killAt: number;
  /** Redis accepting connections again: its own log line, else when the harness saw it answer. */
  upAt: number;
  upSource: 'redis log' | 'harness';
  /** When the harness saw it (first of: monitor client ready, restart() PING); phases switch here. */
  observedUpAt: number;
  restartResolvedAt: number;
  monitorReadyAt: number | null;
  firstLandingAt: number | null;
  firstLandingUpperBound: boolean;
  redisModeAt: number | null;
  modes: { at: number; mode: CacheMode }[];
  endAt: number;
}

async function runSubject(def: SubjectDef) {
  const redis = await startRedis({ args: ['--notify-keyspace-events', 'E$'] });
  const redisPinned = pin(redis.pid, CFG.redisCpu);
  const subject = await def.make(redis);
  const opts = { host: redis.host, port: redis.port };

  // Where the subject puts a key, learned by writing a probe through it.
  const reader = new Redis({ ...opts, retryStrategy: () => 5, maxRetriesPerRequest: null });
  reader.on('error', () => undefined);
  const probe = await capped(subject.set(PROBE, { seq: -1, token: TOKEN }));
  if (probe.outcome !== 'ok') throw new Error(`${def.name}: probe write ${probe.outcome}`);
  const found = (await reader.keys(`*${PROBE}*`))[0];
  if (!found || seqOf(await reader.get(found)) !== -1) throw new Error(`${def.name}: probe key not found in Redis`);
  const [keyPrefix, keySuffix] = [found.slice(0, found.indexOf(PROBE)), found.slice(found.indexOf(PROBE) + PROBE.length)];
  const redisKey = (phase: Phase, k: number) => `${keyPrefix}${phase}:${k}${keySuffix}`;
  const dataKeyRe = new RegExp(`^${escapeRe(keyPrefix)}(pre|out|post):\\d+${escapeRe(keySuffix)}$`);
  await capped(subject.get(PROBE));
  // Not measured: otherwise the first subject would also pay for compiling ioredis' code.
  await warmUp(subject);

  const t0 = now();
  const tl: Timeline = {
    killAt: 0,
    upAt: 0,
    upSource: 'harness',
    observedUpAt: 0,
    restartResolvedAt: 0,
    monitorReadyAt: null,
    firstLandingAt: null,
    firstLandingUpperBound: false,
    redisModeAt: null,
    modes: [],
    endAt: 0,
  };
  const rel = () => now() - t0;
  const modeSub = subject.mode$?.subscribe((mode) => {
    const at = rel();
    tl.modes.push({ at, mode });
    if (mode === 'redis' && tl.killAt > 0 && tl.redisModeAt === null) tl.redisModeAt = at;
  });

  // Keyspace events on the restarted server: when the first write lands, and how many SETs of
  // each phase's keys it receives (a write the client reported but never sent is missing here).
  let phase: Phase = 'pre';
  let down = false;
  let monitorSubscribed = false;
  const setsAfterRestart: Record<Phase, number> = { pre: 0, out: 0, post: 0 };
  const monitor = new Redis({ ...opts, retryStrategy: () => 5, autoResubscribe: false, maxRetriesPerRequest: null });
  monitor.on('error', () => undefined);
  const channel = '__keyevent@0__:set';
  monitor.on('message', (_ch: string, key: string) => {
    const m = down ? dataKeyRe.exec(key) : null;
    if (!m) return;
    tl.firstLandingAt ??= rel();
    setsAfterRestart[m[1] as Phase]++;
  });
  /** Writes switch to `post:` keys only once the monitor listens, so none of their SETs is missed. */
  const markUp = () => {
    if (!down || tl.observedUpAt > 0) return;
    tl.observedUpAt = rel();
    phase = 'post';
  };
  monitor.on('close', () => (monitorSubscribed = false));
  monitor.on('ready', () => {
    if (!down) return;
    tl.monitorReadyAt ??= rel();
    void (async () => {
      await monitor.subscribe(channel);
      monitorSubscribed = true;
      markUp();
      if (tl.firstLandingAt !== null) return;
      // Anything already there landed before the subscription: report the bound, flagged.
      const pattern = `${escapeGlob(keyPrefix)}*`;
      const present = (await reader.keys(pattern)).some((k) => dataKeyRe.test(k));
      const checkedAt = rel();
      await sleep(50);
      if (present && tl.firstLandingAt === null) {
        tl.firstLandingAt = checkedAt;
        tl.firstLandingUpperBound = true;
      }
    })().catch(() => undefined);
  });
  await monitor.subscribe(channel);
  monitorSubscribed = true;

  // The load.
  const s: Samples = { t: [], lat: [], kind: [], res: [], phase: [], key: [], seq: [] };
  let seq = 0;
  let stop = false;
  const worker = async (w: number) => {
    const rand = xorshift((w + 1) * 2654435761);
    let next = now();
    while (!stop) {
      const n = seq++;
      const isWrite = n % 4 === 0;
      const k = Math.floor(rand() * CFG.keysPerPhase);
      const ph = phase;
      const key = `${ph}:${k}`;
      const start = now();
      const r = await capped(isWrite ? subject.set(key, { seq: n, token: TOKEN }) : subject.get(key));
      const end = now();
      s.t.push(start - t0);
      s.lat.push(end - start);
      s.kind.push(isWrite ? 'w' : 'r');
      s.res.push(r.outcome === 'ok' ? (isWrite || r.value === true ? 0 : 1) : r.outcome === 'error' ? 2 : 3);
      s.phase.push(ph);
      s.key.push(k);
      s.seq.push(n);
      next += CFG.paceMs;
      if (next > end) await sleep(next - end);
      else {
        next = end;
        await yieldNow();
      }
    }
  };
  const workers = Array.from({ length: CFG.workers }, (_, w) => worker(w));

  await sleep(CFG.beforeMs);
  // The window opens once the process is gone: a write the dying server acknowledged is a `pre` write.
  await redis.kill();
  tl.killAt = rel();
  phase = 'out';
  down = true;
  await sleep(CFG.downMs);
  // restart() spawns a new pid: pin it as soon as it exists, before it accepts connections.
  const oldPid = redis.pid;
  const pinner = setInterval(() => {
    if (redis.pid !== oldPid && redis.pid > 0) {
      pin(redis.pid, CFG.redisCpu);
      clearInterval(pinner);
    }
  }, 1);
  await redis.restart();
  clearInterval(pinner);
  pin(redis.pid, CFG.redisCpu);
  tl.restartResolvedAt = rel();
  const subscribeDeadline = now() + 1000;
  while (!monitorSubscribed && now() < subscribeDeadline) await sleep(5);
  markUp();
  // Our event loop may notice late (it is busy with the load); Redis logs when it began accepting.
  tl.upAt = Math.min(tl.restartResolvedAt, tl.monitorReadyAt ?? Infinity);
  const logged = readyLoggedAt(redis.logTail());
  if (logged !== null) {
    const at = logged - (Date.now() - now()) - t0;
    if (at > tl.killAt && at <= tl.upAt + 1) {
      tl.upAt = at;
      tl.upSource = 'redis log';
    }
  }
  await sleep(CFG.afterMs);
  stop = true;
  await Promise.all(workers);
  tl.endAt = rel();

  // Let replay / offline queues finish, then read what Redis ended up holding.
  const settleUntil = now() + CFG.settleMs;
  while (now() < settleUntil) await sleep(50);
  if (subject.mode$) {
    const modeDeadline = now() + 10_000;
    while (tl.modes.at(-1)?.mode !== 'redis' && now() < modeDeadline) await sleep(50);
  }
  const finalSeq: Record<Phase, (number | null)[]> = { pre: [], out: [], post: [] };
  for (const ph of PHASES) {
    const keys = Array.from({ length: CFG.keysPerPhase }, (_, k) => redisKey(ph, k));
    finalSeq[ph] = (await reader.mget(...keys)).map(seqOf);
  }
  const status = subject.status?.();

  modeSub?.unsubscribe();
  const closed = await within(5000, subject.close().then(() => true, () => true));
  monitor.disconnect();
  reader.disconnect();
  await redis.stop();
  return { s, tl, finalSeq, setsAfterRestart, status, redisPinned, closedCleanly: closed === true };
}

// -------------------------------------------------------------- metrics

/**
 * Writes of one phase (keys `<phase>:<n>`) that reported success, against the final Redis value of
 * their key. seq is assigned at op start, so a higher seq is a later write.
 * - writesKept: the key holds this write or a later-started one (the write was not lost);
 * - keysLatest: the key holds its last successful write (or a later-started one);
 * - keysStale: the key holds an older write than its last successful one (an old value won);
 * - keysMissing: the key is not in Redis at all.
 */
function landed(s: Samples, ph: Phase, finalSeq: (number | null)[]) {
  const lastOk = new Map<number, number>();
  let ok = 0;
  let kept = 0;
  for (let i = 0; i < s.t.length; i++) {
    if (s.kind[i] !== 'w' || s.phase[i] !== ph || s.res[i] !== 0) continue;
    ok++;
    const k = s.key[i];
    lastOk.set(k, Math.max(lastOk.get(k) ?? -1, s.seq[i]));
    const f = finalSeq[k];
    if (f !== null && f >= s.seq[i]) kept++;
  }
  let latest = 0;
  let stale = 0;
  let missing = 0;
  for (const [k, last] of lastOk) {
    const f = finalSeq[k];
    if (f === null) missing++;
    else if (f >= last) latest++;
    else stale++;
  }
  return { writesOk: ok, writesKept: kept, keys: lastOk.size, keysLatest: latest, keysStale: stale, keysMissing: missing };
}

function summarise(name: string, config: string, r: Awaited<ReturnType<typeof runSubject>>) {
  const { s, tl, finalSeq } = r;
  const idx = (pred: (i: number) => boolean) => s.t.map((_, i) => i).filter(pred);
  const lat = (ids: number[]) => ids.map((i) => s.lat[i]).sort((a, b) => a - b);
  // Every op in flight at some point while Redis was down, including those started before the kill.
  const out = idx((i) => s.t[i] < tl.upAt && s.t[i] + s.lat[i] > tl.killAt);
  const post = idx((i) => s.t[i] >= tl.upAt);
  const outLat = lat(out);
  const postLat = lat(post);
  const failed = (ids: number[]) => ids.filter((i) => s.res[i] >= 2).length;
  const outReads = out.filter((i) => s.kind[i] === 'r' && s.res[i] < 2);
  const since = (at: number | null) => (at === null ? null : Math.round(at - tl.upAt));
  return {
    name,
    config,
    ops: s.t.length,
    failed: failed(s.t.map((_, i) => i)),
    failedOutage: failed(out),
    timedOut: s.res.filter((x) => x === 3).length,
    outageOps: out.length,
    outageP99Ms: pct(outLat, 99),
    outageMaxMs: outLat.at(-1) ?? 0,
    afterP99Ms: pct(postLat, 99),
    // Redis up and settled, the first second (warm-up, recovery) left out of each side.
    upBeforeP99Ms: pct(lat(idx((i) => s.t[i] >= 1000 && s.t[i] + s.lat[i] < tl.killAt)), 99),
    upAfterP99Ms: pct(lat(idx((i) => s.t[i] >= tl.upAt + 1000)), 99),
    afterMaxMs: postLat.at(-1) ?? 0,
    outageReadHitPct: outReads.length ? (100 * outReads.filter((i) => s.res[i] === 0).length) / outReads.length : 0,
    outageWrites: landed(s, 'out', finalSeq.out),
    afterWrites: landed(s, 'post', finalSeq.post),
    /** SET events the restarted server saw per key phase (includes replays and late re-sends). */
    setsAfterRestart: r.setsAfterRestart,
    preWrites: landed(s, 'pre', finalSeq.pre),
    firstWriteLandedMs: since(tl.firstLandingAt),
    firstWriteLandedIsUpperBound: tl.firstLandingUpperBound,
    redisModeMs: since(tl.redisModeAt),
    timeline: {
      ...tl,
      killAt: Math.round(tl.killAt),
      upAt: Math.round(tl.upAt),
      downForMs: Math.round(tl.upAt - tl.killAt),
      observedUpBy: tl.monitorReadyAt !== null && tl.monitorReadyAt <= tl.restartResolvedAt ? 'monitor client ready' : 'restart() PING',
    /** Harness phase switch (out: -> post: keys) once Redis was seen and the monitor listened. */
    observedUpAt: Math.round(tl.observedUpAt),
    },
    redisPinned: r.redisPinned,
    closedCleanly: r.closedCleanly,
    finalStatus: r.status ?? null,
  };
}
type Summary = ReturnType<typeof summarise>;

// -------------------------------------------------------------- output

function table(rows: Summary[]): string {
  const f = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 1 ? n.toFixed(1) : n.toFixed(2));
  const frac = (a: number, b: number) => `${a}/${b}`;
  const head = ['subject', 'ops', 'failed', 'up p99', 'up p99 after', 'fail@out', 'out p99', 'out max', 'after max', 'out hit%', 'out writes kept', 'out keys latest', 'stale', 'after writes kept', 'after SETs', 'pre keys back', 'landed', 'redis mode'];
  const body = rows.map((r) => [
    r.name,
    String(r.ops),
    String(r.failed),
    f(r.upBeforeP99Ms),
    f(r.upAfterP99Ms),
    String(r.failedOutage),
    f(r.outageP99Ms),
    f(r.outageMaxMs),
    f(r.afterMaxMs),
    r.outageReadHitPct.toFixed(0),
    frac(r.outageWrites.writesKept, r.outageWrites.writesOk),
    frac(r.outageWrites.keysLatest, r.outageWrites.keys),
    String(r.outageWrites.keysStale),
    frac(r.afterWrites.writesKept, r.afterWrites.writesOk),
    frac(r.setsAfterRestart.post, r.afterWrites.writesOk),
    frac(r.preWrites.keysLatest, r.preWrites.keys),
    r.firstWriteLandedMs === null ? 'never' : `${r.firstWriteLandedIsUpperBound ? '<=' : ''}${r.firstWriteLandedMs}`,
    r.redisModeMs === null ? '-' : String(r.redisModeMs),
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...body.map((b) => b[c].length)));
  const line = (cells: string[]) => cells.map((x, c) => (c === 0 ? x.padEnd(widths[c]) : x.padStart(widths[c]))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

/** Per bucket of op start time: max and p99 latency, and whether any op in it failed. */
function buckets(s: Samples, endAt: number) {
  const n = Math.ceil(endAt / CFG.bucketMs);
  const lat: number[][] = Array.from({ length: n }, () => []);
  const failed = new Array<boolean>(n).fill(false);
  for (let i = 0; i < s.t.length; i++) {
    const b = Math.min(n - 1, Math.floor(s.t[i] / CFG.bucketMs));
    lat[b].push(s.lat[i]);
    if (s.res[i] >= 2) failed[b] = true;
  }
  return lat.map((l, b) => {
    l.sort((x, y) => x - y);
    return l.length ? { max: l[l.length - 1], p99: pct(l, 99), failed: failed[b] } : null;
  });
}

function svg(rows: { sum: Summary; s: Samples }[]): string {
  const W = 900;
  const L = 64;
  const R = 16;
  const PH = 130;
  const GAP = 34;
  const TOP = 40;
  const yMin = Math.log10(0.01);
  const yMax = Math.log10(CFG.opCapMs);
  const tMax = Math.max(...rows.map((r) => r.sum.timeline.endAt));
  const x = (t: number) => (L + ((W - L - R) * t) / tMax).toFixed(1);
  const H = TOP + rows.length * (PH + GAP) + 30;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${L}" y="16" font-size="13" font-weight="bold">Operation latency during a Redis outage (SIGKILL, restart empty), by op start time</text>`,
    `<text x="${L}" y="31" fill="#555">${CFG.workers} workers, 1 write in 4, ${CFG.bucketMs} ms buckets: <tspan fill="#d62728">max</tspan>, <tspan fill="#1f3b73">p99</tspan>; shaded: Redis down; red ticks: failed ops; gaps: no op started</text>`,
  ];
  rows.forEach(({ sum, s }, p) => {
    const top = TOP + p * (PH + GAP) + 16;
    const y = (v: number) => (top + (PH * (yMax - Math.log10(Math.min(CFG.opCapMs, Math.max(0.01, v))))) / (yMax - yMin)).toFixed(1);
    const tl = sum.timeline;
    out.push(`<text x="${L}" y="${top - 4}" font-weight="bold">${sum.name}<tspan dx="8" font-weight="normal" fill="#555">failed ${sum.failed}, outage max ${sum.outageMaxMs.toFixed(1)} ms, outage writes kept ${sum.outageWrites.writesKept}/${sum.outageWrites.writesOk}, outage keys latest ${sum.outageWrites.keysLatest}/${sum.outageWrites.keys} (stale ${sum.outageWrites.keysStale})</tspan></text>`);
    out.push(`<rect x="${L}" y="${top}" width="${W - L - R}" height="${PH}" fill="none" stroke="#999"/>`);
    out.push(`<rect x="${x(tl.killAt)}" y="${top}" width="${(Number(x(tl.upAt)) - Number(x(tl.killAt))).toFixed(1)}" height="${PH}" fill="#f4c7c3" opacity="0.6"/>`);
    for (let e = -2; e <= 4; e++) {
      const yy = y(10 ** e);
      out.push(`<line x1="${L}" x2="${W - R}" y1="${yy}" y2="${yy}" stroke="#ddd"/>`);
      out.push(`<text x="${L - 4}" y="${Number(yy) + 4}" text-anchor="end" fill="#555">${e < 0 ? 10 ** e : (10 ** e).toLocaleString('en')} ms</text>`);
    }
    for (let sec = 0; sec * 1000 <= tMax; sec++) {
      out.push(`<text x="${x(sec * 1000)}" y="${top + PH + 12}" text-anchor="middle" fill="#555">${sec}s</text>`);
    }
    const marks: [number | null, string, string][] = [
      [sum.firstWriteLandedMs === null ? null : tl.upAt + sum.firstWriteLandedMs, '#2ca02c', 'write landed'],
      [sum.redisModeMs === null ? null : tl.upAt + sum.redisModeMs, '#1f77b4', 'redis mode'],
    ];
    marks.forEach(([at, color, label], m) => {
      if (at === null) return;
      out.push(`<line x1="${x(at)}" x2="${x(at)}" y1="${top}" y2="${top + PH}" stroke="${color}" stroke-dasharray="4 3"/>`);
      out.push(`<text x="${Number(x(at)) + 3}" y="${top + 12 + m * 12}" fill="${color}">${label}</text>`);
    });
    const bs = buckets(s, tl.endAt);
    for (const [field, color, width] of [['max', '#d62728', 1], ['p99', '#1f3b73', 1.4]] as const) {
      let d = '';
      let pen = false;
      bs.forEach((b, i) => {
        if (!b) return void (pen = false);
        d += `${pen ? 'L' : 'M'}${x((i + 0.5) * CFG.bucketMs)} ${y(b[field])}`;
        pen = true;
      });
      out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="${width}"/>`);
    }
    const ticks = bs.flatMap((b, i) => (b?.failed ? [`M${x((i + 0.5) * CFG.bucketMs)} ${top}v6`] : [])).join('');
    if (ticks) out.push(`<path d="${ticks}" stroke="#d62728" stroke-width="2"/>`);
  });
  out.push(`<text x="${L}" y="${H - 8}" fill="#555">x: seconds since load start; y: latency (log scale). Node and redis-server pinned to separate CPUs. Figures from one run: see bench/results/outage.json.</text>`);
  out.push('</svg>');
  return out.join('\n');
}

// -------------------------------------------------------------- main

async function main() {
  const only = process.env.OUTAGE_SUBJECTS?.split(',').map((x) => x.trim());
  const defs = SUBJECTS.filter((d) => !only || only.includes(d.name));
  const nodePinned = pin(process.pid, CFG.nodeCpu);
  const placement = `node on CPU ${CFG.nodeCpu}${nodePinned ? '' : ' (taskset failed: unpinned)'}, redis-server on CPU ${CFG.redisCpu} (taskset -a)`;
  console.log(`Outage benchmark: ${placement}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(
    `${CFG.workers} workers, 1 write in 4, ${CFG.keysPerPhase} keys per phase, pace ${CFG.paceMs} ms/worker; ` +
      `${CFG.beforeMs} ms before, SIGKILL, ${CFG.downMs} ms down, restart empty, ${CFG.afterMs} ms after; ops capped at ${CFG.opCapMs} ms`,
  );
  const results: { sum: Summary; s: Samples; finalSeq: Record<Phase, (number | null)[]> }[] = [];
  for (const def of defs) {
    process.stdout.write(`  ${def.name} ... `);
    const r = await runSubject(def);
    const sum = summarise(def.name, def.config, r);
    results.push({ sum, s: r.s, finalSeq: r.finalSeq });
    console.log(`${sum.ops} ops, ${sum.failed} failed`);
  }
  console.log(`\n${table(results.map((r) => r.sum))}`);
  // Redis frozen instead of killed: answered by the silence detector (OUTAGE_SIGSTOP_MS=0 skips it).
  const stopMs = env('OUTAGE_SIGSTOP_MS', 3000);
  mkdirSync('bench/results', { recursive: true });
  const sigstop = stopMs > 0 ? await sigstopRow({ workers: CFG.workers, paceMs: CFG.paceMs, keys: CFG.keysPerPhase, stopMs }) : null;
  if (sigstop) {
    const r = (v: number) => v.toFixed(1);
    writeFileSync('bench/results/outage-sigstop.json', JSON.stringify({ node: process.version, date: new Date().toISOString(), loadavgAtEnd: loadavg(), ...sigstop }, null, 2) + '\n');
    console.log(`\nSIGSTOP ${stopMs} ms under load (${sigstop.config}): ${sigstop.during.calls} calls during it (${sigstop.callsPerSecond}/s), p50 ${r(sigstop.during.p50)} ms, p99 ${r(sigstop.during.p99)} ms, p99.9 ${r(sigstop.during.p999)} ms, max ${r(sigstop.during.max)} ms, ${sigstop.during.over10ms} over 10 ms (before: p99 ${r(sigstop.before.p99)} ms); ${sigstop.failed} failed, ${sigstop.lostWrites} lost writes`);
  }
  mkdirSync('bench/results', { recursive: true });
  const meta = { node: process.version, date: new Date().toISOString(), placement, loadavgAtEnd: loadavg(), config: CFG };
  writeFileSync('bench/results/outage.json', JSON.stringify({ ...meta, subjects: results.map((r) => r.sum), sigstop }, null, 2));
  const round = (a: number[], d: number) => a.map((v) => Math.round(v * 10 ** d) / 10 ** d);
  writeFileSync(
    'bench/results/outage.raw.json',
    JSON.stringify({
      ...meta,
      finalSeqInRedis: 'per phase, per key index: seq of the value Redis held at the end (null: absent)',
      columns: { t: 'op start, ms since load start', lat: 'ms', kind: 'one char per op: r or w', res: 'one digit per op: 0 ok/hit, 1 read miss, 2 threw, 3 no answer within cap', phase: 'one digit per op: 0 pre, 1 out, 2 post (key namespace)', key: 'key index', seq: 'global op sequence (write value)' },
      subjects: results.map(({ sum, s, finalSeq }) => ({ name: sum.name, timeline: sum.timeline, finalSeqInRedis: finalSeq, samples: { ...s, t: round(s.t, 2), lat: round(s.lat, 3), kind: s.kind.join(''), res: s.res.join(''), phase: s.phase.map((p) => PHASES.indexOf(p)).join('') } })),
    }),
  );
  writeFileSync('bench/results/outage-latency.svg', svg(results));
  console.log('\nwrote bench/results/outage.json, outage.raw.json, outage-latency.svg');
}

await main();
process.exit(0);
