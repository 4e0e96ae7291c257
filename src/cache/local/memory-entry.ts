/**
 * One key's copy in the memory store, laid out to be small: 100,000 token-sized entries are the
 * common case (docs/cache.md, "Memory per entry"). The serialised value is kept until the first
 * read parses it, then only the parsed, deep-frozen value (the JSON is re-derived if ever needed);
 * flags and size share one small integer; an expiry near now is stored as a small integer offset
 * instead of a boxed double.
 */
const TOMBSTONE = 1;
const PARSED = 2;
const NO_EXPIRY = 4;
const RELATIVE = 8;
const REFERENCED = 16;
const FLAG_SPAN = 32;
/** Expiries within ±2^30 ms (about 12 days) of this instant fit a small integer. */
const BASE = Math.floor(Date.now() / 1000) * 1000;
const REL_LIMIT = 2 ** 30;

export class MemoryEntry {
  /** Expiry: offset from BASE, or absolute ms (see flags). */
  private exp: number;
  /** JSON text until parsed, then the parsed value. */
  private data: unknown;
  /** bytes * FLAG_SPAN + flags. */
  private meta: number;
  /**
   * L1 generation in which this entry was confirmed to be what Redis holds; it is fresh only while
   * that generation is current (bumping the generation flushes L1 in O(1)). 0: never.
   */
  l1 = 0;
  /**
   * When (monotonic ms, whole) this copy was last known to be the newest: Redis answered it,
   * acknowledged it, or this instance wrote it. 0: never (loaded from a snapshot). ReadResult.confirmedAgoMs.
   */
  confirmedAt = 0;

  constructor(
    readonly version: string,
    expiresAt: number | null,
    tombstone: boolean,
    json: string,
  ) {
    let flags = tombstone ? TOMBSTONE : 0;
    if (expiresAt === null) {
      flags |= NO_EXPIRY;
      this.exp = 0;
    } else if (Number.isInteger(expiresAt) && Math.abs(expiresAt - BASE) < REL_LIMIT) {
      flags |= RELATIVE;
      this.exp = expiresAt - BASE;
    } else this.exp = expiresAt;
    this.data = tombstone ? '' : json;
    this.meta = flags;
  }

  get expiresAt(): number | null {
    const f = this.meta % FLAG_SPAN;
    if (f & NO_EXPIRY) return null;
    return f & RELATIVE ? BASE + this.exp : this.exp;
  }

  /** Whether it has expired at `now` (no allocation, for the hot path). */
  expiredAt(now: number): boolean {
    const f = this.meta % FLAG_SPAN;
    if (f & NO_EXPIRY) return false;
    return (f & RELATIVE ? BASE + this.exp : this.exp) <= now;
  }

  get tombstone(): boolean {
    return (this.meta % FLAG_SPAN & TOMBSTONE) !== 0;
  }

  /** The serialised value (what Redis holds); empty for tombstones. */
  get json(): string {
    return this.meta % FLAG_SPAN & PARSED ? JSON.stringify(this.data) : (this.data as string);
  }

  /** The parsed value if a read has parsed it already. */
  get value(): unknown {
    return this.meta % FLAG_SPAN & PARSED ? this.data : undefined;
  }

  /** Parses once, deep-frozen so callers cannot change what is cached; undefined for tombstones. */
  parsed(): unknown {
    const f = this.meta % FLAG_SPAN;
    if (f & PARSED) return this.data;
    if (f & TOMBSTONE) return undefined;
    this.data = deepFreeze(JSON.parse(this.data as string));
    this.meta += PARSED;
    return this.data;
  }

  /** Read since the store last placed it at the newest end (its second chance at eviction). */
  get referenced(): boolean {
    return (this.meta % FLAG_SPAN & REFERENCED) !== 0;
  }

  touch(): void {
    if ((this.meta % FLAG_SPAN & REFERENCED) === 0) this.meta += REFERENCED;
  }

  untouch(): void {
    if ((this.meta % FLAG_SPAN & REFERENCED) !== 0) this.meta -= REFERENCED;
  }

  /** Footprint counted against the store's byte limit (set once by the store). */
  get bytes(): number {
    return Math.floor(this.meta / FLAG_SPAN);
  }

  set bytes(n: number) {
    this.meta = n * FLAG_SPAN + (this.meta % FLAG_SPAN);
  }
}

/** Whole monotonic ms for `confirmedAt`, never 0 (0 is "never confirmed"). */
export function confirmationTime(): number {
  return Math.floor(performance.now()) + 1;
}

export function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
  }
  return v;
}

/** A store entry for a record. */
export function entryOf(rec: { version: string; expiresAt: number | null; tombstone: boolean; json: string }): MemoryEntry {
  return new MemoryEntry(rec.version, rec.expiresAt, rec.tombstone, rec.json);
}
