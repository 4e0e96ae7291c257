import { decodeRecord, type StoredRecord } from '../core/cache-codec.js';
import type { ClaimResult, ReadResult, WriteResult } from '../core/cache.types.js';
import type { HybridLogicalClock } from '../core/hlc.js';
import type { LocalStack } from '../local/local-stack.js';
import { confirmationTime, deepFreeze, type MemoryEntry } from '../local/memory-store.js';
import type { NearCache } from './near-cache.js';
import type { RecoveryMachine } from './recovery.js';
import type { RedisRecords } from '../redis/redis-records.js';
import type { Claims } from './claims.js';
import { VERSION_LENGTH, wallOf } from '../core/hlc.js';
import type { Continuation } from '../redis/deadline-queue.js';

/** Within this long of its expiry a copy Redis lacks may simply have expired there first. */
const FORGOTTEN_EXPIRY_MARGIN_MS = 1_000;

/** Redis and the parts that answer for it when it cannot: present only when Redis is configured. */
export interface RemoteParts {
  records: RedisRecords;
  recovery: RecoveryMachine;
  claims: Claims;
}

/**
 * One read, write or claim through the layers: L1, Redis (versioned compare-and-set, mirrored into
 * memory), and memory + journal whenever Redis cannot be used or the outcome is unknown. Every
 * Redis step is bounded by one command timeout.
 */
export class CacheStack {
  constructor(
    private readonly remote: RemoteParts | null,
    readonly local: LocalStack,
    readonly near: NearCache,
    private readonly hlc: HybridLogicalClock,
    private readonly commandTimeoutMs: number,
    /** How long a delete's tombstone lives: a newer copy than that is one Redis cannot have deleted since. */
    private readonly tombstoneTtlMs: number,
    private readonly clock: () => number,
  ) {}


  redisUsableFor(k: string): boolean {
    return this.remote !== null && this.remote.recovery.redisUsableFor(k);
  }

  async read<T>(k: string): Promise<ReadResult<T>> {
    const remote = this.remote;
    if (!remote) return this.fromMemory<T>(k, true);
    // Not while a re-seed window is open: the copy may be one a replica wrote back, not the fleet's word.
    if (this.near.serving() && remote.recovery.redisVouches) {
      const e = this.near.hit(k);
      if (e !== undefined) {
        e.confirmedAt = confirmationTime();
        return resultOf<T>(e);
      }
    }
    if (!remote.recovery.redisUsableFor(k)) return this.fromMemory<T>(k, false);
    const generation = this.near.generation;
    this.near.beginRead(k);
    let raw: string | null;
    try {
      raw = await remote.records.raw(k);
    } catch {
      this.near.endRead(k);
      return this.fromMemory<T>(k, false);
    }
    // An invalidation that arrived while the GET was in flight may be newer than its reply.
    const invalidated = this.near.endRead(k);
    const known = invalidated ? undefined : this.local.memory.peek(k);
    // While a re-seed window is open Redis may lack (or hold an older copy of) what a replica has
    // yet to write back: its answer, a miss included, is not the fleet's word (`fallback`).
    const vouched = remote.recovery.redisVouches;
    if (raw === null) {
      if (known !== undefined && this.forgotten(known)) return this.rewind<T>(k, known, remote);
      if (!this.local.journal.has(k)) this.local.forget(k);
      return redisMiss(vouched);
    }
    // Memory already holds this very record (a read of an unchanged key): nothing to decode.
    if (known !== undefined && sameRecord(raw, known)) {
      this.near.confirm(known, known.version, generation);
      if (known.tombstone) return redisMiss(vouched);
      const hit: ReadResult<T> = { state: 'hit', value: known.parsed() as T, source: 'redis', version: known.version, expiresAt: known.expiresAt };
      if (!vouched) return unconfirmed(hit, known);
      known.confirmedAt = confirmationTime();
      return hit;
    }
    const rec = decodeRecord(raw);
    if (!rec) return redisMiss(true);
    this.hlc.observe(rec.version);
    // Redis went back in time (a restart from an older save, a lagging failover): never follow it.
    if (known !== undefined && rec.version < known.version && this.forgotten(known)) return this.rewind<T>(k, known, remote);
    const entry = invalidated ? undefined : this.local.mirror(k, rec);
    this.near.confirm(entry, rec.version, generation);
    const held = entry !== undefined && entry.version === rec.version ? entry : undefined;
    // Of one version the tombstone wins (a withdrawn claim), whichever side holds it.
    if (rec.tombstone || held?.tombstone) return redisMiss(vouched);
    const value = held ? held.parsed() : deepFreeze(JSON.parse(rec.json));
    const hit: ReadResult<T> = { state: 'hit', value: value as T, source: 'redis', version: rec.version, expiresAt: rec.expiresAt };
    if (!vouched) return held ? unconfirmed(hit, held) : { ...hit, fallback: true };
    if (held) held.confirmedAt = confirmationTime();
    return hit;
  }

