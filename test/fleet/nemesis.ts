import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { failoverToLagging, startLaggingReplica } from '../helpers/redis-replica.js';
import type { RedisProcess } from '../helpers/redis-server.js';
import type { TcpProxy } from '../helpers/tcp-proxy.js';
import type { Fault, FaultKind } from './history.js';
import type { Prng } from './prng.js';

/**
 * The faults: a seeded schedule of one fault at a time, each healed before the next. What a fault
 * does to the fleet goes through a small interface, so a new fault (or a new way to skew a clock)
 * is wired in one place.
 */

/** Every Redis of the fleet, the first and any promoted replica: AOF, so a restart keeps its data. */
export const REDIS_ARGS = ['--appendonly', 'yes', '--appendfsync', 'always'];

export interface FleetControls {
  /** The current master (a failover replaces it). */
  redis: RedisProcess;
  /** Its working dir (AOF on, fsync always), so a restart "with data" finds it. */
  redisDir: string;
  /** A fresh dir for a new Redis (a replica to promote), removed with the run. */
  newRedisDir(): string;
  /** Stops something a fault started, when the run ends. */
  onCleanup(fn: () => Promise<unknown>): void;
  /** proxies[i] carries replica i's Redis connections. */
  proxies: TcpProxy[];
  restartReplica(replica: number, downMs: number): Promise<void>;
  /** A crash: the replica stops at once, without its shutdown work (see fleet.ts), then starts again. */
  crashReplica(replica: number, downMs: number): Promise<void>;
  /** Every cache clock of the replica reads Date.now() + offsetMs (see fleet.ts). */
  setClockOffset(replica: number, offsetMs: number): void;
}

export interface PlannedFault {
  kind: FaultKind;
  /** When to start, in ms after the previous fault healed. */
  gapMs: number;
  durationMs: number;
  replica: number;
  /** Clock faults: the offset, up to +-60 s (the skew the design must absorb). */
  offsetMs: number;
}

export const FAULT_WEIGHTS: Readonly<Record<FaultKind, number>> = {
  'redis-kill-keep': 2,
  'redis-kill-empty': 3,
  'redis-pause': 3,
  'partition-cut': 2,
  'partition-blackhole': 2,
  'replica-restart': 2,
  'clock-skew': 1,
  'skewed-partition': 2,
  'redis-restart-older': 2,
  'failover-lagging': 2,
  'replica-kill': 2,
};

/** Faults of Redis itself, which every replica sees: recorded without a replica. */
const REDIS_SCOPED: ReadonlySet<FaultKind> = new Set(['redis-kill-keep', 'redis-kill-empty', 'redis-pause', 'redis-restart-older', 'failover-lagging']);

export function planFault(rng: Prng, replicas: number): PlannedFault {
  const kind = rng.weighted(FAULT_WEIGHTS);
  return {
    kind,
    gapMs: rng.int(400, 1500),
    // A pause just over the command timeout is the nastiest (issue 11 item 3), so short ones too.
    durationMs: kind === 'redis-pause' && rng.chance(0.4) ? rng.int(260, 600) : rng.int(700, 3000),
    replica: rng.int(0, replicas - 1),
    offsetMs: (rng.chance(0.5) ? 1 : -1) * rng.int(5_000, 60_000),
  };
}

export async function inject(f: PlannedFault, c: FleetControls): Promise<Fault> {
  let startAt = Date.now();
  const proxy = c.proxies[f.replica];
  let detail: string | undefined;
  switch (f.kind) {
    case 'redis-kill-keep':
      await c.redis.kill();
      await sleep(f.durationMs);
      await c.redis.restart();
      break;
    case 'redis-kill-empty':
      await c.redis.kill();
      removeRedisData(c.redisDir);
      await sleep(f.durationMs);
      await c.redis.restart();
      break;
    case 'redis-pause':
      c.redis.pause();
      await sleep(f.durationMs);
      c.redis.resume();
      break;
    case 'redis-restart-older': {
      // Issue 19: Redis comes back from a copy of itself (its AOF as fsynced) taken durationMs earlier.
      const copy = await c.redis.copyData();
      await sleep(f.durationMs);
      await c.redis.kill();
      await c.redis.restartFrom(copy);
      detail = `copy taken ${Date.now() - copy.takenAt} ms before`;
      break;
    }
    case 'failover-lagging': {
      // Issue 19: a real replica misses durationMs of writes, then the master dies and it is promoted.
      const dir = c.newRedisDir();
      const lagging = await startLaggingReplica(c.redis, { dir, args: REDIS_ARGS });
      c.onCleanup(() => lagging.stop());
      await lagging.waitInSync();
      startAt = Date.now();
      lagging.pauseReplication();
      await sleep(f.durationMs);
      const old = c.redis;
      await failoverToLagging(old, lagging, c.proxies);
      c.redis = lagging.replica;
      c.redisDir = dir;
      await old.stop();
      detail = `lagged ${f.durationMs} ms, promoted :${lagging.replica.port}`;
      break;
    }
    case 'partition-cut':
      proxy.cut();
      await sleep(f.durationMs);
      proxy.restore();
      break;
    case 'partition-blackhole':
      proxy.blackhole();
      await sleep(f.durationMs);
      proxy.restore();
      break;
    case 'replica-restart':
      await c.restartReplica(f.replica, f.durationMs);
      break;
    case 'replica-kill':
      await c.crashReplica(f.replica, f.durationMs);
      break;
    case 'clock-skew':
      c.setClockOffset(f.replica, f.offsetMs);
      await sleep(f.durationMs);
      c.setClockOffset(f.replica, 0);
      detail = `offset ${f.offsetMs} ms`;
      break;
    case 'skewed-partition':
      // Issue 11 item 4: a replica whose clock runs ahead writes while cut off, then replays.
      c.setClockOffset(f.replica, Math.abs(f.offsetMs));
      proxy.cut();
      await sleep(f.durationMs);
      proxy.restore();
      await sleep(1500);
      c.setClockOffset(f.replica, 0);
      detail = `offset +${Math.abs(f.offsetMs)} ms`;
      break;
  }
  const scoped = REDIS_SCOPED.has(f.kind) ? {} : { replica: f.replica };
  return { kind: f.kind, ...scoped, startAt, endAt: Date.now(), ...(detail ? { detail } : {}) };
}

/** Heals whatever a fault interrupted by an error left behind. */
export async function healAll(c: FleetControls): Promise<void> {
  for (const p of c.proxies) {
    p.restore();
    if (p.targetPort !== c.redis.port) p.retarget(c.redis.port);
  }
  for (let i = 0; i < c.proxies.length; i++) c.setClockOffset(i, 0);
  if (c.redis.paused) c.redis.resume();
  if (!c.redis.running) await c.redis.restart();
}

function removeRedisData(dir: string): void {
  for (const name of readdirSync(dir)) {
    if (/\.(rdb|aof)$/.test(name) || name === 'appendonlydir') rmSync(join(dir, name), { recursive: true, force: true });
  }
}
