/**
 * bench:outage's SIGSTOP row (issue 20): CacheService with default options under the same kind of
 * load, Redis frozen (SIGSTOP: the socket stays open, nothing answers) for STOP_MS, then resumed.
 * Every call is timed; a call that throws is a failure; every acknowledged write must be in Redis
 * afterwards (its value or a newer one). The silence detector, not the command timeout, decides.
 */
import { CacheService } from '../../src/cache/cache.service.js';
import { decodeRecord } from '../../src/cache/core/cache-codec.js';
import { startRedis } from '../../test/helpers/redis-server.js';

const now = () => performance.now();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const pct = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : 0);

export interface SigstopRow {
  config: string;
  stopMs: number;
  callsPerSecond: number;
  during: { calls: number; p50: number; p99: number; p999: number; max: number; over10ms: number };
  before: { calls: number; p50: number; p99: number };
  failed: number;
  lostWrites: number;
}

export async function sigstopRow(opts: { workers: number; paceMs: number; keys: number; stopMs: number }): Promise<SigstopRow> {
  const redis = await startRedis();
  const cache = new CacheService({ redis: { kind: 'standalone', host: redis.host, port: redis.port }, keyPrefix: 's:' });
  await cache.onModuleInit();
  if (!(await cache.connect(5000))) throw new Error('CacheService did not reach redis mode');
  for (let k = 0; k < opts.keys; k++) await cache.set(`k:${k}`, -1);

  const t: number[] = [];
  const lat: number[] = [];
  let failed = 0;
  const acked = new Map<number, number>();
  let seq = 0;
  let stop = false;
  const worker = async () => {
    while (!stop) {
      const n = seq++;
      const k = n % opts.keys;
      const start = now();
      try {
        if (n % 4 === 0) {
          await cache.set(`k:${k}`, n);
          if ((acked.get(k) ?? -1) < n) acked.set(k, n);
        } else {
          const r = await cache.read(`k:${k}`);
          if (r.state !== 'hit') throw new Error(r.state);
        }
      } catch {
        failed++;
      }
      t.push(start);
      lat.push(now() - start);
      await sleep(opts.paceMs);
    }
  };
  const runs = Array.from({ length: opts.workers }, worker);
  await sleep(2_000);
  const stopAt = now();
  redis.pause();
  await sleep(opts.stopMs);
  const resumeAt = now();
  redis.resume();
  await sleep(1_000);
  stop = true;
  await Promise.all(runs);
  // Back in redis mode, the journal replayed: every acknowledged write is there (or a newer one).
  const deadline = now() + 15_000;
  while (cache.mode !== 'redis' && now() < deadline) await sleep(50);
  await sleep(500);
  const admin = redis.client();
  let lostWrites = 0;
  for (const [k, v] of acked) {
    const raw = await admin.get(`s:k:${k}`);
    const held = raw === null ? null : Number(decodeRecord(raw)?.json);
    if (held === null || held < v) lostWrites++;
  }
  await cache.onApplicationShutdown();
  await redis.stop();

  const slice = (from: number, to: number) => lat.filter((_, i) => t[i] >= from && t[i] < to).sort((a, b) => a - b);
  const during = slice(stopAt, resumeAt);
  const before = slice(stopAt - 1_500, stopAt);
  return {
    config: `CacheService, default options (commandTimeoutMs 250); ${opts.workers} workers, 1 write in 4, ${opts.keys} keys, pace ${opts.paceMs} ms/worker`,
    stopMs: opts.stopMs,
    callsPerSecond: Math.round((during.length / opts.stopMs) * 1000),
    during: { calls: during.length, p50: pct(during, 50), p99: pct(during, 99), p999: pct(during, 99.9), max: during[during.length - 1] ?? 0, over10ms: during.filter((x) => x > 10).length },
    before: { calls: before.length, p50: pct(before, 50), p99: pct(before, 99) },
    failed,
    lostWrites,
  };
}
