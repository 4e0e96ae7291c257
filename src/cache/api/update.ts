import { CacheConflictError, CacheUnavailableError } from '../core/cache.errors.js';
import type { SetOptions, WriteOptions } from '../core/cache.types.js';
import type { CacheCore } from './cache-core.js';
import { CommandNotSentError } from '../redis/command-not-sent.js';

/** `durable`: the write that ends the update is durable; `requireFleetClock` is checked before `fn` runs. */
export interface UpdateOptions extends WriteOptions {
  /** New expiry; by default the key keeps the expiry it had (none for a new key). */
  ttlMs?: number;
  expiresAt?: Date | number;
  /** Attempts when another writer changes the key between read and write (default 5). */
  maxAttempts?: number;
  /**
   * Refuse (CACHE_UNAVAILABLE) rather than apply the change to memory and the journal while Redis
   * cannot be used (no effect without Redis configured, where memory is the store): for changes that must not replay newest-wins over a write made elsewhere
   * meanwhile (a bookkeeping field next to a revoke, say).
   */
  requireRedis?: boolean;
}

export interface UpdateResult<T> {
  value: T;
  version: string;
  /** `redis`: written only because Redis still held the version read. `memory`: Redis unusable, journaled. */
  store: 'redis' | 'memory';
  /** Kept in the recovery journal for replay (Redis unusable): no other instance sees it yet. */
  journaled: boolean;
  attempts: number;
}

const DEFAULT_ATTEMPTS = 5;

/**
 * Read, change, write only if the version is still the one read (CAS_IF_VERSION_LUA), retried.
 * While Redis cannot be used the change applies to what memory holds and is journaled like any
 * write (the version check across instances is then not possible; replay keeps newest-wins); a
 * conditional write refused before it was sent journals the change made to what was just read.
 * A conditional write that was sent and got no answer fails with CACHE_OUTCOME_UNKNOWN and is not
 * journaled. `requireRedis` refuses instead of journaling (CACHE_UNAVAILABLE).
 */
export async function update<T>(core: CacheCore, k: string, fn: (current: T | undefined) => T, options: UpdateOptions = {}): Promise<UpdateResult<T>> {
  const maxAttempts = options.maxAttempts ?? DEFAULT_ATTEMPTS;
  const expiryOptions: SetOptions | null =
    options.ttlMs !== undefined ? { ttlMs: options.ttlMs } : options.expiresAt !== undefined ? { expiresAt: options.expiresAt } : null;
  // Validated once, up front, so bad input fails before fn runs.
  const fixedExpiry = expiryOptions ? core.expiryFrom(expiryOptions) : undefined;
  // Without Redis configured memory is authoritative: nothing to wait for.
  const requireRedis = options.requireRedis === true && !core.memoryOnly;
  const local = (attempt: number) => (requireRedis ? Promise.reject(notApplied()) : updateLocally(core, k, fn, fixedExpiry, attempt));
  let notSent = false;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    if (!core.redisUsableFor(k)) return local(attempt);
    let current;
    try {
      current = await core.fetch(k);
    } catch {
      return local(attempt);
    }
    const live = current && !current.tombstone ? current : null;
    const next = fn(live ? (JSON.parse(live.json) as T) : undefined);
    const rec = core.record(next, fixedExpiry !== undefined ? fixedExpiry : (live?.expiresAt ?? null));
    let reply: 1 | string;
    try {
      reply = await core.writeIfVersion(k, current?.version ?? '', rec);
    } catch (err) {
      if (!(err instanceof CommandNotSentError)) {
        // It may have landed or not. Not journaled: a newest-wins replay could overwrite an update
        // another writer made meanwhile (the version check would be lost). docs/cache.md, "update".
        throw new CacheUnavailableError(
          'update outcome unknown: the version-conditional write got no answer in time and may or may not have been applied; read the key before retrying',
          'CACHE_OUTCOME_UNKNOWN',
        );
      }
      // Refused before it was sent (the breaker opened since the read): Redis did not change. The
      // change made to what was read is journaled like any write in an outage, not fn run again on
      // memory's copy, which may be older than what Redis just answered.
      notSent = true;
      if (core.redisUsableFor(k)) continue;
      if (requireRedis) throw notApplied();
      const r = await core.write(k, rec);
      return { value: next, version: r.version, store: r.store, journaled: r.journaled, attempts: attempt };
    }
    if (reply === 1) return { value: next, version: rec.version, store: 'redis', journaled: false, attempts: attempt };
    notSent = false;
  }
  if (notSent) throw new CacheUnavailableError('update not applied: its version-conditional write was refused before it was sent (circuit breaker) on the last attempt; retry');
  throw new CacheConflictError(`update of a key lost to concurrent writers ${maxAttempts} times in a row; retry later or raise maxAttempts`, maxAttempts);
}

function notApplied(): CacheUnavailableError {
  return new CacheUnavailableError('update not applied: Redis cannot be used right now and the update must not be applied to memory alone; retry when the cache is back in redis mode');
}

async function updateLocally<T>(core: CacheCore, k: string, fn: (current: T | undefined) => T, fixedExpiry: number | null | undefined, attempt: number): Promise<UpdateResult<T>> {
  const held = core.local(k);
  if (!held && !core.memoryOnly) throw new CacheUnavailableError('update needs the current value: Redis cannot be asked and this instance does not hold the key; retry when the cache is back in redis mode');
  const live = held && !held.tombstone ? held : null;
  const next = fn(live ? (JSON.parse(live.json) as T) : undefined);
  const rec = core.record(next, fixedExpiry !== undefined ? fixedExpiry : (live?.expiresAt ?? null));
  const r = await core.write(k, rec);
  return { value: next, version: r.version, store: r.store, journaled: r.journaled, attempts: attempt };
}
