/**
 * Tail latency under small bursts, the load shape of bench:outage while Redis is up: 16 workers,
 * each starting at most one operation per 2 ms, one write in four, so timers release them in
 * bursts. Raw ioredis (defaults) against CacheService with batching from 4, 8 and 16 operations in
 * flight and with batching off. Subjects take turns over 5 rounds; medians are reported. Run by
 * hand: `npm run bench:burst` (see bench/README.md).
 */
import { execFileSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { Logger } from '@nestjs/common';
import { CacheService } from '../src/cache/cache.service.js';
import { startRedis } from '../test/helpers/redis-server.js';

Logger.overrideLogger(false);

interface Subject { get(k: string): Promise<unknown>; set(k: string, v: unknown): Promise<unknown> }

const WORKERS = 16;
const PACE_MS = 2;
const ROUNDS = 5;
const ROUND_MS = 2000;
const VALUE = { seq: 1, token: 'x'.repeat(64) };

function pin(pid: number, cpu: string) {
  try {
    execFileSync('taskset', ['-pc', cpu, String(pid)], { stdio: 'ignore' });
  } catch {
    /* taskset missing: unpinned */
  }
}

async function run(s: Subject, ms: number) {
  const lat: number[] = [];
  let seq = 0;
  const end = performance.now() + ms;
  await Promise.all(
    Array.from({ length: WORKERS }, async () => {
      let next = performance.now();
      while (performance.now() < end) {
        const n = seq++;
        const k = `p:${(n * 7919) % 500}`;
        const t = performance.now();
        await (n % 4 === 0 ? s.set(k, VALUE) : s.get(k));
        const e = performance.now();
        lat.push(e - t);
        next += PACE_MS;
        if (next > e) await new Promise((r) => setTimeout(r, next - e));
        else {
          next = e;
          await new Promise((r) => setImmediate(r));
        }
      }
    }),
  );
  lat.sort((a, b) => a - b);
  return { p50: lat[lat.length >> 1], p99: lat[Math.floor(lat.length * 0.99)] };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

const redis = await startRedis();
pin(process.pid, '0');
pin(redis.pid, '1');
const raw = new Redis({ port: redis.port, host: '127.0.0.1' });
const subjects: Record<string, Subject> = {
  'raw ioredis': {
    get: async (k) => {
      const r = await raw.get(k);
      return r ? JSON.parse(r) : null;
    },
    set: (k, v) => raw.set(k, JSON.stringify(v)),
  },
};
const caches: CacheService[] = [];
for (const [label, from] of [['from 4', 4], ['from 8', 8], ['from 16 (default)', 16], ['off', Number.MAX_SAFE_INTEGER]] as const) {
  const c = new CacheService({ redis: { kind: 'standalone', host: '127.0.0.1', port: redis.port }, keyPrefix: `b${caches.length}:`, batchFromInFlight: from });
  await c.onModuleInit();
  await c.connect(5000);
  caches.push(c);
  subjects[`CacheService, batching ${label}`] = { get: (k) => c.get(k), set: (k, v) => c.set(k, v) };
}
for (const s of Object.values(subjects)) await run(s, 500); // warm-up
const results: Record<string, { p50: number; p99: number }[]> = {};
for (let r = 0; r < ROUNDS; r++) for (const [name, s] of Object.entries(subjects)) (results[name] ??= []).push(await run(s, ROUND_MS));
console.log(`${WORKERS} workers, one op per ${PACE_MS} ms each, 1 write in 4; node cpu0, redis cpu1; median of ${ROUNDS} rounds`);
for (const [name, rs] of Object.entries(results)) {
  console.log(`${name.padEnd(42)} p50 ${median(rs.map((x) => x.p50)).toFixed(2)} ms  p99 ${median(rs.map((x) => x.p99)).toFixed(2)} ms`);
}
for (const c of caches) await c.onApplicationShutdown();
raw.disconnect();
await redis.stop();
process.exit(0);
