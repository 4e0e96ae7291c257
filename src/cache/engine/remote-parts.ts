import type { Logger } from '@nestjs/common';
import { AppendLog } from './append-log.js';
import type { CacheGateway } from '../redis/cache-gateway.js';
import type { RemoteParts } from './cache-stack.js';
import type { ResolvedCacheOptions } from '../core/cache.options.js';
import { Claims } from './claims.js';
import type { ClockOffset } from '../core/clock-offset.js';
import type { HybridLogicalClock } from '../core/hlc.js';
import type { LocalStack } from '../local/local-stack.js';
import type { NearCache } from './near-cache.js';
import { RecoveryMachine } from './recovery.js';
import { memberIdFor } from '../local/member-id.js';
import { ReplayQuarantine } from '../local/replay-quarantine.js';

/** What the facade has built before the Redis-side parts. */
export interface BaseParts {
  options: ResolvedCacheOptions;
  local: LocalStack;
  near: NearCache;
  hlc: HybridLogicalClock;
  clock: () => number;
  clockOffset: ClockOffset;
  logger: Logger;
}

/** The parts that exist only with Redis: records (the one script path), the mode machine, claims. */
export function buildRemote(gateway: CacheGateway, p: BaseParts): RemoteParts {
  const o = p.options;
  const records = gateway.records(() => p.near.publishChannel());
  const memberId = memberIdFor(o.snapshot?.path ?? null, o.instanceId);
  const ids = { keyPrefix: o.keyPrefix, instanceId: o.instanceId, memberId, reseedWindowMs: o.reseedWindowMs, clockSyncIntervalMs: o.clockSyncIntervalMs, tombstoneTtlMs: o.tombstoneTtlMs };
  const recovery = new RecoveryMachine(gateway, records, p.local, p.near, p.hlc, p.clock, p.logger, ids, p.clockOffset, new ReplayQuarantine(p.logger));
  const settings = { markerKey: o.keyPrefix, commandTimeoutMs: o.commandTimeoutMs, tombstoneTtlMs: o.tombstoneTtlMs, clock: p.clock };
  const claims = new Claims(gateway, records, recovery, p.local, p.hlc, settings);
  return { records, recovery, claims };
}

/**
 * Append logs (append-log.ts) on the same journal, snapshot and recovery: in each pass, after the
 * keys, the logs' journal is replayed (and re-seeded), then timed-out claims are withdrawn.
 */
export function buildLogs(gateway: CacheGateway | null, remote: RemoteParts | null, p: BaseParts, fullKey: (k: string) => string): AppendLog {
  const recovery = remote?.recovery ?? null;
  const logs = new AppendLog({
    gateway,
    hlc: p.hlc,
    journal: p.local.journal,
    clock: p.clock,
    fullKey,
    keyPrefix: p.options.keyPrefix,
    redisUsable: () => recovery!.writesToRedis,
    reseeding: () => recovery?.reseeding ?? false,
    pending: () => recovery?.scheduleDrain(),
    changed: () => p.local.markDirty(),
    durable: (row) => p.local.snapshot.appendDurableLog(row),
  });
  p.local.snapshot.logs = logs;
  if (remote) {
    remote.recovery.extensions.push(
      { replay: () => logs.replay(), reseed: () => logs.reseed() },
      { replay: async () => void (await remote.claims.drainReleases()), reseed: async () => undefined },
    );
  }
  return logs;
}
