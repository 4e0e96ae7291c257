import type { StoredRecord } from '../core/cache-codec.js';
import type { ClaimResult, ReadResult, SetOptions, WriteResult } from '../core/cache.types.js';

/**
 * What the higher-level API (getOrSet, update, clear, namespaces) needs from the cache, on full
 * (prefixed, validated) keys. The facade builds it from its internals, so the API files never
 * reach into the mode machine and keep the same fault semantics as get/set.
 */
export interface CacheCore {
  readonly instanceId: string;
  readonly keyPrefix: string;
  readonly commandTimeoutMs: number;
  /** No Redis configured: memory is authoritative (a key it does not hold does not exist). */
  readonly memoryOnly: boolean;
  /** Validates a caller's key and prefixes it. */
  fullKey(key: string): string;
  read<T>(k: string): Promise<ReadResult<T>>;
  set(k: string, value: unknown, options: SetOptions): Promise<WriteResult>;
  delete(k: string): Promise<WriteResult>;
  claim<T>(k: string, value: T, options: SetOptions): Promise<ClaimResult<T>>;
  /** Compare-and-delete of a claim this instance was granted: only while the key holds `version`. */
  releaseClaim(k: string, version: string): Promise<void>;
  /** Absolute expiry for set options (validated), null for none. */
  expiryFrom(options: SetOptions): number | null;
  /** A fresh record with this instance's next version. */
  record(value: unknown, expiresAt: number | null): StoredRecord;
  /** Whether the key may be read from and written to Redis right now (else memory decides). */
  redisUsableFor(k: string): boolean;
  /** What Redis holds (versions observed); throws when Redis cannot be asked. */
  fetch(k: string): Promise<StoredRecord | null>;
  /** What memory holds (a tombstone included), or undefined. */
  local(k: string): StoredRecord | undefined;
  /** CAS_IF_VERSION_LUA through the gateway; on success memory and the journal follow. Throws when the outcome is unknown. */
  writeIfVersion(k: string, expected: string, rec: StoredRecord): Promise<1 | string>;
  /** The ordinary write path (CAS newest-wins, journal in fallback). */
  write(k: string, rec: StoredRecord): Promise<WriteResult>;
  /** Keys in memory (values and tombstones) starting with a full prefix. */
  localKeys(fullPrefix: string): string[];
  /**
   * SCANs every Redis node (every master on Cluster) for keys starting with a full prefix, one
   * bounded batch at a time; `onBatch` runs before the next SCAN. Throws when Redis cannot be asked.
   */
  scan(fullPrefix: string, onBatch: (keys: string[]) => Promise<void>): Promise<void>;
}
