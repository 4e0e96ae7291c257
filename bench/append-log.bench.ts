/**
 * Append logs against the read-modify-write list they replaced (issue 11 item 9): appends and
 * reads of a 200-entry audit trail, one operation in flight, alternating subjects over rounds,
 * ratios taken within a round. Run by hand: `npm run bench:append-log` (see bench/README.md).
 */
import { execFileSync } from 'node:child_process';
import { Logger } from '@nestjs/common';
import { CacheService } from '../src/cache/cache.service.js';
import { startRedis } from '../test/helpers/redis-server.js';

Logger.overrideLogger(false);

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ROUND_MS = Number(process.env.BENCH_MS ?? 1000);
const MAX = 200;
const USERS = 20;
const EVENT = { at: new Date(0).toISOString(), action: 'submitted', who: 'ops-admin', source: 'api', fingerprint: 'sha256:0123456789abcdef', detail: 'x'.repeat(60) };

interface Subject {
  name: string;
  append(user: number): Promise<unknown>;
  read(user: number): Promise<unknown>;
}

function pin(pid: number, cpu: string) {
  try {
    execFileSync('taskset', ['-pc', cpu, String(pid)], { stdio: 'ignore' });
  } catch {
    /* taskset missing: unpinned */
  }
}

async function opsPerSecond(op: (i: number) => Promise<unknown>): Promise<number> {
  let n = 0;
  const end = performance.now() + ROUND_MS;
  const t0 = performance.now();
  while (performance.now() < end) await op(n++);
  return n / ((performance.now() - t0) / 1000);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const redis = await startRedis();
  pin(process.pid, '0');
  pin(redis.pid, '1');
  const cache = new CacheService({ redis: { kind: 'standalone', host: '127.0.0.1', port: redis.port }, keyPrefix: 'b:' });
  await cache.onModuleInit();
  await cache.connect(5_000);
  const subjects: Subject[] = [
    {
      name: 'read-modify-write list (before)',
      async append(u) {
        const r = await cache.read<{ events: unknown[] }>(`rmw:${u}`);
        const events = r.state === 'hit' ? r.value!.events : [];
        await cache.set(`rmw:${u}`, { events: [EVENT, ...events].slice(0, MAX) }, { ttlMs: 3_600_000 });
      },
      read: (u) => cache.read(`rmw:${u}`),
    },
    {
      name: 'append log (now)',
      append: (u) => cache.appendLog(`log:${u}`, EVENT, { maxEntries: MAX, maxAgeMs: 3_600_000 }),
      read: (u) => cache.readLog(`log:${u}`, { order: 'newest-first', limit: MAX }),
    },
  ];
  // Full logs first: the steady state is a capped trail.
  for (const s of subjects) for (let u = 0; u < USERS; u++) for (let i = 0; i < MAX; i++) await s.append(u);
  const ratios: Record<string, { append: number[]; read: number[] }> = {};
  const raw: Record<string, { append: number[]; read: number[] }> = {};
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? subjects : [...subjects].reverse();
    const got: Record<string, { append: number; read: number }> = {};
    for (const s of order) {
      got[s.name] = { append: await opsPerSecond((i) => s.append(i % USERS)), read: await opsPerSecond((i) => s.read(i % USERS)) };
    }
    const base = got[subjects[0].name];
    for (const s of subjects) {
      ratios[s.name] ??= { append: [], read: [] };
      raw[s.name] ??= { append: [], read: [] };
      ratios[s.name].append.push(got[s.name].append / base.append);
      ratios[s.name].read.push(got[s.name].read / base.read);
      raw[s.name].append.push(got[s.name].append);
      raw[s.name].read.push(got[s.name].read);
    }
  }
  console.log(`rounds ${ROUNDS} x ${ROUND_MS} ms, ${USERS} users, trails of ${MAX} events, 1 in flight`);
  for (const s of subjects) {
    const r = ratios[s.name];
    console.log(
      `${s.name.padEnd(34)} append ${Math.round(median(raw[s.name].append))} ops/s (${median(r.append).toFixed(2)}x)  read ${Math.round(median(raw[s.name].read))} ops/s (${median(r.read).toFixed(2)}x)`,
    );
  }
  await cache.onApplicationShutdown();
  await redis.stop();
}

void main();
