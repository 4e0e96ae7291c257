import { VERSION_LENGTH } from '../core/hlc.js';
import { deepFreeze } from './memory-store.js';

/** What a log keeps: at most `maxEntries` members, none older than `maxAgeMs` (null: no age bound). */
export interface LogLimits {
  maxEntries: number;
  maxAgeMs?: number | null;
  /** On this instance's disk (the snapshot's write-ahead file) before the append is answered: it survives a kill. */
  durable?: boolean;
}

/**
 * Most logs, and most member bytes, held in memory; beyond either the least recently used log
 * without unconfirmed appends goes first.
 */
export const MAX_LOGS_IN_MEMORY = 10_000;
export const MAX_LOG_BYTES_IN_MEMORY = 32 * 1024 * 1024;

/**
 * This instance's copy of each append log: what it appended and what it last read from Redis,
 * as sorted member strings (`<version>|<json>`, so string order is version order). It answers
 * reads while Redis cannot, and is what re-seeds a Redis that came back empty.
 */
export class LogMemory {
  private readonly logs = new Map<string, HeldLog>();
  private heldBytes = 0;

  constructor(private readonly pinned: (key: string) => boolean) {}

  get size(): number {
    return this.logs.size;
  }

  get bytes(): number {
    return this.heldBytes;
  }

  get(key: string): string[] | undefined {
    const log = this.logs.get(key);
    if (!log) return undefined;
    // Most recently used last, for eviction.
    this.logs.delete(key);
    this.logs.set(key, log);
    return log.members;
  }

  limitsOf(key: string): LogLimits | null {
    return this.logs.get(key)?.limits ?? null;
  }

  /** Union of what memory holds and `members`, bounded like Redis bounds the log. */
  merge(key: string, members: readonly string[], limits: LogLimits | null, cutoff: string | null): void {
    const log = this.logs.get(key);
    const known = limits ?? log?.limits ?? null;
    const merged = union(log?.members ?? [], members);
    this.put(key, { members: bound(merged, known, cutoff), limits: known, values: log?.values ?? new Map(), bytes: 0 });
  }

  /**
   * One member into the log, in place: a new member is almost always the newest, so this is a
   * push (and a shift past the bound), never a copy of the log. Costs the same at entry 1 and 500.
   */
  add(key: string, member: string, limits: LogLimits, cutoff: string | null): void {
    const log = this.logs.get(key);
    if (!log) return this.merge(key, [member], limits, cutoff);
    this.logs.delete(key);
    this.logs.set(key, log);
    log.limits = limits;
    const members = log.members;
    const at = insertionPoint(members, member);
    if (members[at] !== member) {
      members.splice(at, 0, member);
      this.grow(log, 2 * member.length);
    }
    while (members.length > 0 && ((cutoff !== null && members[0] < cutoff) || members.length > limits.maxEntries)) {
      this.grow(log, -2 * members.shift()!.length);
    }
    if (this.heldBytes > MAX_LOG_BYTES_IN_MEMORY) this.put(key, { ...log, bytes: 0 });
  }

  /** Memory holds exactly what Redis answered plus `pending` (appends Redis has not confirmed). */
  replace(key: string, members: readonly string[], pending: readonly string[]): void {
    const log = this.logs.get(key);
    this.put(key, { members: union(members, pending), limits: log?.limits ?? null, values: log?.values ?? new Map(), bytes: 0 });
  }

  /**
   * A member's value, parsed once while memory holds the log (deep-frozen: every reader shares it);
   * a log read is then one ZRANGE and no JSON parsing for entries seen before.
   */
  valueOf(key: string, member: string): unknown {
    const log = this.logs.get(key);
    const cached = log?.values.get(member);
    if (cached !== undefined) return cached;
    const value = deepFreeze(JSON.parse(member.slice(VERSION_LENGTH + 1)) as unknown);
    if (log) {
      // Members trimmed or replaced leave their parsed values behind: drop them now and then.
      if (log.values.size > 2 * log.members.length + 64) log.values.clear();
      log.values.set(member, value);
    }
    return value;
  }

  entries(): [string, string[], LogLimits | null][] {
    return [...this.logs].map(([k, v]) => [k, v.members, v.limits]);
  }

  /** Stores the log as the most recently used one, then evicts down to the bounds. */
  private put(key: string, log: HeldLog): void {
    this.drop(key);
    // Strings are UTF-16 in memory; the member text is what dominates.
    for (const m of log.members) log.bytes += 2 * m.length;
    this.logs.set(key, log);
    this.heldBytes += log.bytes;
    if (this.logs.size <= MAX_LOGS_IN_MEMORY && this.heldBytes <= MAX_LOG_BYTES_IN_MEMORY) return;
    for (const k of this.logs.keys()) {
      if (this.logs.size <= MAX_LOGS_IN_MEMORY && this.heldBytes <= MAX_LOG_BYTES_IN_MEMORY) return;
      if (k !== key && !this.pinned(k)) this.drop(k);
    }
  }

  private grow(log: HeldLog, bytes: number): void {
    log.bytes += bytes;
    this.heldBytes += bytes;
  }

  private drop(key: string): void {
    const log = this.logs.get(key);
    if (!log) return;
    this.heldBytes -= log.bytes;
    this.logs.delete(key);
  }
}

interface HeldLog {
  members: string[];
  limits: LogLimits | null;
  values: Map<string, unknown>;
  bytes: number;
}

/** Where `member` is or would go in sorted `members`; checks the end first (appends are newest). */
function insertionPoint(members: readonly string[], member: string): number {
  let lo = 0;
  let hi = members.length;
  if (hi === 0 || members[hi - 1] < member) return hi;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (members[mid] < member) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Sorted, duplicate-free union of two sorted member lists. */
export function union(a: readonly string[], b: readonly string[]): string[] {
  if (b.length === 0) return [...a];
  if (a.length === 0) return [...b];
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = a[i];
    const y = b[j];
    let next: string;
    if (j >= b.length || (i < a.length && x < y)) next = a[i++];
    else if (i >= a.length || y < x) next = b[j++];
    else {
      next = x;
      i++;
      j++;
    }
    if (out.length === 0 || out[out.length - 1] !== next) out.push(next);
  }
  return out;
}

/** Drops members below the age cut-off (a version prefix), then the oldest beyond the count. */
export function bound(members: string[], limits: LogLimits | null, cutoff: string | null): string[] {
  let start = 0;
  if (cutoff !== null) while (start < members.length && members[start] < cutoff) start++;
  if (limits) start = Math.max(start, members.length - limits.maxEntries);
  return start > 0 ? members.slice(start) : members;
}

/** The version a member starts with. */
export function versionOf(member: string): string {
  return member.slice(0, VERSION_LENGTH);
}
