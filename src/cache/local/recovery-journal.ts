import type { StoredRecord } from '../core/cache-codec.js';

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
  /**
   * Append-log members (append-log.ts), a second kind of entry: one per member rather than one per
   * key, because a log merges every append instead of keeping the newest. Same capacity, own budget.
   */
  private readonly logs = new Map<string, Map<string, string>>();
  private logMembers = 0;

  constructor(
    private readonly limits: JournalLimits,
    private readonly now: () => number,
  ) {
    if (!Number.isInteger(limits.maxEntries) || limits.maxEntries < 1) throw new Error('journal maxEntries must be a positive integer');
  }

  get size(): number {
    return this.map.size + this.logMembers;
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
    this.logs.clear();
    this.logMembers = 0;
  }

  /** Keeps a log member until Redis confirms it; when full, the oldest member of any log is dropped (and counted). */
  recordLog(key: string, version: string, member: string): void {
    if (this.logs.get(key)?.has(version)) return;
    if (this.logMembers >= this.limits.maxEntries) this.dropOldestLogMember();
    // Fetched after dropping: the drop may have removed this log's map.
    let members = this.logs.get(key);
    if (!members) {
      members = new Map();
      this.logs.set(key, members);
    }
    members.set(version, member);
    this.logMembers++;
  }

  /** Members of the log not yet confirmed by Redis, oldest first. */
  pendingLog(key: string): string[] {
    return [...(this.logs.get(key)?.values() ?? [])];
  }

  hasLog(key: string): boolean {
    return this.logs.has(key);
  }

  /** Redis confirmed these members (by version): they need no replay. */
  settleLog(key: string, versions: readonly string[]): void {
    const members = this.logs.get(key);
    if (!members) return;
    for (const v of versions) if (members.delete(v)) this.logMembers--;
    if (members.size === 0) this.logs.delete(key);
  }

  /** Every key with something to replay (records, then logs). */
  *keys(): IterableIterator<string> {
    yield* this.map.keys();
    yield* this.logs.keys();
  }

  /** Log keys with members to replay. */
  logKeys(): string[] {
    return [...this.logs.keys()];
  }

  /** Each log's members come from this instance's clock in order: its first entry is its oldest. */
  private dropOldestLogMember(): void {
    let oldest: [string, string] | null = null;
    for (const [key, members] of this.logs) {
      const first = members.keys().next();
      if (!first.done && (oldest === null || first.value < oldest[1])) oldest = [key, first.value];
    }
    if (!oldest) return;
    this.settleLog(oldest[0], [oldest[1]]);
    this.droppedCount++;
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
