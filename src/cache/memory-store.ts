/**
 * The in-memory store: the only store in `memory` mode, the warm mirror of Redis otherwise.
 * Bounded by entries and bytes with least-recently-used eviction; entries expire at the same
 * absolute instant as in Redis. Writes are newer-version-wins, so a slow mirror of an old Redis
 * read can never replace a newer local write.
 */
export interface MemoryEntry {
  version: string;
  expiresAt: number | null;
  tombstone: boolean;
  /** Serialised value (what Redis holds); empty for tombstones. */
  json: string;
  /** Parsed, deep-frozen value, so a hit costs a Map lookup and callers cannot mutate it. */
  value: unknown;
  bytes: number;
  /**
   * L1 generation in which this entry was confirmed to be what Redis holds; it is fresh only
   * while that generation is current (bumping the generation flushes L1 in O(1)).
   */
  l1?: number;
  /** Recency position (set by the store). */
  seq?: number;
}

export interface MemoryStoreLimits {
  maxEntries: number;
  maxBytes: number;
}

export class MemoryStore {
  private readonly map = new Map<string, MemoryEntry>();
  private totalBytes = 0;
  private evictions = 0;
  /** Position in recency order, counted on every insert or move. */
  private tick = 0;

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
   * The live entry for a key, or undefined if absent or expired. Recency is approximate: an entry
   * already in the newer half of the order is not moved, because a Map delete+set costs ~15x the
   * lookup itself and a hot key would pay it on every hit (L1 hits must cost about a lookup).
   */
  get(key: string): MemoryEntry | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    if (e.expiresAt !== null && e.expiresAt <= this.now()) {
      this.remove(key, e);
      return undefined;
    }
    if (this.tick - e.seq! >= this.map.size >> 1) {
      this.map.delete(key);
      this.map.set(key, e);
      e.seq = ++this.tick;
    }
    return e;
  }

  /** Like get, without touching recency. */
  peek(key: string): MemoryEntry | undefined {
    const e = this.map.get(key);
    if (!e || (e.expiresAt !== null && e.expiresAt <= this.now())) return undefined;
    return e;
  }

  /**
   * Stores the entry unless a newer version is already held. Returns whether it was stored.
   * Takes ownership of the object (sets its size and recency in place: no copy on the write path).
   */
  set(key: string, entry: Omit<MemoryEntry, 'bytes'>): boolean {
    const existing = this.map.get(key);
    if (existing && existing.version > entry.version) return false;
    if (existing) this.remove(key, existing);
    const full = entry as MemoryEntry;
    full.bytes = entryBytes(key, entry.json);
    full.seq = ++this.tick;
    this.map.set(key, full);
    this.totalBytes += full.bytes;
    this.evict();
    return true;
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
      if (e.expiresAt !== null && e.expiresAt <= now) {
        this.remove(k, e);
        n++;
      }
    }
    return n;
  }

  *entries(): IterableIterator<[string, MemoryEntry]> {
    const now = this.now();
    for (const [k, e] of this.map) {
      if (e.expiresAt === null || e.expiresAt > now) yield [k, e];
    }
  }

  private evict(): void {
    if (this.map.size <= this.limits.maxEntries && this.totalBytes <= this.limits.maxBytes) return;
    for (const [k, e] of this.map) {
      if (this.map.size <= this.limits.maxEntries && this.totalBytes <= this.limits.maxBytes) break;
      if (this.isPinned(k)) continue;
      this.remove(k, e);
      this.evictions++;
    }
  }

  private remove(key: string, e: MemoryEntry): void {
    this.map.delete(key);
    this.totalBytes -= e.bytes;
  }
}

/** A store entry for a record, all fields present from the start (one object shape for V8). */
export function entryOf(rec: Pick<MemoryEntry, 'version' | 'expiresAt' | 'tombstone' | 'json'>): MemoryEntry {
  return { version: rec.version, expiresAt: rec.expiresAt, tombstone: rec.tombstone, json: rec.json, value: undefined, bytes: 0, l1: undefined, seq: 0 };
}

/** Rough footprint: UTF-16 key and JSON plus a fixed overhead per entry. */
function entryBytes(key: string, json: string): number {
  return 2 * (key.length + json.length) + 96;
}

export function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
  }
  return v;
}
