import { decodeRecord, encodeRecord, type StoredRecord } from '../core/cache-codec.js';
import type { CommandExecutor } from './command-executor.js';
import type { Continuation } from './deadline-queue.js';

/** Redis' PXAT argument for a record: its absolute expiry, 0 for none. */
export function pxat(rec: StoredRecord): string {
  return rec.expiresAt === null ? '0' : String(rec.expiresAt);
}

/**
 * Records in Redis, the one path every versioned write takes: the scripts' arguments (version,
 * encoded record, PXAT, L1 channel) are assembled here and nowhere else. Every call is bounded by
 * the executor (one command timeout, or what is left of `deadline`) and throws when Redis cannot be
 * used or the outcome is unknown. Built by CacheGateway.records().
 */
export class RedisRecords {
  constructor(
    private readonly exec: CommandExecutor,
    /** The L1 invalidation channel to publish on ('' for none). */
    private readonly channel: () => string,
  ) {}

  /** CAS_SET_LUA: 1 when written, else the stored (newer or equal) version; or what `next` makes of it. */
  cas(k: string, rec: StoredRecord, deadline?: number): Promise<1 | string>;
  cas<R>(k: string, rec: StoredRecord, deadline: number | undefined, next: Continuation<1 | string, R>): Promise<R>;
  cas<R>(k: string, rec: StoredRecord, deadline?: number, next?: Continuation<1 | string, R>): Promise<1 | string | R> {
    const g = this.exec;
    const send = () => g.casSet(k, rec.version, encodeRecord(rec), pxat(rec), this.channel());
    return next ? g.runFor('casSet', k, send, deadline, next) : g.runFor('casSet', k, send, deadline);
  }

  /** CAS_SET_LUA as a call of its own, never coalesced with others (a batch fails as a whole). */
  casAlone(k: string, rec: StoredRecord): Promise<1 | string> {
    return this.exec.runFor('casSet', k, (c) => c.casSet(k, rec.version, encodeRecord(rec), pxat(rec), this.channel()));
  }

  /** ADD_LUA (set-if-absent): 1 when written, else the record that holds the key. */
  add(k: string, rec: StoredRecord, deadline?: number): Promise<1 | string> {
    return this.exec.runFor('casAdd', k, (c) => c.casAdd(k, rec.version, encodeRecord(rec), pxat(rec), this.channel()), deadline);
  }

  /**
   * CLAIM_LUA (reseed-window.ts): set-if-absent that puts back the live copy `seed` memory holds and,
   * with the marker key (not on Cluster), refuses while the fleet's re-seed window is open.
   */
  claim(k: string, markerKey: string | null, rec: StoredRecord, seed: StoredRecord | null, now: number, deadline?: number): Promise<0 | 1 | 2 | string> {
    const keys = markerKey === null ? [k] : [k, markerKey];
    const s = seed ? [seed.version, encodeRecord(seed), pxat(seed)] : ['', '', '0'];
    return this.exec.runFor('casClaim', k, (c) => c.casClaim(keys.length, ...keys, rec.version, encodeRecord(rec), pxat(rec), this.channel(), ...s, String(now)), deadline);
  }

  /** RELEASE_CLAIM_LUA (scripts/claim-release-script.ts): withdraws a timed-out claim; 1 when withdrawn. */
  release(k: string, tomb: StoredRecord): Promise<0 | 1> {
    return this.exec.runFor('releaseClaim', k, (c) => c.releaseClaim(k, tomb.version, encodeRecord(tomb), pxat(tomb), this.channel()));
  }

  /** CAS_IF_VERSION_LUA: 1 when written, else the stored version ('' when absent). */
  ifVersion(k: string, expected: string, rec: StoredRecord): Promise<1 | string> {
    return this.exec.runFor('casIfVersion', k, (c) => c.casIfVersion(k, rec.version, encodeRecord(rec), pxat(rec), this.channel(), expected));
  }

  /** The raw value (GET, coalesced under load). */
  raw(k: string): Promise<string | null> {
    const g = this.exec;
    return g.runFor('get', k, () => g.get(k));
  }

  /** The decoded record, null when absent or not in the record format. */
  async fetch(k: string): Promise<StoredRecord | null> {
    const raw = await this.raw(k);
    return raw === null ? null : decodeRecord(raw);
  }
}
