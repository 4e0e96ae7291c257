import type { CacheCore } from './cache-core.js';

export interface ClearResult {
  /** Distinct keys a tombstone was written for. */
  deleted: number;
  /** False when Redis could not be scanned (down, or failed mid-way): keys only Redis holds may remain. */
  complete: boolean;
}

/** Tombstones written at once: bounded, and batched into multi-key script calls by the gateway. */
const DELETE_BATCH = 64;

/**
 * Deletes every key under a full prefix with tombstones (so an older write replayed later cannot
 * bring one back): the keys memory holds, then what a bounded SCAN finds on each Redis node.
 * While Redis is unusable only memory's keys are deleted (journaled) and `complete` is false.
 */
export async function clear(core: CacheCore, fullPrefix: string): Promise<ClearResult> {
  const done = new Set<string>();
  const drop = async (keys: string[]) => {
    const todo = keys.filter((k) => k !== core.keyPrefix && !done.has(k));
    for (let i = 0; i < todo.length; i += DELETE_BATCH) {
      const batch = todo.slice(i, i + DELETE_BATCH);
      for (const k of batch) done.add(k);
      await Promise.all(batch.map((k) => core.delete(k)));
    }
  };
  await drop(core.localKeys(fullPrefix));
  if (core.memoryOnly) return { deleted: done.size, complete: true };
  try {
    await core.scan(fullPrefix, drop);
    return { deleted: done.size, complete: true };
  } catch {
    return { deleted: done.size, complete: false };
  }
}
