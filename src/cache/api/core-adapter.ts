import type { StoredRecord } from '../core/cache-codec.js';
import { serialise, type CacheKeys } from '../core/cache-keys.js';
import type { CacheStack } from '../engine/cache-stack.js';
import type { ClaimResult, ReadResult, SetOptions, WriteResult } from '../core/cache.types.js';
import type { CacheGateway } from '../redis/cache-gateway.js';
import type { HybridLogicalClock } from '../core/hlc.js';
import type { CacheCore } from './cache-core.js';

/** The facade's full-key operations (with its observer), which the API files build on. */
export interface FacadeOps {
  read<T>(k: string): Promise<ReadResult<T>>;
  set(k: string, value: unknown, options: SetOptions): Promise<WriteResult>;
  delete(k: string): Promise<WriteResult>;
  claim<T>(k: string, value: T, options: SetOptions): Promise<ClaimResult<T>>;
  write(k: string, rec: StoredRecord): Promise<WriteResult>;
}

/** Builds the CacheCore the API files (getOrSet, update, clear) run on. */
export function coreAdapter(
  ops: FacadeOps,
  stack: CacheStack,
  keys: CacheKeys,
  hlc: HybridLogicalClock,
  gateway: CacheGateway | null,
  settings: { instanceId: string; commandTimeoutMs: number; clock: () => number },
): CacheCore & { now(): number } {
  return {
    instanceId: settings.instanceId,
    keyPrefix: keys.prefix,
    commandTimeoutMs: settings.commandTimeoutMs,
    memoryOnly: gateway === null,
    now: settings.clock,
    fullKey: (key) => keys.full(key),
    read: (k) => ops.read(k),
    set: (k, value, options) => ops.set(k, value, options),
    delete: (k) => ops.delete(k),
    claim: (k, value, options) => ops.claim(k, value, options),
    releaseClaim: (k, version) => stack.releaseClaim(k, version),
    write: (k, rec) => ops.write(k, rec),
    expiryFrom: (options) => keys.expiryFrom(options),
    record: (value, expiresAt) => ({ version: hlc.next(), expiresAt, tombstone: false, json: serialise(value) }),
    redisUsableFor: (k) => stack.redisUsableFor(k),
    fetch: (k) => stack.fetch(k),
    local: (k) => stack.local.memory.get(k),
    writeIfVersion: (k, expected, rec) => stack.writeIfVersion(k, expected, rec),
    localKeys: (prefix) => {
      const out: string[] = [];
      for (const [k] of stack.local.memory.entries()) if (k.startsWith(prefix)) out.push(k);
      return out;
    },
    scan: (prefix, onBatch) => {
      if (!gateway || !stack.redisUsableFor(prefix)) return Promise.reject(new Error('Redis is not usable'));
      return gateway.scanKeys(prefix, onBatch);
    },
  };
}
