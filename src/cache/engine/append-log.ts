import { Logger } from '@nestjs/common';
import { CacheValidationError } from '../core/cache.errors.js';
import type { ReadSource, ReadState, WriteResult } from '../core/cache.types.js';
import { formatVersion, type HybridLogicalClock } from '../core/hlc.js';
import { LogMemory, bound, union, versionOf, type LogLimits } from '../local/log-memory.js';
import type { RecoveryJournal } from '../local/recovery-journal.js';
import type { CacheGateway } from '../redis/cache-gateway.js';
import type { SnapshotLogRow } from '../local/snapshot-store.js';

export type { LogLimits } from '../local/log-memory.js';

/** Largest count bound a log may have: every read returns the whole log. */
export const MAX_LOG_ENTRIES = 100_000;
/** Members per script call on replay and re-seed (the script unpacks them onto the Lua stack). */
const LOG_BATCH = 500;

export interface LogEntry<T> {
  version: string;
  value: T;
}

export interface LogReadOptions {
  /** Default `newest-first`. */
  order?: 'newest-first' | 'oldest-first';
  /** At most this many entries (from the chosen end). */
  limit?: number;
  /** Leave out entries older than this, even if no append has trimmed them yet. */
  maxAgeMs?: number | null;
}

/**
 * `hit`/`miss`: Redis answered (or there is no Redis). `unavailable`: Redis could not be asked and
 * memory holds nothing for the log. From memory (`source: 'memory'`) the entries are what this
 * instance appended and last read, so `complete` is false.
 */
export interface LogReadResult<T> {
  state: ReadState;
  source: ReadSource;
  entries: LogEntry<T>[];
  complete: boolean;
}

export interface AppendLogStatus {
  /** Logs this instance holds a copy of, and the approximate bytes of their members. */
  held: number;
  heldBytes: number;
  /** Journaled appends written to Redis on recovery, and members written back to an emptied Redis. */
  replayed: number;
  reseeded: number;
  /** Journaled appends Redis refused for good (NOPERM, WRONGTYPE, ...): dropped from the journal, logged once. */
  quarantined: number;
}

/** @internal Holds the gateway, which the package's types do not expose. */
export interface AppendLogDeps {
  gateway: CacheGateway | null;
  hlc: HybridLogicalClock;
  journal: RecoveryJournal;
  clock: () => number;
  /** Validates a cache key and prefixes it. */
  fullKey: (key: string) => string;
  keyPrefix: string;
  /** Redis may take writes and answer reads now (available, not in fallback). */
  redisUsable: () => boolean;
  /** Redis came back empty and memory copies are not all written back yet. */
  reseeding: () => boolean;
  /** An append timed out or failed in `redis` mode: replay it soon. */
  pending: () => void;
  /** The logs changed: the snapshot file (if any) is due. */
  changed: () => void;
  /** An append the caller marked durable, on disk before it is answered (write-ahead file). */
  durable: (row: SnapshotLogRow) => void;
}

/**
 * Append-only logs (audit trails, order history, indexes) that merge instead of overwriting: a
 * sorted set per log whose members are keyed by the HLC version (append-log-script.ts). Two
 * instances appending at once both keep their entries; an append Redis did not confirm is
 * journaled and merged on replay; a Redis that came back empty is re-seeded with every copy.
 * See docs/cache.md, "Append logs".
 * @internal
 */
export class AppendLog {
  private readonly logger = new Logger('AppendLog');
  private readonly memory: LogMemory;
  private replayed = 0;
  private reseeded = 0;
  private quarantined = 0;

  constructor(private readonly deps: AppendLogDeps) {
    this.memory = new LogMemory((k) => deps.journal.hasLog(k));
  }

  status(): AppendLogStatus {
    return { held: this.memory.size, heldBytes: this.memory.bytes, replayed: this.replayed, reseeded: this.reseeded, quarantined: this.quarantined };
  }

