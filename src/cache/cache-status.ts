import type { CacheMode, CacheStatus } from './core/cache.types.js';
import type { StatusSources } from './engine/engine.js';
import { JOURNAL_POLICY } from './local/recovery-journal.js';

/** The parts whose counters make up CacheService.getStatus() (null where Redis is not configured). */
export interface StatusParts extends StatusSources {
  mode: CacheMode;
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
