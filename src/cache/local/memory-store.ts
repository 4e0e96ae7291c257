import { MemoryEntry, confirmationTime, deepFreeze, entryOf } from './memory-entry.js';

export { MemoryEntry, confirmationTime, deepFreeze, entryOf };

export interface MemoryStoreLimits {
  maxEntries: number;
  maxBytes: number;
}

/**
 * The in-memory store: the only store in `memory` mode, the warm mirror of Redis otherwise.
 * Bounded by entries and bytes with least-recently-used eviction; entries expire at the same
 * absolute instant as in Redis. Writes are newer-version-wins, so a slow mirror of an old Redis
 * read can never replace a newer local write.
 */
export class MemoryStore {
  private readonly map = new Map<string, MemoryEntry>();
  private totalBytes = 0;
  private evictions = 0;

  constructor(
    private readonly limits: MemoryStoreLimits,
    private readonly now: () => number,
    /** Keys that must survive eviction (e.g. writes not yet replayed to Redis). */
    private readonly isPinned: (key: string) => boolean = () => false,
  ) {}

  get size(): number {
    return this.map.size;
  }
  get bytes(): number {
    return this.totalBytes;
  }
  get evicted(): number {
    return this.evictions;
  }

  /**
   * The live entry for a key, or undefined if absent or expired. Recency is a second chance
   * (CLOCK): a hit only marks the entry, and eviction moves a marked entry to the newest end
   * instead of dropping it. A hit never reorders the map (a delete+set costs ~15x the lookup).
   */
  get(key: string): MemoryEntry | undefined {
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    if (e.expiredAt(this.now())) {
      this.remove(key, e);
      return undefined;
    }
    e.touch();
    return e;
  }

  /** Like get, without touching recency. */
  peek(key: string): MemoryEntry | undefined {
    const e = this.map.get(key);
    if (!e || e.expiredAt(this.now())) return undefined;
    return e;
  }

  /**
   * Stores the entry unless a newer version is already held. Returns whether it was stored.
   * Takes ownership of the object (sets its size and recency in place: no copy on the write path).
   */
  set(key: string, entry: MemoryEntry): boolean {
    const existing = this.map.get(key);
    if (existing && existing.version > entry.version) return false;
    entry.bytes = entryBytes(key, entry.json);
    if (existing) {
      // Replaced in its slot (the map keeps its flat key); a write counts as a use.
      this.totalBytes -= existing.bytes;
      entry.touch();
    } else key = flat(key);
    this.map.set(key, entry);
    this.totalBytes += entry.bytes;
    this.evict();
    return true;
  }

  /** Whether `entry` is the object stored under `key` (no expiry check: it was just stored). */
  holds(key: string, entry: MemoryEntry): boolean {
    return this.map.get(key) === entry;
  }

  has(key: string): boolean {
    return this.peek(key) !== undefined;
  }

  delete(key: string): void {
    const e = this.map.get(key);
    if (e) this.remove(key, e);
  }

  clear(): void {
    this.map.clear();
    this.totalBytes = 0;
  }

  /** Drops expired entries; reads already ignore them, this only gives the memory back. */
  sweepExpired(): number {
    const now = this.now();
    let n = 0;
    for (const [k, e] of this.map) {
      if (e.expiredAt(now)) {
        this.remove(k, e);
        n++;
      }
    }
    return n;
  }

  *entries(): IterableIterator<[string, MemoryEntry]> {
    const now = this.now();
    for (const [k, e] of this.map) {
      if (!e.expiredAt(now)) yield [k, e];
    }
  }

  private evict(): void {
    if (this.map.size <= this.limits.maxEntries && this.totalBytes <= this.limits.maxBytes) return;
    // Entries moved to the end are visited again (unmarked), so this ends within two passes.
    for (const [k, e] of this.map) {
      if (this.map.size <= this.limits.maxEntries && this.totalBytes <= this.limits.maxBytes) break;
      if (this.isPinned(k)) continue;
      if (e.referenced) {
        e.untouch();
        this.map.delete(k);
        this.map.set(k, e);
        continue;
      }
      this.remove(k, e);
      this.evictions++;
    }
  }

  private remove(key: string, e: MemoryEntry): void {
    this.map.delete(key);
    this.totalBytes -= e.bytes;
  }
}

/**
 * A prefixed key is a rope (the prefix and the caller's string, 13+ characters); kept as a map key
 * it holds both parts. normalize() returns one flat copy (about 30 bytes less per entry); a key it
 * would change (non-NFC text) is kept as it is.
 */
function flat(key: string): string {
  if (key.length < 13) return key;
  const f = key.normalize();
  return f === key ? f : key;
}

/** Rough footprint: UTF-16 key and JSON plus a fixed overhead per entry. */
function entryBytes(key: string, json: string): number {
  return 2 * (key.length + json.length) + 96;
}