  /**
   * Whether Redis lacking memory's copy (or holding an older one) means it forgot: the copy is
   * younger than a tombstone's life, so any later delete would still be in Redis, and not about
   * to expire (Redis may have expired it a moment before this instance's clock says so).
   */
  private forgotten(e: MemoryEntry): boolean {
    const now = this.clock();
    if (e.expiresAt !== null && e.expiresAt - now < FORGOTTEN_EXPIRY_MARGIN_MS) return false;
    return now - wallOf(e.version) < this.tombstoneTtlMs;
  }

  /** Answers memory's newer copy and writes it back by version, through the journal (replayed in ~100 ms). */
  private rewind<T>(k: string, e: MemoryEntry, remote: RemoteParts): ReadResult<T> {
    remote.recovery.rewoundReads++;
    this.local.journalRecord(k, { version: e.version, expiresAt: e.expiresAt, tombstone: e.tombstone, json: e.json });
    remote.recovery.scheduleDrain();
    return unconfirmed(resultOf<T>(e), e);
  }

  /** Not async (one promise less per write): nothing here throws, every failure settles the promise. */
  write(k: string, rec: StoredRecord): Promise<WriteResult> {
    const remote = this.remote;
    if (!remote) {
      this.local.mirrorNew(k, rec);
      return Promise.resolve({ version: rec.version, store: 'memory', journaled: false });
    }
    if (!remote.recovery.writesToRedis) {
      // Journal first: a journaled key is pinned, so the memory store cannot evict the new copy.
      this.local.journalRecord(k, rec);
      this.local.mirrorNew(k, rec);
      this.local.confirm(k, rec.version);
      return Promise.resolve({ version: rec.version, store: 'memory', journaled: true });
    }
    const pending = new PendingWrite(this, remote, k, rec, this.near.generation);
    // Sent before memory takes its copy: Redis runs the script while this instance mirrors.
    const result = remote.records.cas(k, rec, undefined, pending);
    this.local.mirrorNew(k, rec);
    // One deadline for both attempts, taken after the send to keep the clock read off the round
    // trip's path (microseconds late at most); the answer always comes in a later microtask.
    pending.deadline = performance.now() + this.commandTimeoutMs;
    return result;
  }

  /**
   * Redis holds a version from a clock that runs ahead: this write is the newest thing the caller
   * knows, so it moves past that version once rather than being dropped.
   * @internal PendingWrite's, like `written` and `journalUnknown`.
   */
  async retry(w: PendingWrite, held: string): Promise<WriteResult> {
    const k = w.k;
    this.hlc.observe(held);
    const attempt = { ...w.rec, version: this.hlc.next() };
    this.local.mirror(k, attempt);
    let second: 1 | string;
    try {
      second = await w.remote.records.cas(k, attempt, w.deadline);
    } catch {
      return this.journalUnknown(k, attempt);
    }
    if (second !== 1) {
      this.hlc.observe(String(second));
      this.local.forget(k);
      return { version: attempt.version, store: 'redis', journaled: false };
    }
    return this.written(k, attempt, w.generation);
  }

  /** @internal Redis took the write: memory's copy is what Redis holds, nothing of it is left to replay. */
  written(k: string, rec: StoredRecord, generation: number): WriteResult {
    this.local.journalSettleUpTo(k, rec.version);
    this.local.confirm(k, rec.version);
    if (this.near.enabled) this.near.confirm(this.local.memory.peek(k), rec.version, generation);
    return { version: rec.version, store: 'redis', journaled: false };
  }

  /** @internal A write whose outcome is unknown: journaled (replayed by version) and drained soon. */
  journalUnknown(k: string, rec: StoredRecord): WriteResult {
    this.local.journalRecord(k, rec);
    this.local.mirror(k, rec);
    this.local.confirm(k, rec.version);
    this.remote?.recovery.scheduleDrain();
    return { version: rec.version, store: 'memory', journaled: true };
  }

  /** Withdraws a claim this instance was granted, only while the key still holds that version. */
  async releaseClaim(k: string, version: string): Promise<void> {
    if (this.remote) return this.remote.claims.releaseOwn(k, version);
    if (this.local.memory.peek(k)?.version === version) this.local.forget(k);
  }

