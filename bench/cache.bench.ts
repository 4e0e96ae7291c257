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
import { CAS_SET_LUA } from '../src/cache/redis/scripts/cas-script.js';
import { VERSION_LENGTH } from '../src/cache/core/hlc.js';
import { startRedis, type RedisProcess } from '../test/helpers/redis-server.js';

Logger.overrideLogger(false);

type Op = (i: number) => Promise<unknown>;
interface Sample { opsPerSec: number; p50: number; p99: number; max: number; failed: number; ops: number }
/** One subject's figures for one row over all rounds: medians, and its ratio to raw ioredis per round. */
interface Row { opsPerSec: number; p99: number; ratio: number; ratioMin: number; ratioMax: number; ratioToCas: number; redisUsPerOp: number | null }

const DURATION_MS = Number(process.env.BENCH_MS ?? 1000);
/** Subjects take turns in every round, so a slow spell of this noisy VM hits all of them alike. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const KEYS = 1000;
/** A narrower run with more rounds for one row: BENCH_IN_FLIGHT=1 BENCH_KINDS=set BENCH_ROUNDS=25. */
const IN_FLIGHT = (process.env.BENCH_IN_FLIGHT ?? '1,64').split(',').map(Number);
const KINDS = (process.env.BENCH_KINDS ?? 'get,set').split(',') as ('get' | 'set')[];
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
  return { opsPerSec: Math.round((lat.length / ms) * 1000), p50: pct(lat, 50), p99: pct(lat, 99), max: lat[lat.length - 1] ?? 0, failed, ops: lat.length };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Microseconds Redis itself spent per operation (INFO commandstats), bench bookkeeping excluded. */
async function redisUsec(admin: Redis): Promise<number> {
  const info = await admin.info('commandstats');
  let usec = 0;
  for (const m of info.matchAll(/^cmdstat_(\w+):calls=\d+,usec=(\d+)/gm)) {
    if (m[1] !== 'info' && m[1] !== 'config') usec += Number(m[2]);
  }
  return usec;
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
  const admin = new Redis({ port: redis.port, host: '127.0.0.1' });
  const names = Object.keys(subjects);
  const rows: Record<string, Record<string, Row>> = {};
  for (const inFlight of IN_FLIGHT) {
    for (const kind of KINDS) {
      for (const name of names) await measure(subjects[name][kind], inFlight, 300); // warm-up
      const samples: Record<string, { s: Sample; redisUs: number }[]> = {};
      for (let r = 0; r < ROUNDS; r++) {
        // Rotate the order each round: no subject always runs first (or right after a warm-up).
        for (const name of [...names.slice(r % names.length), ...names.slice(0, r % names.length)]) {
          await admin.config('RESETSTAT');
          const s = await measure(subjects[name][kind], inFlight);
          (samples[name] ??= []).push({ s, redisUs: await redisUsec(admin) });
        }
      }
      const row: Record<string, Row> = {};
      for (const name of names) {
        const ratios = samples[name].map((x, r) => x.s.opsPerSec / samples['raw ioredis'][r].s.opsPerSec);
        // Against raw ioredis running the same CAS script: the baseline for versioned writes.
        const toCas = samples[name].map((x, r) => x.s.opsPerSec / samples['raw ioredis + CAS script'][r].s.opsPerSec);
        row[name] = {
          opsPerSec: median(samples[name].map((x) => x.s.opsPerSec)),
          p99: median(samples[name].map((x) => x.s.p99)),
          ratio: median(ratios),
          ratioMin: Math.min(...ratios),
          ratioMax: Math.max(...ratios),
          ratioToCas: median(toCas),
          redisUsPerOp: name === 'awaited Map' ? null : median(samples[name].map((x) => x.redisUs / Math.max(1, x.s.ops))),
        };
      }
      rows[`${kind.toUpperCase()} x${inFlight}`] = row;
    }
  }
  admin.disconnect();
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
  const results: Record<string, unknown> = { node: process.version, date: new Date().toISOString(), durationMs: DURATION_MS, rounds: ROUNDS };
  // BENCH_PLACEMENTS=separate or =same: one placement only (a longer run of one row).
  const only = process.env.BENCH_PLACEMENTS;
  for (const [label, p] of Object.entries(placements).filter(([, p]) => !only || only === (p.node === p.redis ? 'same' : 'separate'))) {
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
      console.log(
        `${row.padEnd(8)} ` +
          Object.entries(subj)
            .map(
              ([n, s]) =>
                `${n}: ${s.opsPerSec} ops/s, ${s.ratio.toFixed(2)}x raw (${s.ratioMin.toFixed(2)}-${s.ratioMax.toFixed(2)}), ${s.ratioToCas.toFixed(2)}x raw+CAS, p99 ${s.p99.toFixed(2)} ms` +
                (s.redisUsPerOp === null ? '' : `, redis ${s.redisUsPerOp.toFixed(1)} us/op`),
            )
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
