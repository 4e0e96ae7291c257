/**
 * Where a SET at 1 in flight spends its time over raw ioredis running the same CAS script: the
 * write path cut at each layer (gateway, records, stack, the public API), plus a floor that does
 * only what every versioned write must (version, mirror, deadline). Node and Redis pinned to CPU 0
 * by default (`CPUS=0,1` for separate CPUs). Run by hand: `npm run bench:set-layers`.
 * Subjects reach into the cache's private parts on purpose: this is a diagnostic, not an API.
 */
import { execFileSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { Logger } from '@nestjs/common';
import { CacheService } from '../src/cache/cache.service.js';
import { CAS_SET_LUA } from '../src/cache/redis/scripts/cas-script.js';
import { VERSION_LENGTH } from '../src/cache/core/hlc.js';
import { MemoryEntry } from '../src/cache/local/memory-entry.js';
import { startRedis } from '../test/helpers/redis-server.js';

Logger.overrideLogger(false);
const KEYS = 1000;
const VALUE = { token: 'x'.repeat(64), user: 'PAPER_TRADER_001', n: 1 };
/** Operations per subject per round, and rounds (the first is a warm-up, not counted). */
const N = Number(process.env.N ?? 20000);
const ROUNDS = Number(process.env.ROUNDS ?? 13);
const [nodeCpu, redisCpu] = (process.env.CPUS ?? '0,0').split(',');

const redis = await startRedis();
execFileSync('taskset', ['-pc', nodeCpu, String(process.pid)], { stdio: 'ignore' });
execFileSync('taskset', ['-apc', redisCpu, String(redis.pid)], { stdio: 'ignore' });
const rawCas = new Redis({ port: redis.port, host: '127.0.0.1' }) as Redis & { cas(...a: string[]): Promise<unknown> };
rawCas.defineCommand('cas', { numberOfKeys: 1, lua: CAS_SET_LUA });
const cache = new CacheService({ redis: { kind: 'standalone', host: '127.0.0.1', port: redis.port }, keyPrefix: 'b:' });
await cache.onModuleInit();
await cache.connect(5000);
/* eslint-disable @typescript-eslint/no-explicit-any */
const internals = cache as any;
// The RedisGateway behind the facade's CacheGateway: the executor every typed operation runs on.
const gw = internals.gateway.exec;
const stack = internals.stack;
const hlc = internals.hlc;
const floorMemory = new Map<string, MemoryEntry>();
const json = () => JSON.stringify(VALUE);
let seq = 0;

const subjects: Record<string, (i: number) => Promise<unknown>> = {
  'raw ioredis + CAS script': (i) => {
    const v = String(++seq).padStart(VERSION_LENGTH, '0');
    return rawCas.cas(`c:${i % KEYS}`, v, `${v}|0|v${json()}`, '0', '');
  },
  '+ gateway (breaker, deadline)': (i) => {
    const v = String(++seq).padStart(VERSION_LENGTH, '0');
    return gw.run('casSet', (c: typeof rawCas & { casSet(...a: string[]): Promise<unknown> }) => c.casSet(`e:${i % KEYS}`, v, `${v}|0|v${json()}`, '0', ''));
  },
  '+ records (HLC version, record)': (i) => stack.remote.records.cas(`f:${i % KEYS}`, { version: hlc.next(), expiresAt: null, tombstone: false, json: json() }),
  '+ stack (mirror, journal)': (i) => stack.write(`g:${i % KEYS}`, { version: hlc.next(), expiresAt: null, tombstone: false, json: json() }),
  'CacheService.set': (i) => cache.set(`${i % KEYS}`, VALUE),
  'floor: version + mirror + deadline': (i) => {
    const k = `h:${i % KEYS}`;
    const value = json();
    const version = hlc.next();
    const sent = gw.deadlines.bound(gw.client.casSet(k, version, `${version}|0|v${value}`, '0', ''), gw.outcome);
    floorMemory.set(k, new MemoryEntry(version, null, false, value));
    return sent.then(() => ({ version, store: 'redis', journaled: false }));
  },
};

const wall: Record<string, number[]> = {};
for (let r = 0; r < ROUNDS; r++) {
  const names = Object.keys(subjects);
  // Rotated each round: no subject always runs first.
  for (const name of [...names.slice(r % names.length), ...names.slice(0, r % names.length)]) {
    const t0 = performance.now();
    for (let i = 0; i < N; i++) await subjects[name](i);
    if (r > 0) (wall[name] ??= []).push(((performance.now() - t0) * 1000) / N);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const base = wall['raw ioredis + CAS script'];
console.log(`node cpu ${nodeCpu}, redis cpu ${redisCpu}; ${ROUNDS - 1} rounds of ${N} writes; ratio = raw + CAS time / subject time, median of the per-round ratios`);
for (const [name, xs] of Object.entries(wall)) {
  console.log(`${name.padEnd(36)} ${median(xs).toFixed(1).padStart(6)} us/op  ${median(xs.map((x, r) => base[r] / x)).toFixed(3)}x`);
}
await cache.onApplicationShutdown();
rawCas.disconnect();
await redis.stop();
process.exit(0);