  /** Atomic claim across instances; see CacheService.setIfAbsent and claims.ts. */
  async claim<T>(k: string, rec: StoredRecord): Promise<ClaimResult<T>> {
    const remote = this.remote;
    if (!remote || !remote.recovery.redisUsableFor(k)) {
      const known = this.local.memory.get(k);
      if (known && !known.tombstone) return { state: 'exists', value: known.parsed() as T, authoritative: !remote };
      if (remote) return { state: 'unknown', reason: 'unreachable', authoritative: false };
      this.local.mirror(k, rec);
      return { state: 'claimed', authoritative: true, version: rec.version };
    }
    return remote.claims.claim<T>(k, rec);
  }

  /** Version-conditional write for `update`; on success memory and the journal follow. */
  async writeIfVersion(k: string, expected: string, rec: StoredRecord): Promise<1 | string> {
    const reply = await this.remote!.records.ifVersion(k, expected, rec);
    if (reply !== 1) {
      if (reply !== '') this.hlc.observe(String(reply));
      return reply;
    }
    this.local.mirror(k, rec);
    this.local.confirm(k, rec.version);
    this.local.journalSettleUpTo(k, rec.version);
    return 1;
  }

  /** What Redis holds for a key (versions observed); throws when Redis cannot be asked. */
  async fetch(k: string): Promise<StoredRecord | null> {
    const rec = await this.remote!.records.fetch(k);
    if (rec) this.hlc.observe(rec.version);
    return rec;
  }

  private fromMemory<T>(k: string, authoritative: boolean): ReadResult<T> {
    const e = this.local.memory.get(k);
    if (!e) return { state: authoritative ? 'miss' : 'unavailable', source: 'none' };
    return authoritative ? resultOf<T>(e) : unconfirmed(resultOf<T>(e), e);
  }
}

/**
 * A live write waiting for Redis: the deadline queue hands it the answer in the same step (no
 * promise or closures of its own on the hot path).
 */
class PendingWrite implements Continuation<1 | string, WriteResult> {
  deadline = 0;

  constructor(
    private readonly stack: CacheStack,
    readonly remote: RemoteParts,
    readonly k: string,
    readonly rec: StoredRecord,
    readonly generation: number,
  ) {}

  answered(first: 1 | string): WriteResult | Promise<WriteResult> {
    return first === 1 ? this.stack.written(this.k, this.rec, this.generation) : this.stack.retry(this, String(first));
  }

  /** Failed or timed out: the write may or may not have landed, so replay decides by version. */
  failed(): WriteResult {
    return this.stack.journalUnknown(this.k, this.rec);
  }
}

/**
 * Whether `raw` is the record `e` holds: same version, expiry and kind. The version alone is not
 * enough: a withdrawn claim keeps its version as a tombstone (claim-release.ts). Reads the header
 * in place, with no allocation (cache-codec.ts has the format).
 */
export function sameRecord(raw: string, e: MemoryEntry): boolean {
  if (raw.charCodeAt(VERSION_LENGTH) !== 124 || !raw.startsWith(e.version)) return false;
  let i = VERSION_LENGTH + 1;
  let expiresAt = 0;
  for (let c = raw.charCodeAt(i); c >= 48 && c <= 57; c = raw.charCodeAt(++i)) expiresAt = expiresAt * 10 + (c - 48);
  if (i === VERSION_LENGTH + 1 || raw.charCodeAt(i) !== 124) return false;
  const kind = raw.charCodeAt(i + 1);
  return (e.tombstone ? kind === 100 : kind === 118) && expiresAt === (e.expiresAt ?? 0);
}

/** A miss Redis answered; `fallback` while a re-seed window is open (not the fleet's word). */
function redisMiss<T>(vouched: boolean): ReadResult<T> {
  return vouched ? { state: 'miss', source: 'redis' } : { state: 'miss', source: 'redis', fallback: true };
}

/** Not the fleet's word: says how long ago the copy was last known to be the newest, if ever. */
function unconfirmed<T>(r: ReadResult<T>, e: MemoryEntry): ReadResult<T> {
  return e.confirmedAt === 0 ? { ...r, fallback: true } : { ...r, fallback: true, confirmedAgoMs: confirmationTime() - e.confirmedAt };
}

function resultOf<T>(e: MemoryEntry): ReadResult<T> {
  if (e.tombstone) return { state: 'miss', source: 'memory', version: e.version };
  return { state: 'hit', value: e.parsed() as T, source: 'memory', version: e.version, expiresAt: e.expiresAt };
}
