import type { StoredRecord } from './cache-codec.js';

export interface JournalLimits {
  maxEntries: number;
}

/** What happens when the journal is full: the one policy there is, named so status can report it. */
export const JOURNAL_POLICY = 'drop-oldest' as const;

/**
 * Writes and deletes that Redis has not confirmed: made in `fallback`, or timed out (their outcome
 * is unknown). One entry per key, the newest version, so replay is one compare-and-set per key.
 * When full, the entry with the oldest version is dropped and counted (`drop-oldest`): a long
 * outage costs the oldest unconfirmed writes rather than unbounded memory, and status says so.
 */
export class RecoveryJournal {
  private readonly map = new Map<string, StoredRecord>();
  private droppedCount = 0;

  constructor(
    private readonly limits: JournalLimits,
    private readonly now: () => number,
  ) {
    if (!Number.isInteger(limits.maxEntries) || limits.maxEntries < 1) throw new Error('journal maxEntries must be a positive integer');
  }

  get size(): number {
    return this.map.size;
  }
  get capacity(): number {
    return this.limits.maxEntries;
  }
  get dropped(): number {
    return this.droppedCount;
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  get(key: string): StoredRecord | undefined {
    return this.map.get(key);
  }

  /**
   * Keeps the newest record per key. Returns the key dropped to make room (policy drop-oldest),
   * or null when nothing was dropped.
   */
  record(key: string, rec: StoredRecord): string | null {
    const existing = this.map.get(key);
    if (existing && existing.version >= rec.version) return null;
    let droppedKey: string | null = null;
    if (existing) this.map.delete(key);
    else if (this.map.size >= this.limits.maxEntries) droppedKey = this.dropOldest();
    this.map.set(key, rec);
    return droppedKey;
  }

  /** Removes the entry only if it is still the version that was replayed. */
  settle(key: string, version: string): void {
    if (this.map.get(key)?.version === version) this.map.delete(key);
  }

  /** A newer write confirmed by Redis makes an older pending one pointless to replay. */
  settleUpTo(key: string, version: string): void {
    const e = this.map.get(key);
    if (e && e.version <= version) this.map.delete(key);
  }

  /** Entries whose expiry has passed need no replay: Redis would drop them at once anyway. */
  dropExpired(): number {
    const now = this.now();
    let n = 0;
    for (const [k, r] of this.map) {
      if (r.expiresAt !== null && r.expiresAt <= now) {
        this.map.delete(k);
        n++;
      }
    }
    return n;
  }

  /** A stable copy, oldest first (replay order does not matter for correctness: every write is a CAS). */
  snapshot(): [string, StoredRecord][] {
    return [...this.map];
  }

  clear(): void {
    this.map.clear();
  }

  /**
   * Every record comes from this instance's clock, which never goes backwards, and an updated key
   * is re-inserted at the end: so the first entry in insertion order is the oldest version. O(1).
   */
  private dropOldest(): string | null {
    const first = this.map.keys().next();
    if (first.done) return null;
    this.map.delete(first.value);
    this.droppedCount++;
    return first.value;
  }
}
