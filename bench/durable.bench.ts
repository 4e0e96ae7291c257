/**
 * What a durable claim costs: setIfAbsent (each a new key, as idempotency claims are) at 1 in
 * flight against a real redis-server, with the write-ahead file (write(), and write() + fdatasync)
 * and without it (a cache with the same snapshot and `durable: false`, and one with no snapshot).
 * Claims are interleaved one at a time across subjects; p50/p99 over all rounds after the warm-up,
 * the median of the per-round ratios of mean latency against `durable: false`, and the append
 * alone timed without Redis. Node on CPU 0, Redis on CPU 1
 * (`CPUS=0,0` for one CPU). Run by hand: `npm run bench:durable`.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { CacheService } from '../src/cache/cache.service.js';
import { WriteAheadFile } from '../src/cache/local/write-ahead-file.js';
import { startRedis } from '../test/helpers/redis-server.js';

Logger.overrideLogger(false);
const N = Number(process.env.N ?? 2000);
const ROUNDS = Number(process.env.ROUNDS ?? 11);
const [nodeCpu, redisCpu] = (process.env.CPUS ?? '0,1').split(',');
const VALUE = { signal: 'S-123', user: 'PAPER_TRADER_001', at: 1_700_000_000_000 };

const redis = await startRedis();
let pinned = 'unpinned';
try {
  execFileSync('taskset', ['-pc', nodeCpu, String(process.pid)], { stdio: 'ignore' });
  execFileSync('taskset', ['-apc', redisCpu, String(redis.pid)], { stdio: 'ignore' });
  pinned = `node on CPU ${nodeCpu}, redis on CPU ${redisCpu}`;
} catch {
  // No taskset: the figures are still comparable within the run.
}
const dir = mkdtempSync(join(tmpdir(), 'durable-bench-'));
const key = randomBytes(32).toString('base64');
const cacheWith = async (name: string, snapshot: boolean, fsync = false) => {
  const c = new CacheService({
    redis: { kind: 'standalone', host: '127.0.0.1', port: redis.port },
    keyPrefix: `${name}:`,
    // Generous: on a loaded machine a claim past 250 ms would count as `unknown`, not as a latency.
    commandTimeoutMs: 1_000,
    snapshot: snapshot ? { path: join(dir, `${name}.snap`), key, fsyncDurableWrites: fsync } : null,
  });
  await c.onModuleInit();
  if (!(await c.connect(5000))) throw new Error('Redis not reached');
  return c;
};

const plain = await cacheWith('plain', false);
const notDurable = await cacheWith('nd', true);
const wal = await cacheWith('wal', true);
const walFsync = await cacheWith('walfs', true, true);
let seq = 0;
const subjects: Record<string, () => Promise<unknown>> = {
  'no snapshot': () => plain.setIfAbsent(`c:${++seq}`, VALUE, { ttlMs: 600_000 }),
  'snapshot, durable: false (baseline)': () => notDurable.setIfAbsent(`c:${++seq}`, VALUE, { ttlMs: 600_000, durable: false }),
  'durable: write-ahead write()': () => wal.setIfAbsent(`c:${++seq}`, VALUE, { ttlMs: 600_000 }),
  'durable: write() + fdatasync': () => walFsync.setIfAbsent(`c:${++seq}`, VALUE, { ttlMs: 600_000 }),
};
const names = Object.keys(subjects);
const BASE = names[1];
const lat: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
const ratios: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
const unclaimed: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));

// Interleaved one claim at a time (subject order rotated per step), so a burst of load on this
// shared machine lands on every subject alike rather than on whichever ran at that moment.
for (let round = 0; round < ROUNDS; round++) {
  const sums: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < names.length; j++) {
      const name = names[(i + j + round) % names.length];
      const t0 = performance.now();
      const r = (await subjects[name]()) as { state: string };
      const ms = performance.now() - t0;
      if (r.state !== 'claimed') unclaimed[name]++;
      sums[name] += ms;
      if (round > 0) lat[name].push(ms);
    }
  }
  if (round > 0) for (const n of names) ratios[n].push(sums[n] / sums[BASE]);
}

// The append alone (what a durable write adds to its caller's wait), without Redis in the picture.
const appendOnly: Record<string, number[]> = { 'append: write()': [], 'append: write() + fdatasync': [] };
for (const [name, fsync] of [['append: write()', false], ['append: write() + fdatasync', true]] as const) {
  const file = new WriteAheadFile(join(dir, `only-${fsync}.wal`), Buffer.from(key, 'base64'), 'b:', fsync);
  const rec = { version: '000001700000000.000000.0000000a', expiresAt: null, tombstone: false, json: JSON.stringify(VALUE) };
  for (let i = 0; i < N * 2; i++) {
    const t0 = performance.now();
    file.append(`b:c:${i}`, rec);
    if (i >= N / 2) appendOnly[name].push(performance.now() - t0);
  }
  file.close();
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const median = (xs: number[]) => pct(xs, 50);
const rows = names.map((n) => ({
  subject: n,
  p50Ms: +pct(lat[n], 50).toFixed(3),
  p99Ms: +pct(lat[n], 99).toFixed(3),
  maxMs: +Math.max(...lat[n]).toFixed(3),
  medianRatio: +median(ratios[n]).toFixed(3),
  ratioRange: [+Math.min(...ratios[n]).toFixed(3), +Math.max(...ratios[n]).toFixed(3)],
  p99AddedMs: +(pct(lat[n], 99) - pct(lat[BASE], 99)).toFixed(3),
  unclaimed: unclaimed[n],
}));
console.log(`durable claims: ${N} per subject per round, ${ROUNDS - 1} rounds counted (+1 warm-up), ${pinned}, ${new Date().toISOString()}`);
console.table(rows);
console.table(Object.entries(appendOnly).map(([subject, xs]) => ({ subject, p50Ms: +pct(xs, 50).toFixed(4), p99Ms: +pct(xs, 99).toFixed(4), maxMs: +Math.max(...xs).toFixed(3) })));
console.log(`load average at the end: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
for (const c of [plain, notDurable, wal, walFsync]) await c.onApplicationShutdown();
await redis.stop();
rmSync(dir, { recursive: true, force: true });