  async append(key: string, value: unknown, limits: LogLimits): Promise<WriteResult> {
    const k = this.logKey(key);
    checkLimits(limits);
    const json = serialise(value);
    const version = this.deps.hlc.next();
    const member = `${version}|${json}`;
    this.memory.add(k, member, limits, this.cutoff(limits.maxAgeMs));
    this.deps.changed();
    if (limits.durable === true) this.deps.durable([k, limits.maxEntries, limits.maxAgeMs ?? 0, [member], []]);
    const { gateway, journal } = this.deps;
    if (!gateway) return { version, store: 'memory', journaled: false };
    if (!this.deps.redisUsable()) {
      journal.recordLog(k, version, member);
      return { version, store: 'memory', journaled: true };
    }
    try {
      await this.send(k, limits, [member]);
    } catch {
      // Failed or timed out: it may have landed; adding it again on replay is harmless (a union).
      journal.recordLog(k, version, member);
      this.deps.pending();
      return { version, store: 'memory', journaled: true };
    }
    // A read answered while this append was in flight replaced the memory copy without it; the copy
    // is what re-seeds an emptied Redis, so an acknowledged append must be in it.
    this.memory.add(k, member, limits, this.cutoff(limits.maxAgeMs));
    return { version, store: 'redis', journaled: false };
  }

  async read<T>(key: string, options: LogReadOptions = {}): Promise<LogReadResult<T>> {
    const k = this.logKey(key);
    const { gateway, journal } = this.deps;
    const cutoff = this.cutoff(options.maxAgeMs ?? this.memory.limitsOf(k)?.maxAgeMs);
    if (gateway && this.deps.redisUsable()) {
      try {
        const stored = await gateway.logs.read(k);
        const pending = journal.pendingLog(k);
        const answered = union(stored, pending);
        // An append made after reading orders after what was read, whatever this instance's clock says.
        if (stored.length > 0) this.deps.hlc.observe(versionOf(stored[stored.length - 1]));
        if (!this.deps.reseeding()) {
          this.memory.replace(k, stored, pending);
          return this.result<T>(k, answered, cutoff, options, 'redis', true);
        }
        // Re-seeding: memory may hold members the emptied Redis does not have back yet; keep them.
        this.memory.merge(k, answered, null, cutoff);
        return this.result<T>(k, this.memory.get(k) ?? answered, cutoff, options, 'redis', true);
      } catch {
        // Served from memory below.
      }
    }
    const local = this.memory.get(k);
    if (!local) return { state: gateway ? 'unavailable' : 'miss', source: 'none', entries: [], complete: !gateway };
    return this.result<T>(k, local, cutoff, options, 'memory', !gateway);
  }

  /** Appends journaled while Redis could not confirm them, merged into Redis (a union). */
  async replay(): Promise<void> {
    const { gateway, journal } = this.deps;
    for (const k of journal.logKeys()) {
      // Cluster: a master whose breaker is open keeps its logs journaled until it is back.
      if (gateway!.available && !gateway!.usableFor(k)) continue;
      const pending = journal.pendingLog(k);
      const limits = this.memory.limitsOf(k) ?? { maxEntries: MAX_LOG_ENTRIES };
      for (let i = 0; i < pending.length; i += LOG_BATCH) {
        if (!gateway!.available) throw new Error('Redis went away during replay');
        const batch = pending.slice(i, i + LOG_BATCH);
        try {
          await this.send(k, limits, batch);
          this.replayed += batch.length;
        } catch (err) {
          // A refusal that retrying cannot change must not hold the cache in `recovering` for good.
          if (!isPermanent(err)) throw err;
          if (this.quarantined === 0) this.logger.warn(`Append log replay refused by Redis (${(err as Error).message.split(' ')[0]}): ${batch.length} entries dropped from the journal; getLogStatus().quarantined counts them`);
          this.quarantined += batch.length;
        }
        journal.settleLog(k, batch.map(versionOf));
        this.deps.changed();
      }
    }
  }

  /** Redis lost its data: write back every log copy memory holds (a union with what is there now). */
  async reseed(): Promise<void> {
    const gateway = this.deps.gateway!;
    for (const [k, members, limits] of this.memory.entries()) {
      const kept = bound(members, limits, this.cutoff(limits?.maxAgeMs));
      for (let i = 0; i < kept.length; i += LOG_BATCH) {
        if (!gateway.available) throw new Error('Redis went away during re-seed');
        const batch = kept.slice(i, i + LOG_BATCH);
        await this.send(k, limits ?? { maxEntries: MAX_LOG_ENTRIES }, batch);
        this.reseeded += batch.length;
      }
    }
  }

