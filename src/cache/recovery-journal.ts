import type { StoredRecord } from './cache-codec.js';

export interface JournalLimits {
  maxEntries: number;
}

/**
 * Writes and deletes that Redis has not confirmed: made in `fallback`, or timed out (their outcome
 * is unknown). One entry per key, the newest version, so replay is one compare-and-set per key.
 * When full, the entry with the oldest version is dropped and counted: the policy is reported in
 * status and metrics rather than growing without bound during a long outage.
 */
export class RecoveryJournal {
  private readonly map = new Map<string, StoredRecord>();
  private droppedCount = 0;

  constructor(
    private readonly limits: JournalLimits,
    private readonly now: () => number,
  ) {}

  get size(): number {
    return this.map.size;
  }
  get dropped(): number {
    return this.droppedCount;
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  record(key: string, rec: StoredRecord): void {
    const existing = this.map.get(key);
    if (existing && existing.version >= rec.version) return;
    if (existing) this.map.delete(key);
    else if (this.map.size >= this.limits.maxEntries) this.dropOldest();
    this.map.set(key, rec);
  }

  /** Removes the entry only if it is still the version that was replayed. */
  settle(key: string, version: string): void {
    if (this.map.get(key)?.version === version) this.map.delete(key);
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

  snapshot(): [string, StoredRecord][] {
    return [...this.map];
  }

  clear(): void {
    this.map.clear();
  }

  private dropOldest(): void {
    let oldestKey: string | null = null;
    let oldest = '';
    for (const [k, r] of this.map) {
      if (oldestKey === null || r.version < oldest) {
        oldestKey = k;
        oldest = r.version;
      }
    }
    if (oldestKey !== null) {
      this.map.delete(oldestKey);
      this.droppedCount++;
    }
  }
}
