import type { CacheGateway } from './redis/cache-gateway.js';
import type { ResolvedCacheOptions } from './core/cache.options.js';
import type { CacheMode, CacheStatus } from './core/cache.types.js';
import type { Claims } from './engine/claims.js';
import type { ClockOffset } from './core/clock-offset.js';
import type { LocalStack } from './local/local-stack.js';
import type { NearCache } from './engine/near-cache.js';
import type { RecoveryMachine } from './engine/recovery.js';
import { JOURNAL_POLICY } from './local/recovery-journal.js';

/** The parts whose counters make up CacheService.getStatus() (null where Redis is not configured). */
export interface StatusParts {
  mode: CacheMode;
  gateway: CacheGateway | null;
  recovery: RecoveryMachine | null;
  local: LocalStack;
  near: NearCache;
  claims: Claims | null;
  clock: ClockOffset;
  options: ResolvedCacheOptions;
  createdAt: Date;
}

export function statusOf(p: StatusParts): CacheStatus {
  const { gateway: g, recovery: r, options } = p;
  const w = r?.writer;
  const { memory, journal } = p.local;
  return {
    mode: p.mode,
    redisConfigured: g !== null,
    connected: g?.isConnected ?? false,
    breakerState: g?.breakerState ?? 'none',
    breakerOpenNodes: g ? [...g.breakerOpenNodes] : [],
    fallbackSize: memory.size,
    memoryBytes: memory.bytes,
    memoryEvictions: memory.evicted,
    journalSize: journal.size,
    journalDropped: journal.dropped,
    replayed: w?.replayed ?? 0,
    replayRejected: w?.replayRejected ?? 0,
    replayQuarantined: w?.quarantine.quarantined ?? 0,
    lastError: g?.lastError ?? null,
    lastTransitionAt: (r?.lastTransitionAt ?? p.createdAt).toISOString(),
    transitions: r?.transitions ?? 0,
    reconnectAttempts: g?.reconnectAttempts ?? 0,
    instanceId: options.instanceId,
    journalCapacity: journal.capacity,
    journalPolicy: JOURNAL_POLICY,
    tombstoneTtlMs: options.tombstoneTtlMs,
    emptyRedisDetections: r?.emptyRedisDetections ?? 0,
    reseeding: r?.reseeding ?? false,
    reseeded: w?.reseeded ?? 0,
    reseedRejected: w?.reseedRejected ?? 0,
    reseedWindowMs: options.reseedWindowMs,
    reseedWindowOpen: r?.fleet?.windowOpen ?? false,
    fleetMembers: r?.fleet?.liveMembers() ?? 0,
    rewoundReads: r?.rewoundReads ?? 0,
    claimReleasesPending: p.claims?.releases.size ?? 0,
    claimsWithdrawn: p.claims?.releases.withdrawn ?? 0,
    clock: p.clock.status(),
    l1: p.near.status(),
    snapshot: { ...p.local.snapshot.status },
  };
}