  /** Every log copy and its unconfirmed appends, for the snapshot file. */
  snapshotRows(): SnapshotLogRow[] {
    return this.memory.entries().map(([k, members, limits]) => [k, limits?.maxEntries ?? 0, limits?.maxAgeMs ?? 0, this.deps.journal.pendingLog(k), members]);
  }

  /** Start-up from the snapshot: copies come back, unconfirmed appends are journaled again for replay. */
  load(rows: readonly SnapshotLogRow[]): number {
    let pending = 0;
    for (const [k, maxEntries, maxAgeMs, unconfirmed, members] of rows) {
      const limits = maxEntries > 0 ? { maxEntries, maxAgeMs: maxAgeMs > 0 ? maxAgeMs : null } : null;
      const all = union([...members].sort(), [...unconfirmed].sort());
      this.memory.merge(k, all, limits, this.cutoff(limits?.maxAgeMs));
      if (all.length > 0) this.deps.hlc.observe(versionOf(all[all.length - 1]));
      for (const m of [...unconfirmed].sort()) this.deps.journal.recordLog(k, versionOf(m), m);
      pending += unconfirmed.length;
    }
    return pending;
  }

  private send(k: string, limits: LogLimits, members: string[]): Promise<number> {
    return this.deps.gateway!.logs.append(k, limits.maxEntries, this.cutoff(limits.maxAgeMs), limits.maxAgeMs, members);
  }

  private result<T>(k: string, members: string[], cutoff: string | null, options: LogReadOptions, source: 'redis' | 'memory', complete: boolean): LogReadResult<T> {
    let list = bound(members, null, cutoff);
    if (options.order !== 'oldest-first') list = [...list].reverse();
    if (options.limit !== undefined) list = list.slice(0, Math.max(0, options.limit));
    const entries = list.map((m) => ({ version: versionOf(m), value: this.memory.valueOf(k, m) as T }));
    return { state: entries.length > 0 ? 'hit' : 'miss', source, entries, complete };
  }

  /** Members whose version is below this were written more than `maxAgeMs` ago. */
  private cutoff(maxAgeMs: number | null | undefined): string | null {
    if (!maxAgeMs) return null;
    return formatVersion(Math.max(0, this.deps.clock() - maxAgeMs), 0, '');
  }

  /** A separate namespace: `\x1f` cannot occur in a plain cache key, so a log never meets a value's key. */
  private logKey(key: string): string {
    this.deps.fullKey(key);
    return `${this.deps.keyPrefix}\x1flog:${key}`;
  }
}

/** Redis answered with an error about the command itself, not about its own state right now. */
function isPermanent(err: unknown): boolean {
  if (!(err instanceof Error) || err.name !== 'ReplyError') return false;
  return !/^(OOM|BUSY|LOADING|MASTERDOWN|READONLY|TRYAGAIN|CLUSTERDOWN|MOVED|ASK|NOSCRIPT)\b/.test(err.message);
}

function checkLimits(limits: LogLimits): void {
  const { maxEntries, maxAgeMs } = limits ?? {};
  if (!Number.isInteger(maxEntries) || maxEntries < 1 || maxEntries > MAX_LOG_ENTRIES) {
    throw new CacheValidationError(`log maxEntries must be an integer from 1 to ${MAX_LOG_ENTRIES}`);
  }
  if (maxAgeMs !== undefined && maxAgeMs !== null && (typeof maxAgeMs !== 'number' || !Number.isFinite(maxAgeMs) || maxAgeMs <= 0 || maxAgeMs > 2 ** 40)) {
    throw new CacheValidationError('log maxAgeMs must be a positive number of milliseconds (or null for no age bound)');
  }
}

function serialise(value: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (err) {
    throw new CacheValidationError(`log entry cannot be serialised to JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  if (json === undefined) throw new CacheValidationError(`log entry of type ${typeof value} cannot be serialised to JSON`);
  return json;
}
