/**
 * CacheService against raw ioredis (default options) and an awaited Map, in one run on one
 * machine, plus outage behaviour. Run by hand: `npm run bench:cache` (see bench/README.md).
 * Figures are only meaningful as ratios against the baselines measured in the same run.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { Redis } from 'ioredis';
import { Logger } from '@nestjs/common';
import { CacheService } from '../src/cache/cache.service.js';
import { CAS_SET_LUA } from '../src/cache/cas-script.js';
import { VERSION_LENGTH } from '../src/cache/hlc.js';
import { startRedis, type RedisProcess } from '../test/helpers/redis-server.js';

Logger.overrideLogger(false);

type Op = (i: number) => Promise<unknown>;
interface Sample { opsPerSec: number; p50: number; p99: number; max: number; failed: number }

const DURATION_MS = Number(process.env.BENCH_MS ?? 2000);
const KEYS = 1000;
const VALUE = { token: 'x'.repeat(64), user: 'PAPER_TRADER_001', n: 1 };

function pct(sorted: number[], p: number) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : 0;
}

async function measure(op: Op, inFlight: number, ms = DURATION_MS): Promise<Sample> {
  const lat: number[] = [];
  let failed = 0;
  let i = 0;
  const end = performance.now() + ms;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          await op(i++);
        } catch {
          failed++;
        }
        lat.push(performance.now() - t0);
        // Yield like a server between requests would; memory-speed loops otherwise starve timers.
        if ((i & 15) === 0) await new Promise((r) => setImmediate(r));
      }
    }),
  );
  lat.sort((a, b) => a - b);
  return { opsPerSec: Math.round((lat.length / ms) * 1000), p50: pct(lat, 50), p99: pct(lat, 99), max: lat[lat.length - 1] ?? 0, failed };
}

function pin(pid: number, cpu: string) {
  try {
    execFileSync('taskset', ['-pc', cpu, String(pid)], { stdio: 'ignore' });
  } catch {
    /* taskset missing: placement is reported as unpinned */
  }
}

async function throughput(redis: RedisProcess) {
  const raw = new Redis({ port: redis.port, host: '127.0.0.1' });
  // The same compare-and-set script ours runs on every write, sent by raw ioredis: the cost of
  // versioned writes by themselves, without anything else CacheService does.
  const rawCas = new Redis({ port: redis.port, host: '127.0.0.1' }) as Redis & { cas(...a: string[]): Promise<unknown> };
  rawCas.defineCommand('cas', { numberOfKeys: 1, lua: CAS_SET_LUA });
  let casSeq = 0;
  const cache = new CacheService({ redis: { kind: 'standalone', host: '127.0.0.1', port: redis.port }, keyPrefix: 'b:' });
  await cache.onModuleInit();
  await cache.connect(5000);
  const map = new Map<string, string>();
  const json = JSON.stringify(VALUE);
  for (let k = 0; k < KEYS; k++) {
    await raw.set(`r:${k}`, json);
    await cache.set(`${k}`, VALUE);
    map.set(`${k}`, json);
  }
  const subjects: Record<string, { get: Op; set: Op }> = {
    'raw ioredis': {
      get: async (i) => JSON.parse((await raw.get(`r:${i % KEYS}`))!),
      set: (i) => raw.set(`r:${i % KEYS}`, JSON.stringify(VALUE)),
    },
    'raw ioredis + CAS script': {
      get: async (i) => JSON.parse((await rawCas.get(`r:${i % KEYS}`))!),
      set: (i) => {
        const version = String(++casSeq).padStart(VERSION_LENGTH, '0');
        return rawCas.cas(`c:${i % KEYS}`, version, `${version}|0|v${JSON.stringify(VALUE)}`, '0', '');
      },
    },
    CacheService: {
      get: (i) => cache.get(`${i % KEYS}`),
      set: (i) => cache.set(`${i % KEYS}`, VALUE),
    },
    'awaited Map': {
      get: async (i) => JSON.parse(map.get(`${i % KEYS}`)!),
      set: async (i) => map.set(`${i % KEYS}`, JSON.stringify(VALUE)),
    },
  };
  const rows: Record<string, Record<string, Sample>> = {};
  for (const inFlight of [1, 64]) {
    for (const kind of ['get', 'set'] as const) {
      for (const [name, s] of Object.entries(subjects)) {
        await measure(s[kind], inFlight, 300); // warm-up
        (rows[`${kind.toUpperCase()} x${inFlight}`] ??= {})[name] = await measure(s[kind], inFlight);
      }
    }
  }
  await cache.onApplicationShutdown();
  raw.disconnect();
  rawCas.disconnect();
  return rows;
}

async function outage(redis: RedisProcess, kind: 'SIGKILL' | 'SIGSTOP') {
  const cache = new CacheService({ redis: { kind: 'standalone', host: '127.0.0.1', port: redis.port }, keyPrefix: 'o:', commandTimeoutMs: 250 });
  await cache.onModuleInit();
  await cache.connect(5000);
  for (let k = 0; k < KEYS; k++) await cache.set(`${k}`, VALUE);
  const op: Op = async (i) => {
    if (i % 4 === 0) await cache.set(`${i % KEYS}`, VALUE);
    else {
      const r = await cache.read(`${i % KEYS}`);
      if (r.state !== 'hit') throw new Error(r.state);
    }
  };
  const run = measure(op, 64, 3000);
  await new Promise((r) => setTimeout(r, 500));
  if (kind === 'SIGKILL') await redis.kill();
  else redis.pause();
  const sample = await run;
  if (kind === 'SIGKILL') await redis.restart();
  else redis.resume();
  await cache.connect(10_000);
  await cache.onApplicationShutdown();
  return sample;
}

async function main() {
  const placements: Record<string, { node: string; redis: string }> = {
    'node cpu0, redis cpu1': { node: '0', redis: '1' },
    'node and redis both cpu0': { node: '0', redis: '0' },
  };
  const results: Record<string, unknown> = { node: process.version, date: new Date().toISOString(), durationMs: DURATION_MS };
  for (const [label, p] of Object.entries(placements)) {
    const redis = await startRedis();
    pin(process.pid, p.node);
    pin(redis.pid, p.redis);
    const tp = await throughput(redis);
    const kill = await outage(redis, 'SIGKILL');
    pin(redis.pid, p.redis);
    const stop = await outage(redis, 'SIGSTOP');
    await redis.stop();
    results[label] = { throughput: tp, outage: { SIGKILL: kill, SIGSTOP: stop } };
    console.log(`\n## ${label}`);
    for (const [row, subj] of Object.entries(tp)) {
      const base = subj['raw ioredis'].opsPerSec;
      console.log(
        `${row.padEnd(8)} ` +
          Object.entries(subj)
            .map(([n, s]) => `${n}: ${s.opsPerSec} ops/s (${(s.opsPerSec / base).toFixed(2)}x raw, p99 ${s.p99.toFixed(2)} ms)`)
            .join(' | '),
      );
    }
    for (const [k, s] of Object.entries({ SIGKILL: kill, SIGSTOP: stop })) {
      console.log(`outage ${k}: ${s.opsPerSec} ops/s, p50 ${s.p50.toFixed(3)} ms, p99 ${s.p99.toFixed(3)} ms, max ${s.max.toFixed(1)} ms, failed ${s.failed}`);
    }
  }
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/cache.json', JSON.stringify(results, null, 2));
}

await main();
process.exit(0);
