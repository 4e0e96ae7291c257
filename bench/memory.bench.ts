/**
 * Bytes per entry and hit time of CacheService in `memory` mode (the same store L1 uses) against a
 * plain Map, measured in the same run through the public API only. Run by hand:
 * `npm run bench:memory` (needs --expose-gc, which the script passes). Ratios to the Map matter,
 * not the absolute figures.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { Logger } from '@nestjs/common';
import { CacheService } from '../src/cache/cache.service.js';

Logger.overrideLogger(false);

const N = Number(process.env.BENCH_ENTRIES ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const HIT_OPS = 2_000_000;

/** Hit keys built once, so the loop measures the lookup, not string building. */
const HOT = Array.from({ length: 1000 }, (_, i) => `user:${i}`);

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc (npm run bench:memory does)');

/** Values of two sizes: the ~130-byte object of the probe, and a broker-token-sized string. */
const shapes = {
  'object ~130 B': (i: number) => ({ accessToken: flat(`${i}`.padStart(64, 'a')), user: 'PAPER_TRADER_001', exp: 1_764_000_000_000 + i, n: i }),
  'token string ~80 B': (i: number) => flat(`${i}`.padStart(80, 't')),
};

/** padStart builds a rope (filler + digits); the Map baseline gets the flat string a parsed value would be. */
function flat(s: string): string {
  return s.normalize();
}
type Shape = keyof typeof shapes;

function heap(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
}

interface Subject {
  fill(make: (i: number) => unknown): Promise<void>;
  /** Reads every entry once (the cache parses lazily: what a read-back probe costs). */
  readAll(): Promise<void>;
  hit(i: number): Promise<unknown>;
  close(): Promise<void>;
}

function mapSubject(): Subject {
  const map = new Map<string, unknown>();
  return {
    async fill(make) {
      for (let i = 0; i < N; i++) map.set(`user:${i}`, make(i));
    },
    async readAll() {
      for (let i = 0; i < N; i++) await map.get(`user:${i}`);
    },
    hit: async (i) => map.get(HOT[i % 1000]),
    async close() {
      map.clear();
    },
  };
}

async function cacheSubject(): Promise<Subject> {
  const cache = new CacheService({ redis: null, memory: { maxEntries: N * 2, maxBytes: 1 << 30 } });
  await cache.onModuleInit();
  return {
    async fill(make) {
      for (let i = 0; i < N; i++) await cache.set(`user:${i}`, make(i), { ttlMs: 3_600_000 });
    },
    async readAll() {
      for (let i = 0; i < N; i++) await cache.get(`user:${i}`);
    },
    hit: (i) => cache.get(HOT[i % 1000]),
    close: () => cache.onApplicationShutdown(),
  };
}

const subjects: Record<string, () => Promise<Subject>> = { 'plain Map': async () => mapSubject(), CacheService: cacheSubject };

async function bytesPerEntry(make: () => Promise<Subject>, shape: Shape) {
  const before = heap();
  const s = await make();
  await s.fill(shapes[shape]);
  const written = heap();
  await s.readAll();
  const read = heap();
  await s.close();
  return { written: (written - before) / N, read: (read - before) / N };
}

async function hitUs(make: () => Promise<Subject>) {
  const s = await make();
  await s.fill(shapes['token string ~80 B']);
  for (let i = 0; i < 200_000; i++) await s.hit(i); // warm-up (JIT)
  const t0 = performance.now();
  for (let i = 0; i < HIT_OPS; i++) await s.hit(i);
  const us = ((performance.now() - t0) * 1000) / HIT_OPS;
  await s.close();
  return us;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const names = Object.keys(subjects);
  const results: Record<string, unknown> = { entries: N, rounds: ROUNDS, node: process.version };
  for (const shape of Object.keys(shapes) as Shape[]) {
    const per: Record<string, { written: number[]; read: number[] }> = {};
    for (let r = 0; r < ROUNDS; r++) {
      for (const name of [...names.slice(r % names.length), ...names.slice(0, r % names.length)]) {
        const b = await bytesPerEntry(subjects[name], shape);
        (per[name] ??= { written: [], read: [] }).written.push(b.written);
        per[name].read.push(b.read);
      }
    }
    const row: Record<string, unknown> = {};
    for (const name of names) {
      const w = median(per[name].written);
      const rd = median(per[name].read);
      row[name] = { bytesWritten: Math.round(w), bytesAfterRead: Math.round(rd), ratioToMap: +(rd / median(per['plain Map'].read)).toFixed(2) };
    }
    results[`bytes per entry, ${shape}`] = row;
    console.log(`bytes per entry (${N} entries, ${shape}):`, row);
  }
  const hits: Record<string, number[]> = {};
  for (let r = 0; r < ROUNDS; r++) {
    for (const name of [...names.slice(r % names.length), ...names.slice(0, r % names.length)]) (hits[name] ??= []).push(await hitUs(subjects[name]));
  }
  const hitRow: Record<string, unknown> = {};
  for (const name of names) {
    const ratios = hits[name].map((us, r) => us / hits['plain Map'][r]);
    hitRow[name] = { us: +median(hits[name]).toFixed(3), ratioToMap: +median(ratios).toFixed(2) };
  }
  results['hit (awaited), us'] = hitRow;
  console.log('hit, awaited:', hitRow);
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/memory.json', JSON.stringify(results, null, 2));
}

void main().then(() => process.exit(0));
