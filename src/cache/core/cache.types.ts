import type { ClockStatus } from './clock-offset.js';

export type CacheMode = 'memory' | 'redis' | 'fallback' | 'recovering';

export interface ModeTransition {
  from: CacheMode;
  to: CacheMode;
  at: Date;
  reason: string;
}

export type ReadState = 'hit' | 'miss' | 'unavailable';
export type ReadSource = 'redis' | 'memory' | 'none';

/**
 * `unavailable` means Redis could not be asked and memory does not know the key: callers that
 * must fail closed can tell "no value" from "cannot know".
 */
export interface ReadResult<T> {
  state: ReadState;
  value?: T;
  source: ReadSource;
  version?: string;
  expiresAt?: number | null;
  /**
   * Not the fleet's word: served from this instance's memory because Redis could not be asked for
   * this key (unreachable, or a write of this key waits for replay), or answered by a Redis that
   * forgot and that not every live replica has re-seeded yet (a hit or a miss). A change made
   * elsewhere meanwhile may be missing. Absent for vouched Redis reads, coherent L1 hits and a
   * memory-only cache.
   */
  fallback?: true;
  /**
   * With `fallback`: how long ago (ms) this copy was last known to be the newest (Redis answered or
   * acknowledged it, or this instance wrote it); absent when it never was (loaded from a snapshot).
   * Without `fallback` the answer is the fleet's word now. Callers bound how long they act on an
   * unconfirmed copy with it (the token store's `unconfirmedTokenUseMs`).
   */
  confirmedAgoMs?: number;
}

/** Per-write guarantees beyond the default (docs/cache.md, "Durable writes" and "Clock"). */
export interface WriteOptions {
  /**
   * Also on this instance's disk before the promise resolves (the snapshot's write-ahead file), so
   * a crash of this process right after cannot lose it. No effect without a snapshot configured.
   * setIfAbsent is durable unless this is false.
   */
  durable?: boolean;
  /**
   * Refuse (CACHE_CLOCK_NOT_SYNCED) while Redis is configured and this instance cannot version the
   * write by the fleet's clock: Redis' TIME never read since start-up, or versions it stamped by its
   * host clock before then still run ahead.
   */
  requireFleetClock?: boolean;
}

export type SetOptions = ({ ttlMs: number } | { expiresAt: Date | number } | { ttlMs?: never; expiresAt?: never }) & WriteOptions;

export interface WriteResult {
  version: string;
  /** `redis`: confirmed by Redis. `memory`: held in memory (and journaled for replay when Redis is configured). */
  store: 'redis' | 'memory';
  journaled: boolean;
}

export interface CacheStatus {
  mode: CacheMode;
  redisConfigured: boolean;
  connected: boolean;
  breakerState: 'closed' | 'open' | 'half-open' | 'none';
  /** Cluster: masters ("host:port") whose own breaker is open or half-open, their slots served from memory; empty elsewhere. */
  breakerOpenNodes: string[];
  fallbackSize: number;
  memoryBytes: number;
  memoryEvictions: number;
  journalSize: number;
  journalDropped: number;
  replayed: number;
  replayRejected: number;
  /** Journaled writes Redis rejected for good on replay (wrong type, bad argument): dropped, logged once each. */
  replayQuarantined: number;
  lastError: string | null;
  lastTransitionAt: string;
  transitions: number;
  reconnectAttempts: number;
  instanceId: string;
  /** Most journal entries held; beyond it `journalPolicy` applies and `journalDropped` counts. */
  journalCapacity: number;
  journalPolicy: 'drop-oldest';
  /** How long delete tombstones live in Redis and memory (ms). */
  tombstoneTtlMs: number;
  /**
   * Times Redis came back having forgotten (marker missing or changed, or another Redis process:
   * a restart from an older save, a failover) while memory held keys to re-seed.
   */
  emptyRedisDetections: number;
  /** True while memory copies are being written back to an emptied Redis. */
  reseeding: boolean;
  /** Keys written back by re-seeding, and those Redis already held at a newer version. */
  reseeded: number;
  reseedRejected: number;
  /**
   * After Redis forgot, claims of keys it does not hold are refused until every live replica has
   * re-seeded it, at most this long (fleet-wide, from the first re-seeding replica).
   */
  reseedWindowMs: number;
  /** A re-seed window is open: claims of keys Redis lacks are refused, reads from Redis are `fallback`. */
  reseedWindowOpen: boolean;
  /** Replicas on the fleet's roll call seen within the member TTL (this one included; 0 on Cluster). */
  fleetMembers: number;
  /** Reads where Redis answered older than (or without) the copy memory held: the newer copy was answered and written back. */
  rewoundReads: number;
  /** Timed-out claims waiting to be withdrawn, and those withdrawn so far (see docs/cache.md). */
  claimReleasesPending: number;
  claimsWithdrawn: number;
  /** This instance's offset to Redis' clock, used to stamp every write (see docs/cache.md). */
  clock: ClockStatus;
  l1: L1Status;
  snapshot: SnapshotStatus;
}

export interface L1Status {
  enabled: boolean;
  /** Subscribed and heartbeat answered: only then are reads served from L1. */
  live: boolean;
  hits: number;
  /** Invalidations that dropped a local copy (another instance wrote a newer version). */
  invalidations: number;
  /** Whole-L1 flushes: subscriber reconnects and returns from fallback. */
  flushes: number;
}

export type SnapshotLoadState = 'disabled' | 'ok' | 'missing' | 'corrupt' | 'undecryptable';

export interface SnapshotStatus {
  enabled: boolean;
  /** What start-up found; anything but ok/missing/disabled was reported once and ignored. */
  load: SnapshotLoadState;
  loadError: string | null;
  loadedEntries: number;
  loadedJournal: number;
  saves: number;
  lastSavedAt: string | null;
  lastSaveBytes: number;
  saveErrors: number;
  lastSaveError: string | null;
  /** Records read back from the write-ahead file at start-up (newer than the snapshot's). */
  loadedDurable: number;
  /** Durable writes appended to the write-ahead file, those that could not be, and the last such error. */
  durableWrites: number;
  durableErrors: number;
  lastDurableError: string | null;
}

/** Receives one call per cache operation (for metrics). Must be cheap and must not throw. */
export interface CacheObserver {
  operation(op: 'read' | 'set' | 'delete', result: string, store: string, durationMs: number): void;
}

/** Outcome of `setIfAbsent`: see CacheService.setIfAbsent. */
export interface ClaimResult<T> {
  state: 'claimed' | 'exists' | 'unknown';
  /**
   * Why an `unknown`: `unreachable` (Redis could not be asked), `timeout` (asked, no answer in
   * time: the claim may land later and is then withdrawn), `reseeding` (Redis came back empty and
   * the fleet has not re-seeded it yet: retry shortly, do not proceed without the claim).
   */
  reason?: 'unreachable' | 'timeout' | 'reseeding';
  value?: T;
  version?: string;
  authoritative: boolean;
}
