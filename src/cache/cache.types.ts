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
}

export type SetOptions = { ttlMs: number } | { expiresAt: Date | number } | Record<string, never>;

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
  fallbackSize: number;
  memoryBytes: number;
  memoryEvictions: number;
  journalSize: number;
  journalDropped: number;
  replayed: number;
  replayRejected: number;
  lastError: string | null;
  lastTransitionAt: string;
  transitions: number;
  reconnectAttempts: number;
  instanceId: string;
}

/** Receives one call per cache operation (for metrics). Must be cheap and must not throw. */
export interface CacheObserver {
  operation(op: 'read' | 'set' | 'delete', result: string, store: string, durationMs: number): void;
}
